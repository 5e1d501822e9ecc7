"""Chapter 6's encoder–decoders: the models, their decoding, the date and translation runs,
the Ding sentence pairs with their dictionary baseline, and BLEU."""
