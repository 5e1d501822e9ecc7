"""Checks of the three modules of ``solutions/ex6_seq2seq/seq2seq_torch.ipynb``: the bidirectional
``Encoder`` (Part 1), the ``AdditiveAttention`` (Part 2), the ``Decoder``'s step (Part 3), and the
three joined, whose outputs must not depend on the amount of padding (Part 4).

A probe builds the student's module, casts it to float64, loads the weights of a seeded
reference module (``torch_references.py``) into it by the names the notebook gives and runs it on
a padded batch, on the same batch with more padding, and on each source alone; the comparisons
with the reference run outside the probe, on the data it returned. The decoder's test puts a
reference attention with the same weights in place of the student's, so that a mistake in the
attention counts against the attention's test, not the decoder's too."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.compare import check_close, check_true, expect_tuple
from course_checks.ex6_seq2seq.torch_calls import call_seq2seq, describe
from course_checks.ex6_seq2seq.torch_references import (
    END,
    ReferenceAttention,
    ReferenceDecoder,
    ReferenceEncoder,
    ReferenceSeq2Seq,
    random_batch,
    source_mask,
    teacher_forced_logits,
)
from course_checks.ex6_seq2seq.torch_wrong_answers import (
    attention_variants,
    decoder_variants,
    encoder_variants,
    init_variants,
)
from course_checks.probes import attempt, outcome, run_probe

__all__ = [
    "attention_inputs",
    "check_attention",
    "check_decoder",
    "check_encoder",
    "check_padding",
    "extra_padding",
]

Shapes = Mapping[str, tuple[int, ...]]


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in module.state_dict().items()}


def _loaded(model: Any, reference: nn.Module) -> dict[str, Any]:
    """The facts about the student's ``model``, which gets ``reference``'s weights if it can."""
    facts: dict[str, Any] = {"module": isinstance(model, nn.Module), "type": describe(model)}
    if facts["module"]:
        facts["parameters"] = _shapes(model)
        if facts["parameters"] == _shapes(reference):
            model.double()
            model.load_state_dict(reference.state_dict())
            model.eval()  # a dropout the student added changes nothing here
    return facts


def _ready(facts: Mapping[str, Any], reference: nn.Module) -> bool:
    return facts.get("parameters") == _shapes(reference)


def _check_loaded(facts: Mapping[str, Any], expected: Shapes, what: str, layers: str) -> None:
    """Fail, naming the difference, unless the student's module has ``expected``'s parameters."""
    __tracebackhide__ = True
    check_true(
        facts["module"],
        f"{what} must create an nn.Module (a class that subclasses nn.Module); it made "
        f"{facts['type']}.",
    )
    got: Shapes = facts["parameters"]
    if dict(got) == dict(expected):
        return
    missing = [name for name in expected if name not in got]
    extra = [name for name in got if name not in expected]
    resized = [name for name in expected if name in got and got[name] != expected[name]]
    lines = [
        f"{what} does not have the parameters the test loads its weights into. It must hold "
        f"{layers}, under exactly these names."
    ]
    if missing:
        lines.append(f"  Missing: {', '.join(missing)}.")
    if extra:
        lines.append(f"  Not expected: {', '.join(extra)}.")
    for name in resized:
        lines.append(f"  {name} has shape {got[name]}; expected {expected[name]}.")
    if any("_reverse" in name for name in missing):
        lines.append(
            "  The GRU reads one direction only: nn.GRU(embed, hidden, bidirectional=True)."
        )
    if any(name.endswith(".bias") for name in extra) and any("W_a" in n for n in expected):
        lines.append("  The attention's layers have no bias: nn.Linear(..., bias=False).")
    if any(name.startswith("out.") for name in resized):
        lines.append(
            "  The output layer reads the new state, the context and the embedding together: "
            "nn.Linear(hidden + key + embed, V)."
        )
    if any(name.startswith("cell.") for name in resized):
        lines.append(
            "  The GRU cell reads the embedding of y_prev and the context together: "
            "nn.GRUCell(embed + key, hidden)."
        )
    check_true(False, "\n".join(lines))


def extra_padding(src: torch.Tensor, extra: int) -> torch.Tensor:
    """``src`` with ``extra`` more rows of padding (id 0)."""
    return torch.cat([src, torch.zeros(extra, src.shape[1], dtype=src.dtype)])


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), atol=1e-6, rtol=0))


def _lengths_text(lengths: torch.Tensor) -> str:
    return ", ".join(str(int(n)) for n in lengths)


# ---------------------------------------------------------------------------- the encoder

_ENCODER_LAYERS = (
    "self.embedding = nn.Embedding(V, embed, padding_idx=0) and self.gru = nn.GRU(embed, hidden, "
    "bidirectional=True)"
)


def _encoder_reference(seed: int, sizes: Mapping[str, int]) -> ReferenceEncoder:
    torch.manual_seed(seed)
    return ReferenceEncoder(sizes["V"], sizes["embed"], sizes["hidden"]).double()


def _batch(seed: int, sizes: Mapping[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    src, lengths, _ = random_batch(seed, sizes["V"], 5, sizes["S"], 2, sizes["B"])
    return src, lengths


def _probe_encoder(Encoder: Callable[..., Any], seed: int, sizes: dict[str, int]) -> dict:
    """The student's encoder with the reference's weights: on the batch, on the batch with more
    padding, and on each source alone."""
    __tracebackhide__ = True
    torch.manual_seed(seed)
    model = call_seq2seq(Encoder, sizes["V"], sizes["embed"], sizes["hidden"])
    reference = _encoder_reference(seed, sizes)
    facts = _loaded(model, reference)
    if not _ready(facts, reference):
        return facts
    src, lengths = _batch(seed, sizes)
    with torch.no_grad():
        facts["batch"] = attempt(call_seq2seq, model, src, lengths)
        facts["padded"] = attempt(call_seq2seq, model, extra_padding(src, sizes["extra"]), lengths)
        for b, n in enumerate(lengths.tolist()):  # one key each: the record nests 4 deep
            facts[f"alone {b}"] = attempt(
                call_seq2seq, model, src[:n, b : b + 1], lengths[b : b + 1]
            )
    return facts


def _annotations_and_summary(result: Any, what: str, S: int, B: int, H: int) -> tuple:
    __tracebackhide__ = True
    annotations, summary = expect_tuple(result, ("annotations", "summary"), what)
    for name, value, shape in (
        ("annotations", annotations, (S, B, 2 * H)),
        ("summary", summary, (B, 2 * H)),
    ):
        check_true(
            isinstance(value, torch.Tensor) and tuple(value.shape) == shape,
            f"{what} returned {describe(value)} as the {name}; expected shape {shape}"
            + (
                " = (S, B, 2 * hidden): both directions' outputs at every position"
                if name == "annotations"
                else " = (B, 2 * hidden): the two directions' final states, concatenated"
            )
            + ".",
        )
    return annotations, summary


def _real(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``value (S, B, ·)`` with its padded positions set to 0, so that they are not compared."""
    return torch.where(mask[..., None], value, torch.zeros_like(value))


