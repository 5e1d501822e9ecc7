"""Realistic wrong implementations of Exercise 5's PyTorch notebook, and what the tests must say.

Each mistake edits one solution cell of ``solutions/ex5_language/language_torch.ipynb`` (each
``old`` text occurs exactly once in that cell). ``loses`` lists the graded cells the mistake
makes fail; the feedback of at least one of them contains every word of ``says``. The tests of
``train_step``, ``evaluate_bpc`` and ``sample`` run a reference model, not the student's
``CharLM``, so a mistake in the model costs only its own test and the training that uses it
(``keeps``); a mistake that leaves the training good enough keeps ``test_lm_trained``. The written
answers are graded by hand and have no mistakes here.
"""

from __future__ import annotations

from .catalogue import Mistake

TORCH = "ex5_language/language_torch"

BATCHIFY, CHUNK, CHARLM = "test_batchify", "test_get_chunk", "test_charlm"
TRAIN_STEP, EVALUATE, SAMPLE = "test_train_step", "test_evaluate_bpc", "test_sample"
CLASSIFIER, TRAINED = "test_classifier", "test_lm_trained"
# The tests that run reference models only: a mistake elsewhere never reaches them.
ON_REFERENCES = (TRAIN_STEP, EVALUATE, SAMPLE, CLASSIFIER)

_LOSS = "loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))  # both flattened time-major"
_CLIP = "nn.utils.clip_grad_norm_(model.parameters(), max_norm)  # after backward: it reads .grad"
_SUMMED = 'total += F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()'
_DRAW = "p = torch.softmax(u / temperature, dim=-1)"
_PACKED = (
    "packed = nn.utils.rnn.pack_padded_sequence(\n"
    "            self.embedding(x), lengths.cpu(), enforce_sorted=False\n"
    "        )\n"
    "        _, h_n = self.gru(packed)  # (directions, B, hidden): each sequence's true end\n"
    "        return self.head(torch.cat(list(h_n), dim=-1))  # forward first, then backward"
)

