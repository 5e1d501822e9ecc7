"""Realistic wrong implementations of Exercise 6's PyTorch notebook (the encoder–decoder with
attention), and what the tests must say.

Each mistake edits one solution cell of ``solutions/ex6_seq2seq/seq2seq_torch.ipynb`` (each
``old`` text occurs exactly once in that cell). ``loses`` lists the graded cells the mistake makes
fail; the feedback of at least one of them contains every word of ``says`` (of ``named_in``'s,
where given). The decoder's test runs a reference attention in place of the student's, and the
tests of the loss and the decoding run a reference model: a mistake in a module costs its own
test and ``test_padding``, which joins the three modules (and the training where it breaks it),
never the tests of the functions. The trained model is decoded by the reference decoding, so a
mistake in ``greedy_decode`` or ``beam_search`` keeps ``test_trained``. The written answers are
graded by hand and have no mistakes here.
"""

from __future__ import annotations

from .catalogue import Mistake

TORCH = "ex6_seq2seq/seq2seq_torch"

ENCODER, ATTENTION, DECODER = "test_encoder", "test_attention", "test_decoder"
PADDING, LOSS, GREEDY = "test_padding", "test_sequence_loss", "test_greedy"
BEAM, TRAINED = "test_beam_search", "test_trained"
# The tests that run reference models only: a mistake in a module never reaches them.
FUNCTIONS = (LOSS, GREEDY, BEAM)
MODULES = (ENCODER, ATTENTION, DECODER)

_PACKED = (
    "packed = nn.utils.rnn.pack_padded_sequence(\n"
    "            self.embedding(src), lengths.cpu(), enforce_sorted=False\n"
    "        )\n"
    "        output, h_n = self.gru(packed)  # h_n (2, B, hidden): each direction at its real end\n"
    "        annotations, _ = nn.utils.rnn.pad_packed_sequence(output, total_length=src.shape[0])\n"
)
_SUMMARY = "return annotations, torch.cat([h_n[0], h_n[1]], dim=-1)  # forward first"
_SCORES = "scores = self.v_a(torch.tanh(self.W_a(s) + self.U_a(annotations))).squeeze(-1)  # (S, B)"
_WEIGHTS = 'alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0)'
_CONTEXT = "return (alpha.unsqueeze(-1) * annotations).sum(dim=0), alpha"
_CELL = "s_new = self.cell(torch.cat([embedded, context], dim=-1), s)"
_OUT = "logits = self.out(torch.cat([s_new, context, embedded], dim=-1))"
_INPUTS = "inputs = torch.cat([start, tgt[:-1]])  # (T, B): the targets shifted by one"
_CROSS_ENTROPY = "return F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=PAD)"
_FINISHED = "finished.append((tokens[:-1], total / len(tokens) ** alpha))"