def check_encoder(
    Encoder: Callable[..., Any],
    seed: int,
    V: int,
    embed: int,
    hidden: int,
    S: int,
    B: int,
    extra: int,
) -> float:
    """``Encoder(V, embed, hidden)`` gives the packed reference's annotations at the real
    positions and its summary ``[→h; ←h]``, on a padded batch, on the same batch with ``extra``
    more padding, and on each source alone. Returns the largest difference."""
    __tracebackhide__ = True
    sizes = {"V": V, "embed": embed, "hidden": hidden, "S": S, "B": B, "extra": extra}
    facts = run_probe(_probe_encoder, Encoder, seed, sizes)
    built = f"Encoder({V}, {embed}, {hidden})"
    reference = _encoder_reference(seed, sizes)
    _check_loaded(facts, _shapes(reference), built, _ENCODER_LAYERS)
    src, lengths = _batch(seed, sizes)
    shown = _lengths_text(lengths)
    worst = 0.0
    for key, inputs, what in (
        ("batch", src, f"a batch of {B} sources of lengths {shown}, padded to S = {S}"),
        (
            "padded",
            extra_padding(src, extra),
            f"the same batch with {extra} more padding positions (S = {S + extra})",
        ),
    ):
        call = f"{built}.forward on {what}"
        rows = inputs.shape[0]
        annotations, summary = _annotations_and_summary(outcome(facts[key]), call, rows, B, hidden)
        mask = source_mask(lengths, rows)
        with torch.no_grad():
            want_annotations, want_summary = reference(inputs, lengths)
        wrong = encoder_variants(reference, inputs, lengths)
        check_true(
            bool(torch.isfinite(annotations).all()),
            f"the annotations of {call} hold NaN or inf (at the padding, too): the attention "
            f"multiplies the padded annotations by a weight of 0, and 0 · inf is NaN.",
        )
        check_close(
            f"the annotations at the real positions of {call}",
            _real(annotations, mask),
            _real(want_annotations, mask),
            mistakes={text: _real(value, mask) for text, value in wrong["annotations"].items()},
            hint="each position's forward and backward states, [→h_j; ←h_j], the backward "
            "direction reading each source from its last real character back to its first.",
        )
        check_close(
            f"the summary of {call}",
            summary,
            want_summary,
            mistakes=wrong["summary"],
            hint="the summary is torch.cat([h_n[0], h_n[1]], dim=-1) of the packed GRU: the "
            "forward direction's state after each source's last real character, then the "
            "backward direction's after its first.",
        )
        worst = max(worst, float((summary - want_summary).abs().max()))
    for b, n in enumerate(lengths.tolist()):
        call = f"{built}.forward on source {b} alone (length {n}, no padding)"
        annotations, summary = _annotations_and_summary(
            outcome(facts[f"alone {b}"]), call, n, 1, hidden
        )
        with torch.no_grad():
            want_annotations, want_summary = reference(src[:n, b : b + 1], lengths[b : b + 1])
        check_close(f"the annotations of {call}", annotations, want_annotations)
        check_close(f"the summary of {call}", summary, want_summary)
    return worst