MISTAKES: list[Mistake] = [
    # ------------------------------------------------------------------------ the streams
    Mistake(
        id="ex5t_streams_interleaved",
        notebook=TORCH,
        cell="batchify",
        replacements=(
            (
                "streams = ids[: n * B].reshape(B, n).T  # one stream per row of (B, n), then one "
                "per column",
                "streams = ids[: n * B].reshape(n, B)",
            ),
        ),
        loses=(BATCHIFY, TRAINED),
        says=("interleaved", "reshape to (B, n)"),
        description="reshape(n, B) fills rows, so each column holds every B-th character: "
        "the model trains on shuffled text.",
        keeps=(CHUNK, CHARLM, *ON_REFERENCES),
        named_in=BATCHIFY,
    ),
    Mistake(
        id="ex5t_targets_not_shifted",
        notebook=TORCH,
        cell="get_chunk",
        replacements=(
            (
                "return streams[i : i + L], streams[i + 1 : i + 1 + L]",
                "return streams[i : i + L], streams[i : i + L]",
            ),
        ),
        loses=(CHUNK, TRAINED),
        says=("targets are the inputs themselves",),
        description="y = x: the model learns to copy its input, not to predict the next one.",
        keeps=(BATCHIFY, CHARLM, *ON_REFERENCES),
        named_in=CHUNK,
    ),
    Mistake(
        id="ex5t_last_chunk_full_length",
        notebook=TORCH,
        cell="get_chunk",
        replacements=(("L = min(bptt, len(streams) - 1 - i)", "L = bptt"),),
        loses=(CHUNK, TRAINED),
        says=("last chunk", "no next character"),
        description="Every chunk has bptt rows: at the end of the streams x keeps one row more "
        "than y, and the training stops at the end of its first pass.",
        keeps=(BATCHIFY, CHARLM, *ON_REFERENCES),
        named_in=CHUNK,
    ),
    # ------------------------------------------------------------------------ CharLM
    Mistake(
        id="ex5t_head_on_final_state",
        notebook=TORCH,
        cell="charlm",
        replacements=(("return self.head(output), h_n", "return self.head(h_n[-1]), h_n"),),
        loses=(CHARLM, TRAINED),
        says=("applied to the final state h_n only",),
        description="A many-to-one head on a language model: one prediction per sequence.",
        keeps=(BATCHIFY, CHUNK, *ON_REFERENCES),
    ),
    Mistake(
        id="ex5t_state_not_passed_to_gru",
        notebook=TORCH,
        cell="charlm",
        replacements=(("self.gru(self.embedding(x), h)", "self.gru(self.embedding(x))"),),
        loses=(CHARLM,),
        says=("initial state h was not passed",),
        description="forward ignores h: every chunk starts from zeros, so the model never "
        "sees more than one chunk of context (it still trains, on 64 characters of context).",
        keeps=(BATCHIFY, CHUNK, *ON_REFERENCES),
    ),
    Mistake(
        id="ex5t_one_hot_into_embedding",
        notebook=TORCH,
        cell="charlm",
        replacements=(
            (
                "self.head = nn.Linear(hidden, V)",
                "self.head = nn.Linear(hidden, V)\n        self.V = V",
            ),
            ("self.gru(self.embedding(x), h)", "self.gru(self.embedding(F.one_hot(x, self.V)), h)"),
        ),
        loses=(CHARLM, TRAINED),
        says=("one-hot vectors",),
        description="The embedding is given one-hot vectors, as if it were a linear layer: it "
        "looks up one row per entry, and the GRU gets a 4-D input.",
        keeps=(BATCHIFY, CHUNK, *ON_REFERENCES),
    ),
    Mistake(
        id="ex5t_softmax_in_forward",
        notebook=TORCH,
        cell="charlm",
        replacements=(
            (
                "return self.head(output), h_n",
                "return torch.softmax(self.head(output), dim=-1), h_n",
            ),
        ),
        loses=(CHARLM, TRAINED),
        says=("went through a softmax",),
        description="forward returns probabilities, which the loss then treats as scores.",
        keeps=(BATCHIFY, CHUNK, *ON_REFERENCES),
    ),
    Mistake(
        id="ex5t_num_layers_ignored",
        notebook=TORCH,
        cell="charlm",
        replacements=(("nn.GRU(embed, hidden, num_layers)", "nn.GRU(embed, hidden)"),),
        loses=(CHARLM,),
        says=("pass num_layers on to nn.GRU",),
        description="The GRU always has one layer; the notebook's own model has one, so it "
        "still trains.",
        keeps=(TRAINED, BATCHIFY, CHUNK, *ON_REFERENCES),
    ),
    # ------------------------------------------------------------------------ train_step
    Mistake(
        id="ex5t_state_not_detached",
        notebook=TORCH,
        cell="train_step",
        replacements=(("return loss.item(), h.detach()", "return loss.item(), h"),),
        loses=(TRAIN_STEP, TRAINED),
        says=("still attached", "h_n.detach()"),
        description="The state keeps the chunk's graph: the next backward pass runs into a "
        "freed graph and PyTorch raises an error.",
        keeps=(CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
        named_in=TRAIN_STEP,
    ),
    Mistake(
        id="ex5t_clip_before_backward",
        notebook=TORCH,
        cell="train_step",
        replacements=(
            ("    loss.backward()\n    " + _CLIP, "    " + _CLIP + "\n    loss.backward()"),
        ),
        loses=(TRAIN_STEP,),
        says=("not clipped", "after loss.backward()"),
        description="clip_grad_norm_ before backward() clips the zeroed gradients: nothing.",
        keeps=(TRAINED, CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_no_zero_grad",
        notebook=TORCH,
        cell="train_step",
        replacements=(("    optimizer.zero_grad()\n", ""),),
        loses=(TRAIN_STEP, TRAINED),
        says=("zero_grad() is missing",),
        description="Gradients accumulate over all chunks.",
        keeps=(CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_flattened_in_different_orders",
        notebook=TORCH,
        cell="train_step",
        replacements=(
            (
                _LOSS,
                "loss = F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), y.reshape(-1))",
            ),
        ),
        loses=(TRAIN_STEP, TRAINED),
        says=("flattened in different orders",),
        description="The logits batch-major, the targets time-major: each score is compared "
        "with another position's character.",
        keeps=(CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_softmax_before_cross_entropy",
        notebook=TORCH,
        cell="train_step",
        replacements=(
            (
                _LOSS,
                "loss = F.cross_entropy(torch.softmax(logits, dim=-1).reshape(-1, V), "
                "y.reshape(-1))",
            ),
        ),
        loses=(TRAIN_STEP, TRAINED),
        says=("softmax is applied before F.cross_entropy",),
        description="Keras's habit (a softmax layer, then the loss): F.cross_entropy applies "
        "log-softmax again, and the gradient shrinks.",
        keeps=(CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_log_softmax_over_batch",
        notebook=TORCH,
        cell="train_step",
        replacements=(
            (
                _LOSS,
                "loss = F.nll_loss(torch.log_softmax(logits, dim=1).reshape(-1, V), y.reshape(-1))",
            ),
        ),
        loses=(TRAIN_STEP, TRAINED),
        says=("runs over the batch axis (dim=1)",),
        description="The log-softmax normalises over the B streams instead of the V characters.",
        keeps=(CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_loss_returned_as_tensor",
        notebook=TORCH,
        cell="train_step",
        replacements=(("return loss.item(), h.detach()", "return loss.detach(), h.detach()"),),
        loses=(TRAIN_STEP,),
        says=("return a Python float", "loss.item()"),
        description="The loss comes back as a 0-d tensor.",
        keeps=(TRAINED, CHARLM, EVALUATE, SAMPLE, CLASSIFIER),
    ),
    # ------------------------------------------------------------------------ evaluate_bpc
    Mistake(
        id="ex5t_bpc_mean_of_chunk_means",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(
            (_SUMMED, "total += F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).item()"),
            ("count += y.numel()", "count += 1"),
        ),
        loses=(EVALUATE,),
        says=("mean of the chunks' mean losses", "shorter"),
        description="Each chunk's mean counts once, so the short last chunk weighs too much.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_bpc_from_mean_of_exponentials",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(
            (
                _SUMMED,
                "total += math.exp(F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)).item())",
            ),
            ("count += y.numel()", "count += 1"),
            ("return total / count / math.log(2)", "return math.log2(total / count)"),
        ),
        loses=(EVALUATE,),
        says=("mean of the chunks' exponentials",),
        description="The mean of per-chunk perplexities, read back as bits.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_bpc_in_nats",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(("return total / count / math.log(2)", "return total / count"),),
        loses=(EVALUATE,),
        says=("in nats", "ln 2"),
        description="The mean cross-entropy in nats, not divided by ln 2.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_bpc_state_reset_every_chunk",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(("logits, h = model(x, h)", "logits, h = model(x)"),),
        loses=(EVALUATE,),
        says=("reset at every chunk",),
        description="Each chunk is read from the zero state: the score of a model without "
        "memory across chunks.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_bpc_in_training_mode",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(("    model.eval()\n", ""),),
        loses=(EVALUATE,),
        says=("training mode", "model.eval()"),
        description="Dropout stays active while measuring: a random score.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_bpc_mode_not_restored",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(("model.train(was_training)", "model.train()"),),
        loses=(EVALUATE,),
        says=("restore the mode it had",),
        description="The model always goes back to training mode, even when it was evaluating.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_bpc_with_graph",
        notebook=TORCH,
        cell="evaluate_bpc",
        replacements=(("    with torch.no_grad():\n", "    if True:\n"),),
        loses=(EVALUATE,),
        says=("torch.no_grad()",),
        description="The evaluation records a graph it never uses.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, SAMPLE, CLASSIFIER),
    ),
    # ------------------------------------------------------------------------ sample
    Mistake(
        id="ex5t_temperature_after_softmax",
        notebook=TORCH,
        cell="sample",
        replacements=((_DRAW, "p = torch.softmax(u, dim=-1) / temperature"),),
        loses=(SAMPLE,),
        says=("applied after the softmax",),
        description="The probabilities are divided by τ: the draw renormalises them, so every "
        "temperature samples like τ = 1.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_temperature_multiplies",
        notebook=TORCH,
        cell="sample",
        replacements=((_DRAW, "p = torch.softmax(u * temperature, dim=-1)"),),
        loses=(SAMPLE,),
        says=("multiplies the logits",),
        description="softmax(u τ): small temperatures flatten the distribution.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_sample_state_restarted",
        notebook=TORCH,
        cell="sample",
        replacements=(
            (
                "logits, h = model(torch.tensor([[next_id]], device=device), h)",
                "logits, h = model(torch.tensor([[next_id]], device=device))",
            ),
        ),
        loses=(SAMPLE,),
        says=("read from the zero state",),
        description="Each drawn character is read without the state: the model forgets the "
        "prompt and everything it wrote.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_greedy_divides_by_zero",
        notebook=TORCH,
        cell="sample",
        replacements=(
            (
                "            if temperature == 0:\n"
                "                next_id = int(u.argmax())  # greedy: the limit tau -> 0, "
                "without a draw\n"
                "            else:\n"
                "                p = torch.softmax(u / temperature, dim=-1)\n"
                "                next_id = int(torch.multinomial(p.cpu(), 1, generator=generator))",
                "            p = torch.softmax(u / temperature, dim=-1)\n"
                "            next_id = int(torch.multinomial(p.cpu(), 1, generator=generator))",
            ),
        ),
        loses=(SAMPLE,),
        says=("At τ = 0 take the most likely character",),
        description="No case for τ = 0: softmax(u / 0) is NaN and the draw fails.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, CLASSIFIER),
    ),
    Mistake(
        id="ex5t_generator_seeded_every_step",
        notebook=TORCH,
        cell="sample",
        replacements=(
            ("    generator = torch.Generator().manual_seed(seed)\n", ""),
            (_DRAW, _DRAW + "\n                generator = torch.Generator().manual_seed(seed)"),
        ),
        loses=(SAMPLE,),
        says=("seeded again at every step",),
        description="A fresh generator with the same seed at every draw: the same random "
        "number every time.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, CLASSIFIER),
    ),
    # ------------------------------------------------------------------------ the classifier
    Mistake(
        id="ex5t_classifier_state_after_padding",
        notebook=TORCH,
        cell="sequence_classifier",
        replacements=(
            (
                _PACKED,
                "_, h_n = self.gru(self.embedding(x))\n"
                "        return self.head(torch.cat(list(h_n), dim=-1))",
            ),
        ),
        loses=(CLASSIFIER,),
        says=("padded end",),
        description="The GRU reads the padded batch: h_n is each sequence's state after its "
        "padding.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, SAMPLE),
    ),
    Mistake(
        id="ex5t_classifier_sorted_not_unsorted",
        notebook=TORCH,
        cell="sequence_classifier",
        replacements=(
            (
                "packed = nn.utils.rnn.pack_padded_sequence(\n"
                "            self.embedding(x), lengths.cpu(), enforce_sorted=False\n"
                "        )",
                "lengths, order = lengths.sort(descending=True)\n"
                "        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(x[:, order]), "
                "lengths.cpu())",
            ),
        ),
        loses=(CLASSIFIER,),
        says=("order of the sorted lengths",),
        description="The batch is sorted for pack_padded_sequence and the logits come back in "
        "the sorted order.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, SAMPLE),
    ),
    Mistake(
        id="ex5t_classifier_mean_with_padding",
        notebook=TORCH,
        cell="sequence_classifier",
        replacements=(
            (
                _PACKED,
                "output, _ = self.gru(self.embedding(x))\n"
                "        return self.head(output.mean(dim=0))",
            ),
        ),
        loses=(CLASSIFIER,),
        says=("mean of the outputs over all T steps, padding included",),
        description="Mean pooling over time, the padded steps counted.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, SAMPLE),
    ),
    Mistake(
        id="ex5t_classifier_backward_gathered_in_padding",
        notebook=TORCH,
        cell="sequence_classifier",
        replacements=(
            (
                _PACKED,
                "output, _ = self.gru(self.embedding(x))\n"
                "        last = output[lengths - 1, torch.arange(x.shape[1])]  # right for one "
                "direction\n"
                "        return self.head(last)",
            ),
        ),
        loses=(CLASSIFIER,),
        says=("backward direction's state was read at step lengths[b] − 1",),
        description="Gathering each sequence's output at its length is right for one "
        "direction; the backward direction's final state is at step 0 of a run that starts at "
        "the last real character.",
        keeps=(TRAINED, CHARLM, TRAIN_STEP, EVALUATE, SAMPLE),
    ),
]