MISTAKES: list[Mistake] = [
    # ------------------------------------------------------------------------- the encoder
    Mistake(
        id="ex6t_encoder_unpacked",
        notebook=TORCH,
        cell="encoder",
        replacements=((_PACKED, "annotations, h_n = self.gru(self.embedding(src))\n"),),
        loses=(ENCODER, PADDING),
        says=("read the padded batch",),
        named_in=ENCODER,
        keeps=(ATTENTION, DECODER, *FUNCTIONS),
        description="The GRU reads the padding: the backward direction starts in it, and h_n is "
        "the state after it.",
    ),
    Mistake(
        id="ex6t_encoder_backward_first",
        notebook=TORCH,
        cell="encoder",
        replacements=((_SUMMARY, "return annotations, torch.cat([h_n[1], h_n[0]], dim=-1)"),),
        loses=(ENCODER, PADDING),
        says=("concatenated backward first",),
        named_in=ENCODER,
        keeps=(ATTENTION, DECODER, *FUNCTIONS),
        description="The summary [←h; →h]: a permutation the training learns around, but not "
        "the reference's layout.",
    ),
    Mistake(
        id="ex6t_encoder_summary_at_padded_end",
        notebook=TORCH,
        cell="encoder",
        replacements=((_SUMMARY, "return annotations, annotations[-1]"),),
        loses=(ENCODER, PADDING),
        says=("annotations' last row",),
        named_in=ENCODER,
        keeps=(ATTENTION, DECODER, *FUNCTIONS),
        description="The summary read at the last row of the padded annotations: zeros for every "
        "shorter source, and the backward direction after one character.",
    ),
    Mistake(
        id="ex6t_encoder_backward_state_at_the_end",
        notebook=TORCH,
        cell="encoder",
        replacements=(
            (
                _SUMMARY,
                "return annotations, annotations[lengths - 1, torch.arange(src.shape[1])]",
            ),
        ),
        loses=(ENCODER, PADDING),
        says=("position lengths[b] − 1",),
        named_in=ENCODER,
        keeps=(ATTENTION, DECODER, *FUNCTIONS),
        description="Both directions gathered at the last real position: right for the forward "
        "direction, but the backward one has read only the last character there.",
    ),
    Mistake(
        id="ex6t_encoder_sorted_not_restored",
        notebook=TORCH,
        cell="encoder",
        replacements=(
            (
                "packed = nn.utils.rnn.pack_padded_sequence(\n"
                "            self.embedding(src), lengths.cpu(), enforce_sorted=False\n"
                "        )",
                "lengths, order = lengths.sort(descending=True)\n"
                "        packed = nn.utils.rnn.pack_padded_sequence(\n"
                "            self.embedding(src[:, order]), lengths.cpu()\n"
                "        )",
            ),
        ),
        loses=(ENCODER, PADDING, TRAINED),
        says=("order of the sorted lengths",),
        named_in=ENCODER,
        keeps=(ATTENTION, DECODER, *FUNCTIONS),
        description="The batch sorted for packing and never put back: every target is paired "
        "with another source.",
    ),
    # ----------------------------------------------------------------------- the attention
    Mistake(
        id="ex6t_attention_mask_after_softmax",
        notebook=TORCH,
        cell="additive_attention",
        replacements=((_WEIGHTS, "alpha = torch.softmax(scores, dim=0) * mask"),),
        loses=(ATTENTION, PADDING),
        says=("mask is applied after the softmax",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="The padded weights zeroed after the softmax: the real ones no longer sum "
        "to 1, and how much they lose depends on the padding.",
    ),
    Mistake(
        id="ex6t_attention_without_mask",
        notebook=TORCH,
        cell="additive_attention",
        replacements=((_WEIGHTS, "alpha = torch.softmax(scores, dim=0)"),),
        loses=(ATTENTION, PADDING),
        says=("mask is not used",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="The decoder attends to the padding.",
    ),
    Mistake(
        id="ex6t_attention_zero_filled",
        notebook=TORCH,
        cell="additive_attention",
        replacements=((_WEIGHTS, "alpha = torch.softmax(scores.masked_fill(~mask, 0.0), dim=0)"),),
        loses=(ATTENTION, PADDING),
        says=("not to −inf",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="The padded scores set to 0: exp(0) still weighs.",
    ),
    Mistake(
        id="ex6t_attention_softmax_over_batch",
        notebook=TORCH,
        cell="additive_attention",
        replacements=((_WEIGHTS, _WEIGHTS.replace("dim=0", "dim=-1")),),
        loses=(ATTENTION, PADDING, TRAINED),
        says=("runs over the batch",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="softmax(dim=-1) of the (S, B) scores: each position normalised across the "
        "sources of the batch.",
    ),
    Mistake(
        id="ex6t_attention_softmax_over_last_axis",
        notebook=TORCH,
        cell="additive_attention",
        replacements=(
            (_SCORES, "scores = self.v_a(torch.tanh(self.W_a(s) + self.U_a(annotations)))"),
            (
                _WEIGHTS,
                'alpha = torch.softmax(scores.masked_fill(~mask[..., None], float("-inf")), '
                "dim=-1)\n        alpha = alpha.squeeze(-1)",
            ),
        ),
        loses=(ATTENTION, PADDING, TRAINED),
        says=("last axis of (S, B, 1) scores",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="The (S, B, 1) scores normalised over their axis of size 1: every weight is "
        "1, and the padding, −inf alone, is NaN.",
    ),
    Mistake(
        id="ex6t_attention_context_of_keys",
        notebook=TORCH,
        cell="additive_attention",
        replacements=(
            (_CONTEXT, "return (alpha.unsqueeze(-1) * self.U_a(annotations)).sum(dim=0), alpha"),
        ),
        loses=(ATTENTION, PADDING, TRAINED),
        says=("weighted sum of the keys",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="The context computed from the wrong states: the keys U_a h_j, not the "
        "annotations h_j.",
    ),
    Mistake(
        id="ex6t_attention_without_tanh",
        notebook=TORCH,
        cell="additive_attention",
        replacements=(
            (_SCORES, "scores = self.v_a(self.W_a(s) + self.U_a(annotations)).squeeze(-1)"),
        ),
        loses=(ATTENTION, PADDING, TRAINED),
        says=("the tanh is missing",),
        named_in=ATTENTION,
        keeps=(ENCODER, DECODER, *FUNCTIONS),
        description="A linear score: s W_a v_a is the same for every position, so the weights "
        "depend on the annotations alone.",
    ),
    # ------------------------------------------------------------------------- the decoder
    Mistake(
        id="ex6t_decoder_cell_input_order",
        notebook=TORCH,
        cell="decoder",
        replacements=((_CELL, "s_new = self.cell(torch.cat([context, embedded], dim=-1), s)"),),
        loses=(DECODER, PADDING),
        says=("concatenated context first",),
        named_in=DECODER,
        keeps=(ENCODER, ATTENTION, *FUNCTIONS),
        description="[c; e] instead of [e; c]: a permutation the training learns around, but not "
        "the layout of the reference's weights.",
    ),
    Mistake(
        id="ex6t_decoder_output_reads_previous_state",
        notebook=TORCH,
        cell="decoder",
        replacements=((_OUT, "logits = self.out(torch.cat([s, context, embedded], dim=-1))"),),
        loses=(DECODER, PADDING),
        says=("reads the previous state s",),
        named_in=DECODER,
        keeps=(ENCODER, ATTENTION, *FUNCTIONS),
        description="The output layer reads s_{t−1}: the GRU cell's step never reaches the "
        "logits of its own step.",
    ),
    Mistake(
        id="ex6t_decoder_init_without_tanh",
        notebook=TORCH,
        cell="decoder",
        replacements=(("return torch.tanh(self.init(summary))", "return self.init(summary)"),),
        loses=(DECODER, PADDING),
        says=("missing its tanh",),
        named_in=DECODER,
        keeps=(ENCODER, ATTENTION, *FUNCTIONS),
        description="s_0 = summary W_s + b_s, not squashed into the GRU's range.",
    ),
    Mistake(
        id="ex6t_decoder_softmax_in_forward",
        notebook=TORCH,
        cell="decoder",
        replacements=((_OUT, _OUT + "\n        logits = torch.softmax(logits, dim=-1)"),),
        loses=(DECODER, PADDING, TRAINED),
        says=("went through a softmax",),
        named_in=DECODER,
        keeps=(ENCODER, ATTENTION, *FUNCTIONS),
        description="The step returns probabilities, which the loss then treats as scores.",
    ),
    # --------------------------------------------------------------------- teacher forcing
    Mistake(
        id="ex6t_loss_fed_own_outputs",
        notebook=TORCH,
        cell="sequence_loss",
        replacements=(
            (
                "logits, s, _ = model.step(inputs[t], s, annotations, mask)\n"
                "        steps.append(logits)",
                "logits, s, _ = model.step(inputs[t] if t == 0 else y, s, annotations, mask)\n"
                "        steps.append(logits)\n"
                "        y = logits.argmax(dim=-1)",
            ),
        ),
        loses=(LOSS,),
        says=("fed its own predictions",),
        named_in=LOSS,
        keeps=(*MODULES, PADDING, GREEDY, BEAM),
        description="Free-running training: the decoder reads its own argmax where teacher "
        "forcing was asked (on dates the model still learns, once its argmax is mostly right).",
    ),
    Mistake(
        id="ex6t_loss_without_start_token",
        notebook=TORCH,
        cell="sequence_loss",
        replacements=((_INPUTS, "inputs = tgt"),),
        loses=(LOSS, TRAINED),
        says=("the targets themselves",),
        named_in=LOSS,
        keeps=(*MODULES, PADDING, GREEDY, BEAM),
        description="Off by one: the decoder reads tgt[t] and must predict tgt[t], so it learns "
        "to copy its input.",
    ),
    Mistake(
        id="ex6t_loss_targets_shifted",
        notebook=TORCH,
        cell="sequence_loss",
        replacements=(
            (
                _CROSS_ENTROPY,
                "return F.cross_entropy(logits.reshape(-1, V), inputs.reshape(-1), "
                "ignore_index=PAD)",
            ),
        ),
        loses=(LOSS, TRAINED),
        says=("one step behind",),
        named_in=LOSS,
        keeps=(*MODULES, PADDING, GREEDY, BEAM),
        description="Off by one the other way: the targets are the inputs, START + tgt[:-1].",
    ),
    Mistake(
        id="ex6t_loss_padding_counted",
        notebook=TORCH,
        cell="sequence_loss",
        replacements=(
            (_CROSS_ENTROPY, "return F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))"),
        ),
        loses=(LOSS,),
        says=("padding is counted", "ignore_index=0"),
        named_in=LOSS,
        keeps=(*MODULES, PADDING, GREEDY, BEAM),
        description="No ignore_index: the model is also trained to write padding after the end "
        "token, which dilutes the loss of the real tokens.",
    ),
    # ---------------------------------------------------------------------------- decoding
    Mistake(
        id="ex6t_greedy_fed_start_token",
        notebook=TORCH,
        cell="greedy_decode",
        replacements=(
            (
                "y = logits.argmax(dim=-1)  # its own output is the next input\n"
                "            steps.append(y)\n"
                "            done |= y == END",
                "steps.append(logits.argmax(dim=-1))\n            done |= steps[-1] == END",
            ),
        ),
        loses=(GREEDY,),
        says=("start token at every step",),
        keeps=(*MODULES, PADDING, LOSS, BEAM, TRAINED),
        description="The decoder never reads its own output: every step is fed START.",
    ),
    Mistake(
        id="ex6t_greedy_stops_at_first_end",
        notebook=TORCH,
        cell="greedy_decode",
        replacements=(("if bool(done.all()):", "if bool(done.any()):"),),
        loses=(GREEDY,),
        says=("as soon as one source has emitted the end token",),
        keeps=(*MODULES, PADDING, LOSS, BEAM, TRAINED),
        description="The batch stops when its first source ends, cutting the others short.",
    ),
    Mistake(
        id="ex6t_greedy_not_cut_at_end",
        notebook=TORCH,
        cell="greedy_decode",
        replacements=(
            (
                "return [row[: row.index(END)] if END in row else row for row in rows]",
                "return rows",
            ),
        ),
        loses=(GREEDY,),
        says=("not cut at the end token",),
        keeps=(*MODULES, PADDING, LOSS, BEAM, TRAINED),
        description="The outputs keep the end token and whatever the batch computed after it.",
    ),
    Mistake(
        id="ex6t_beam_summed_probabilities",
        notebook=TORCH,
        cell="beam_search",
        replacements=(
            (
                "log_p = torch.log_softmax(logits, dim=-1).tolist()",
                "log_p = torch.softmax(logits, dim=-1).tolist()",
            ),
        ),
        loses=(BEAM,),
        says=("probabilities were summed",),
        keeps=(*MODULES, PADDING, LOSS, GREEDY, TRAINED),
        description="The hypotheses' scores add probabilities instead of log-probabilities.",
    ),
    Mistake(
        id="ex6t_beam_multiplied_probabilities",
        notebook=TORCH,
        cell="beam_search",
        replacements=(
            ("beam = [([], 0.0)]", "beam = [([], 1.0)]"),
            (
                "log_p = torch.log_softmax(logits, dim=-1).tolist()",
                "log_p = torch.softmax(logits, dim=-1).tolist()",
            ),
            ("(score + log_p[i][v], i, v)", "(score * log_p[i][v], i, v)"),
        ),
        loses=(BEAM,),
        says=("multiplied",),
        keeps=(*MODULES, PADDING, LOSS, GREEDY, TRAINED),
        description="The probabilities multiplied, and that product divided by L ** alpha.",
    ),
    Mistake(
        id="ex6t_beam_without_length_normalisation",
        notebook=TORCH,
        cell="beam_search",
        replacements=(
            (_FINISHED, "finished.append((tokens[:-1], total))"),
            (
                "finished += [(tokens, total / len(tokens) ** alpha) for tokens, total in beam]",
                "finished += [(tokens, total) for tokens, total in beam]",
            ),
        ),
        loses=(BEAM,),
        says=("without length normalisation",),
        keeps=(*MODULES, PADDING, LOSS, GREEDY, TRAINED),
        description="alpha ignored: the raw sum favours short outputs.",
    ),
    Mistake(
        id="ex6t_beam_length_without_end_token",
        notebook=TORCH,
        cell="beam_search",
        replacements=(
            (_FINISHED, "finished.append((tokens[:-1], total / len(tokens[:-1]) ** alpha))"),
        ),
        loses=(BEAM,),
        says=("failed", "len(tokens[:-1]) ** alpha"),
        keeps=(*MODULES, PADDING, LOSS, GREEDY, TRAINED),
        description="L without the end token: the empty output, [END], divides by 0 ** alpha.",
    ),
    Mistake(
        id="ex6t_beam_width_ignored",
        notebook=TORCH,
        cell="beam_search",
        replacements=(("extensions[:beam_width]", "extensions[:1]"),),
        loses=(BEAM,),
        says=("A beam this wide keeps every hypothesis",),
        keeps=(*MODULES, PADDING, LOSS, GREEDY, TRAINED),
        description="One hypothesis kept whatever the width: greedy decoding in disguise.",
    ),
]