# --------------------------------------------------------------------------- the attention

_ATTENTION_LAYERS = (
    "self.W_a = nn.Linear(query, size, bias=False), self.U_a = nn.Linear(key, size, bias=False) "
    "and self.v_a = nn.Linear(size, 1, bias=False)"
)


def _attention_reference(seed: int, sizes: Mapping[str, int], scale: float = 1.0):
    torch.manual_seed(seed)
    reference = ReferenceAttention(sizes["query"], sizes["key"], sizes["size"]).double()
    with torch.no_grad():
        reference.v_a.weight.mul_(scale)
    return reference


def attention_inputs(seed: int, sizes: Mapping[str, int]) -> tuple[torch.Tensor, ...]:
    """``s (B, query)``, annotations ``(S, B, key)`` with random values at the padding too, the
    mask ``(S, B)`` of random lengths, and the same annotations and mask with ``extra`` more
    padded positions of random values."""
    rng = np.random.default_rng(seed + 11)
    S, B, extra = sizes["S"], sizes["B"], sizes["extra"]
    _, lengths, _ = random_batch(seed, 5, 5, S, 2, B)
    s = torch.from_numpy(rng.normal(size=(B, sizes["query"])))
    annotations = torch.from_numpy(rng.normal(size=(S + extra, B, sizes["key"])))
    return (
        s,
        annotations[:S],
        source_mask(lengths, S),
        annotations,
        source_mask(lengths, S + extra),
    )


def _probe_attention(Attention: Callable[..., Any], seed: int, sizes: dict[str, Any]) -> dict:
    """The student's attention with the reference's weights: on the batch, on the batch with
    more padding, and with v_a scaled up (scores of hundreds)."""
    __tracebackhide__ = True
    torch.manual_seed(seed)
    model = call_seq2seq(Attention, sizes["query"], sizes["key"], sizes["size"])
    reference = _attention_reference(seed, sizes)
    facts = _loaded(model, reference)
    if not _ready(facts, reference):
        return facts
    s, annotations, mask, padded, padded_mask = attention_inputs(seed, sizes)
    with torch.no_grad():
        facts["batch"] = attempt(call_seq2seq, model, s, annotations, mask)
        facts["padded"] = attempt(call_seq2seq, model, s, padded, padded_mask)
        model.load_state_dict(_attention_reference(seed, sizes, sizes["scale"]).state_dict())
        facts["large"] = attempt(call_seq2seq, model, s, annotations, mask)
    return facts


def check_attention(
    AdditiveAttention: Callable[..., Any],
    seed: int,
    query: int,
    key: int,
    size: int,
    S: int,
    B: int,
    extra: int,
    scale: float = 1e4,
) -> float:
    """``AdditiveAttention(query, key, size)`` gives the reference's context ``(B, key)`` and
    weights ``(S, B)``, exactly 0 at the padding, on a padded batch, on the same batch with
    ``extra`` more padded positions (of random annotations), and with ``v_a`` times ``scale``.
    Returns the largest difference."""
    __tracebackhide__ = True
    sizes = {"query": query, "key": key, "size": size, "S": S, "B": B, "extra": extra}
    sizes["scale"] = scale
    facts = run_probe(_probe_attention, AdditiveAttention, seed, sizes)
    built = f"AdditiveAttention({query}, {key}, {size})"
    _check_loaded(facts, _shapes(_attention_reference(seed, sizes)), built, _ATTENTION_LAYERS)
    s, annotations, mask, padded, padded_mask = attention_inputs(seed, sizes)
    shown = _lengths_text(mask.sum(0))
    worst = 0.0
    for key_, factor, inputs, keep, what in (
        (
            "batch",
            1.0,
            annotations,
            mask,
            f"a batch of {B} sources of lengths {shown}, padded to S = {S}",
        ),
        (
            "padded",
            1.0,
            padded,
            padded_mask,
            f"the same batch with {extra} more padded positions (S = {S + extra})",
        ),
        (
            "large",
            scale,
            annotations,
            mask,
            f"the first batch with v_a's weights times {scale:g}, so that the scores reach "
            f"thousands",
        ),
    ):
        call = f"{built}.forward on {what}"
        context, alpha = expect_tuple(outcome(facts[key_]), ("context", "alpha"), call)
        rows = inputs.shape[0]
        for name, value, shape in (("context", context, (B, key)), ("alpha", alpha, (rows, B))):
            check_true(
                isinstance(value, torch.Tensor),
                f"{call} returned {describe(value)} as {name}; expected a tensor of shape {shape}.",
            )
        reference = _attention_reference(seed, sizes, factor)
        with torch.no_grad():
            want_context, want_alpha = reference(s, inputs, keep)
        wrong = attention_variants(reference, s, inputs, keep)
        check_close(
            f"the weights alpha of {call}",
            alpha,
            want_alpha,
            mistakes=wrong["alpha"],
            hint="alpha = torch.softmax(scores.masked_fill(~mask, float('-inf')), dim=0) with "
            "scores = self.v_a(torch.tanh(self.W_a(s) + self.U_a(annotations))).squeeze(-1), "
            "(S, B): self.W_a(s) (B, size) broadcasts against self.U_a(annotations) (S, B, size).",
            nan_matches=True,
        )
        padding = alpha.detach()[~keep]
        if padding.numel():
            check_true(
                bool((padding == 0).all()),
                f"the weights alpha of {call} give the padded positions up to "
                f"{float(padding.abs().max()):.2g}, not exactly 0: fill their scores with "
                f"float('-inf') before the softmax.",
            )
        check_close(
            f"the context of {call}",
            context,
            want_context,
            mistakes=wrong["context"],
            hint="context = (alpha[..., None] * annotations).sum(dim=0), (B, key).",
            nan_matches=True,
        )
        worst = max(worst, float((context - want_context).abs().max()))
    return worst


# ----------------------------------------------------------------------------- the decoder

_DECODER_LAYERS = (
    "self.embedding = nn.Embedding(V, embed, padding_idx=0), self.init = nn.Linear(key, hidden), "
    "self.attention = AdditiveAttention(hidden, key, size), self.cell = nn.GRUCell(embed + key, "
    "hidden) and self.out = nn.Linear(hidden + key + embed, V)"
)


def _decoder_reference(seed: int, sizes: Mapping[str, int]) -> ReferenceDecoder:
    torch.manual_seed(seed)
    return ReferenceDecoder(
        sizes["V"], sizes["embed"], sizes["hidden"], sizes["key"], sizes["size"]
    ).double()


def _decoder_inputs(seed: int, sizes: Mapping[str, int]) -> tuple[torch.Tensor, ...]:
    """``y_prev (B,)``, ``s (B, hidden)``, annotations ``(S, B, key)``, the mask, a summary."""
    rng = np.random.default_rng(seed + 13)
    S, B = sizes["S"], sizes["B"]
    _, lengths, _ = random_batch(seed, 5, 5, S, 2, B)
    y_prev = torch.from_numpy(rng.integers(END + 1, sizes["V"], size=B))
    s = torch.from_numpy(rng.normal(scale=0.5, size=(B, sizes["hidden"])))
    annotations = torch.from_numpy(rng.normal(size=(S, B, sizes["key"])))
    summary = torch.from_numpy(rng.normal(size=(B, sizes["key"])))
    return y_prev, s, annotations, source_mask(lengths, S), summary


def _probe_decoder(Decoder: Callable[..., Any], seed: int, sizes: dict[str, int]) -> dict:
    """The student's decoder with the reference's weights and a reference attention in place of
    theirs: its first state and one step."""
    __tracebackhide__ = True
    torch.manual_seed(seed)
    model = call_seq2seq(Decoder, *(sizes[k] for k in ("V", "embed", "hidden", "key", "size")))
    reference = _decoder_reference(seed, sizes)
    facts = _loaded(model, reference)
    if not _ready(facts, reference):
        return facts
    model.attention = reference.attention  # the attention's own test judges the student's
    y_prev, s, annotations, mask, summary = _decoder_inputs(seed, sizes)
    with torch.no_grad():
        facts["init"] = attempt(lambda: call_seq2seq(model.init_state, summary))
        facts["step"] = attempt(call_seq2seq, model, y_prev, s, annotations, mask)
    return facts


def check_decoder(
    Decoder: Callable[..., Any],
    seed: int,
    V: int,
    embed: int,
    hidden: int,
    key: int,
    size: int,
    S: int,
    B: int,
) -> float:
    """``Decoder(V, embed, hidden, key, size)``: ``init_state(summary)`` and one step
    ``forward(y_prev, s, annotations, mask)`` give the reference's first state, logits ``(B, V)``,
    new state ``(B, hidden)`` and weights ``(S, B)``. Returns the largest difference."""
    __tracebackhide__ = True
    sizes = {"V": V, "embed": embed, "hidden": hidden, "key": key, "size": size, "S": S, "B": B}
    facts = run_probe(_probe_decoder, Decoder, seed, sizes)
    built = f"Decoder({V}, {embed}, {hidden}, {key}, {size})"
    reference = _decoder_reference(seed, sizes)
    _check_loaded(facts, _shapes(reference), built, _DECODER_LAYERS)
    y_prev, s, annotations, mask, summary = _decoder_inputs(seed, sizes)
    first = outcome(facts["init"])
    call = f"{built}.init_state(summary) with a summary of shape {(B, key)}"
    check_true(
        isinstance(first, torch.Tensor) and tuple(first.shape) == (B, hidden),
        f"{call} returned {describe(first)}; expected the first state, shape {(B, hidden)}.",
    )
    with torch.no_grad():
        want_first = reference.init_state(summary)
    check_close(
        f"the first state of {call}",
        first,
        want_first,
        mistakes=init_variants(reference, summary),
        hint="s_0 = torch.tanh(self.init(summary)).",
    )
    call = (
        f"{built}.forward(y_prev, s, annotations, mask) for a batch of {B} sources of lengths "
        f"{_lengths_text(mask.sum(0))}"
    )
    logits, state, alpha = expect_tuple(
        outcome(facts["step"]), ("logits", "s_new", "alpha"), f"{built}.forward"
    )
    for name, value, shape in (
        ("logits", logits, (B, V)),
        ("s_new", state, (B, hidden)),
        ("alpha", alpha, (S, B)),
    ):
        check_true(
            isinstance(value, torch.Tensor) and tuple(value.shape) == shape,
            f"{call} returned {describe(value)} as {name}; expected shape {shape}.",
        )
    with torch.no_grad():
        want_logits, want_state, want_alpha = reference(y_prev, s, annotations, mask)
    wrong = decoder_variants(reference, y_prev, s, annotations, mask)
    check_close(
        f"the weights alpha returned by {call}",
        alpha,
        want_alpha,
        hint="return the weights that self.attention(s, annotations, mask) gives, computed from "
        "the state s the step starts from.",
    )
    check_close(
        f"the new state of {call}",
        state,
        want_state,
        mistakes=wrong["state"],
        hint="context, alpha = self.attention(s, annotations, mask) from the previous state; "
        "s_new = self.cell(torch.cat([self.embedding(y_prev), context], dim=-1), s).",
    )
    check_close(
        f"the logits of {call}",
        logits,
        want_logits,
        mistakes=wrong["logits"],
        hint="logits = self.out(torch.cat([s_new, context, embedded], dim=-1)), (B, V).",
    )
    return float((logits - want_logits).abs().max())


# ---------------------------------------------------------- the three together, and the padding


def _padding_reference(seed: int, sizes: Mapping[str, int]) -> ReferenceSeq2Seq:
    torch.manual_seed(seed)
    H = sizes["hidden"]
    encoder = ReferenceEncoder(sizes["V_src"], sizes["embed"], H)
    decoder = ReferenceDecoder(sizes["V_tgt"], sizes["embed"], 2 * H, 2 * H, sizes["size"])
    return ReferenceSeq2Seq(encoder, decoder).double()


def _padding_batch(seed: int, sizes: Mapping[str, int]) -> tuple[torch.Tensor, ...]:
    return random_batch(seed, sizes["V_src"], sizes["V_tgt"], sizes["S"], sizes["T"], sizes["B"])


def _probe_padding(
    Encoder: Callable[..., Any], Decoder: Callable[..., Any], seed: int, sizes: dict[str, int]
) -> dict:
    """The student's encoder and decoder (with their own attention) joined as the notebook's
    Seq2Seq, with the reference's weights: every step's logits, teacher-forced, on the batch,
    on the batch with more padding, and on each source alone."""
    __tracebackhide__ = True
    H = sizes["hidden"]
    torch.manual_seed(seed)
    encoder = call_seq2seq(Encoder, sizes["V_src"], sizes["embed"], H)
    decoder = call_seq2seq(Decoder, sizes["V_tgt"], sizes["embed"], 2 * H, 2 * H, sizes["size"])
    reference = _padding_reference(seed, sizes)
    facts: dict[str, Any] = {"module": True, "type": ""}
    parts = (("encoder", encoder, reference.encoder), ("decoder", decoder, reference.decoder))
    for name, part, ref in parts:
        facts[name] = _loaded(part, ref)
        if not _ready(facts[name], ref):
            return facts
    model = ReferenceSeq2Seq(encoder, decoder)
    src, lengths, tgt = _padding_batch(seed, sizes)
    facts["batch"] = attempt(teacher_forced_logits, model, src, lengths, tgt)
    facts["padded"] = attempt(
        teacher_forced_logits, model, extra_padding(src, sizes["extra"]), lengths, tgt
    )
    for b, n in enumerate(lengths.tolist()):  # one key each: the record nests 4 deep
        facts[f"alone {b}"] = attempt(
            teacher_forced_logits, model, src[:n, b : b + 1], lengths[b : b + 1], tgt[:, b : b + 1]
        )
    return facts


def check_padding(
    Encoder: Callable[..., Any],
    Decoder: Callable[..., Any],
    seed: int,
    V_src: int,
    V_tgt: int,
    embed: int,
    hidden: int,
    size: int,
    S: int,
    T: int,
    B: int,
    extra: int,
) -> float:
    """The student's ``Encoder(V_src, embed, hidden)`` and ``Decoder(V_tgt, embed, 2 hidden,
    2 hidden, size)`` joined (the notebook's ``Seq2Seq``) give the reference's logits at every
    step of a teacher-forced target, the same with ``extra`` more padding, and for each source
    alone: the decoder's outputs do not depend on the padding. Returns the largest difference."""
    __tracebackhide__ = True
    sizes = {"V_src": V_src, "V_tgt": V_tgt, "embed": embed, "hidden": hidden, "size": size}
    sizes |= {"S": S, "T": T, "B": B, "extra": extra}
    facts = run_probe(_probe_padding, Encoder, Decoder, seed, sizes)
    reference = _padding_reference(seed, sizes)
    H = hidden
    for name, ref, built, layers in (
        ("encoder", reference.encoder, f"Encoder({V_src}, {embed}, {H})", _ENCODER_LAYERS),
        (
            "decoder",
            reference.decoder,
            f"Decoder({V_tgt}, {embed}, {2 * H}, {2 * H}, {size})",
            _DECODER_LAYERS,
        ),
    ):
        if name in facts:
            _check_loaded(facts[name], _shapes(ref), built, layers)
    src, lengths, tgt = _padding_batch(seed, sizes)
    shown = _lengths_text(lengths)
    model = f"Seq2Seq(Encoder(…), Decoder(…)), teacher-forced on targets of {T} steps,"
    hint = (
        "if the tests of Encoder, AdditiveAttention or Decoder fail, fix them first; the "
        "decoder's outputs must not depend on the padding: the encoder packs the batch (its "
        "annotations and summary at the real positions do not see the padding) and the attention "
        "gives the padding a weight of exactly 0."
    )
    with torch.no_grad():
        expected = teacher_forced_logits(reference, src, lengths, tgt)
    cases = (
        ("batch", f"on a batch of {B} sources of lengths {shown}, padded to S = {S}"),
        ("padded", f"on the same batch with {extra} more padding positions (S = {S + extra})"),
    )
    got = {}
    for key, what in cases:
        logits = outcome(facts[key])
        check_true(
            isinstance(logits, torch.Tensor) and tuple(logits.shape) == tuple(expected.shape),
            f"{model} {what} gave {describe(logits)} as its logits; expected shape "
            f"{tuple(expected.shape)} = (T, B, V): the test of Decoder says what to fix.",
        )
        got[key] = logits
    check_true(
        _close(got["padded"], got["batch"]),
        f"the logits of {model} change when the batch gets {extra} more padding positions "
        f"(largest change {float((got['padded'] - got['batch']).abs().max()):.3g}): the "
        f"decoder's outputs depend on the padding. {hint}",
    )
    worst = 0.0
    for key, what in cases:
        check_close(f"the logits of {model} {what}", got[key], expected, hint=hint)
        worst = max(worst, float((got[key] - expected).abs().max()))
    for b, n in enumerate(lengths.tolist()):
        check_close(
            f"the logits of {model} on source {b} alone (length {n}, no padding)",
            outcome(facts[f"alone {b}"]),
            expected[:, b : b + 1],
            hint=hint,
        )
    return worst
