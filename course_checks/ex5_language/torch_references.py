"""What Exercise 5's PyTorch notebook (``ex5_language/language_torch``) must compute.

Chapter 5's pieces around ``torch.nn.GRU``, written once, with the conventions the notebook
states: sequences are time-major, character ids ``(T, B)``; a language model returns logits
``(T, B, V)`` and its state ``h_n (num_layers, B, H)``.

- **Streams** (truncated BPTT): ``batchify(ids, B)`` is ``(n, B)`` with column ``b`` the
  contiguous piece ``ids[b n : (b + 1) n]``, ``n = len(ids) // B``; chunk ``i`` is
  ``x = streams[i : i + L]`` and ``y = streams[i + 1 : i + 1 + L]`` with
  ``L = min(bptt, n − 1 − i)``, so that the last chunk may be shorter.
- **A training step**: the mean cross-entropy over the chunk's ``T·B`` characters,
  ``zero_grad``, ``backward``, ``clip_grad_norm_``, ``step``; the state is returned detached.
- **Bits per character** of streams: the state carried from chunk to chunk, no graph, evaluation
  mode, ``Σ nats / Σ characters / ln 2``.
- **Sampling**: the prompt is read, then at each step ``p = softmax(u / τ)`` of the last
  logits ``u`` and one draw ``torch.multinomial(p, 1, generator=g)`` from one generator
  ``g = torch.Generator().manual_seed(seed)`` for the whole sample; ``τ = 0`` is the argmax,
  without a draw.
- **A classifier** of padded batches: the sequences packed with their lengths, the head on the
  final state of each direction (forward first).
- **The baseline**: an add-k character n-gram counted on the training text.

The functions take keyword switches whose defaults give the right answer; each other value is a
realistic mistake (``torch_wrong_answers.py`` names them), and
``tests/course_checks/ex5_language/test_language_torch.py`` proves the defaults right against
independent code and every switch different.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ReferenceCharLM",
    "ReferenceClassifier",
    "add_k_log_probs",
    "reference_batchify",
    "reference_bits",
    "reference_classifier",
    "reference_evaluate_bpc",
    "reference_get_chunk",
    "reference_lm",
    "reference_sample",
    "reference_train_step",
    "stream_positions",
]


def reference_batchify(ids: torch.Tensor, B: int, *, order: str = "streams") -> torch.Tensor:
    """``(n, B)``: column ``b`` is ``ids[b n : (b + 1) n]``; the last ``len(ids) % B`` dropped.

    ``order="interleaved"``: ``ids[: n B].reshape(n, B)``, each column every ``B``-th character;
    ``"drop_first"``: the first ``len(ids) % B`` characters dropped instead of the last.
    """
    n = len(ids) // B
    if order == "interleaved":
        return ids[: n * B].reshape(n, B)
    kept = ids[len(ids) - n * B :] if order == "drop_first" else ids[: n * B]
    return kept.reshape(B, n).T.contiguous()  # so that each chunk is one block of memory


def reference_get_chunk(
    streams: torch.Tensor, i: int, bptt: int, *, shift: int = 1, shorten: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of the chunk that starts at row ``i``: ``y`` is ``x`` one row later.

    ``shift=0``: the targets are the inputs; ``shorten=False``: the last chunk is not cut to
    ``n − 1 − i`` rows (its ``y`` then has one row fewer than ``x``).
    """
    length = min(bptt, len(streams) - 1 - i) if shorten else bptt
    return streams[i : i + length], streams[i + shift : i + shift + length]


class ReferenceCharLM(nn.Module):
    """Embedding → ``nn.GRU`` → linear head, with the notebook's ``CharLM`` attribute names.

    ``log`` records each forward call (its sizes, whether a state came in, the mode and whether
    autograd recorded), so that a test can tell *how* a function used the model.
    """

    def __init__(
        self, V: int, embed: int, hidden: int, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed)
        self.gru = nn.GRU(embed, hidden, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden, V)
        self.log: list[dict[str, Any]] = []

    def forward(
        self, x: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(T, B, V)`` and ``h_n (num_layers, B, H)`` from ids ``x (T, B)``."""
        self.log.append(
            {
                "T": int(x.shape[0]),
                "B": int(x.shape[1]) if x.dim() > 1 else -1,
                "state": h is not None,
                "training": self.training,
                "graph": torch.is_grad_enabled(),
            }
        )
        output, h_n = self.gru(self.embedding(x), h)
        return self.head(output), h_n


def reference_lm(
    seed: int,
    V: int,
    embed: int,
    hidden: int,
    num_layers: int = 1,
    *,
    dropout: float = 0.0,
    scale: float = 1.0,
) -> ReferenceCharLM:
    """A float64 :class:`ReferenceCharLM` initialised from ``seed`` (PyTorch's initialisation;
    the head's weights times ``scale``, for sharper next-character distributions)."""
    torch.manual_seed(seed)
    model = ReferenceCharLM(V, embed, hidden, num_layers, dropout).double()
    with torch.no_grad():
        model.head.weight.mul_(scale)
    return model


def _chunk_loss(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """The chunk's loss from logits ``(T, B, V)`` and targets ``(T, B)``; ``loss`` a mistake."""
    V = logits.shape[-1]
    targets = y.reshape(-1)
    if loss == "transposed_logits":  # (B, T) order for the logits, (T, B) for the targets
        return F.cross_entropy(logits.transpose(0, 1).reshape(-1, V), targets)
    if loss == "softmax_first":
        return F.cross_entropy(torch.softmax(logits, dim=-1).reshape(-1, V), targets)
    if loss in ("log_softmax_dim0", "log_softmax_dim1"):
        log_p = torch.log_softmax(logits, dim=int(loss[-1]))
        return F.nll_loss(log_p.reshape(-1, V), targets)
    if loss == "sum":
        return F.cross_entropy(logits.reshape(-1, V), targets, reduction="sum")
    return F.cross_entropy(logits.reshape(-1, V), targets)


def reference_train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    h: torch.Tensor | None,
    max_norm: float,
    *,
    loss: str = "mean",
    zero_grad: bool = True,
    clip: bool = True,
    use_state: bool = True,
) -> tuple[float, torch.Tensor]:
    """One step of truncated BPTT on the chunk ``(x, y)`` from the state ``h``.

    Returns the chunk's mean cross-entropy (nats, before the update) and the state to carry,
    detached. (Without the detach, the next step's backward pass would run into this chunk's
    graph, freed by this backward pass, and fail.)
    """
    logits, h_n = model(x, h if use_state else None)
    value = _chunk_loss(logits, y, loss)
    if zero_grad:
        optimizer.zero_grad()
    value.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return value.item(), h_n.detach()


def _chunks(streams: torch.Tensor, bptt: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [reference_get_chunk(streams, i, bptt) for i in range(0, len(streams) - 1, bptt)]


@torch.no_grad()
def reference_evaluate_bpc(
    model: nn.Module,
    streams: torch.Tensor,
    bptt: int,
    *,
    reduce: str = "total",
    bits: bool = True,
    carry: bool = True,
) -> float:
    """Bits per character of ``streams``, read in chunks of ``bptt`` with the state carried.

    ``reduce="chunk_means"``: the mean of the chunks' mean losses; ``"exp_mean"``: the log of the
    mean of the chunks' perplexities; ``bits=False``: nats; ``carry=False``: every chunk starts
    from the zero state. The model is read in evaluation mode and left in its mode.
    """
    was_training = model.training
    model.eval()
    h, nats, counts = None, [], []
    for x, y in _chunks(streams, bptt):
        logits, h_n = model(x, h if carry else None)
        h = h_n
        nats.append(float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                          reduction="sum")))  # fmt: skip
        counts.append(y.numel())
    model.train(was_training)
    if reduce == "chunk_means":
        mean = float(np.mean(np.array(nats) / np.array(counts)))
    elif reduce == "exp_mean":
        mean = math.log(float(np.mean(np.exp(np.array(nats) / np.array(counts)))))
    else:
        mean = sum(nats) / sum(counts)
    return mean / math.log(2) if bits else mean


def stream_positions(length: int, B: int) -> np.ndarray:
    """The positions of a text of ``length`` characters that ``B`` streams score: every
    character of a stream but its first, stream after stream."""
    n = length // B
    return (np.arange(B)[:, None] * n + np.arange(1, n)[None, :]).ravel()


def reference_bits(model: nn.Module, ids: np.ndarray, B: int = 16, bptt: int = 256) -> float:
    """The bits per character of the text ``ids`` under ``model`` (on the model's device and in
    its dtype), read as ``B`` streams: the characters of :func:`stream_positions`."""
    device = next(model.parameters()).device
    streams = reference_batchify(torch.as_tensor(ids, dtype=torch.long), B).to(device)
    return reference_evaluate_bpc(model, streams, bptt)


def add_k_log_probs(
    train: np.ndarray, text: np.ndarray, order: int, k: float, V: int
) -> np.ndarray:
    """``ln P(text[i] | text[i − order + 1 : i])`` for every ``i`` under the add-k model of
    ``order`` counted on ``train``: ``(c(h w) + k) / (c(h) + k V)``, ``c(h) = Σ_w c(h w)``.

    The first ``order − 1`` characters of ``text``, which have no whole context, get ``1 / V``.
    """

    def codes(ids: np.ndarray) -> np.ndarray:  # one integer per n-gram, base V
        out = np.zeros(len(ids) - order + 1, dtype=np.int64)
        for j in range(order):
            out = out * V + ids[j : len(ids) - order + 1 + j]
        return out

    grams, counts = np.unique(codes(np.asarray(train, dtype=np.int64)), return_counts=True)
    contexts, starts = np.unique(grams // V, return_index=True)
    totals = np.add.reduceat(counts, starts)

    def lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
        where = np.clip(np.searchsorted(table, keys), 0, len(table) - 1)
        return np.where(table[where] == keys, values[where], 0).astype(np.float64)

    wanted = codes(np.asarray(text, dtype=np.int64))
    seen = lookup(wanted, grams, counts)
    context = lookup(wanted // V, contexts, totals)
    head = np.full(order - 1, -math.log(V))
    return np.concatenate([head, np.log((seen + k) / (context + k * V))])


@torch.no_grad()
def reference_sample(
    model: nn.Module,
    prompt: list[int],
    length: int,
    temperature: float,
    seed: int,
    *,
    scaling: str = "divide",
    state: str = "carried",
    generator: str = "one",
    prompt_read: str = "whole",
) -> list[int]:
    """``length`` ids drawn after ``prompt`` with the notebook's protocol.

    Mistakes: ``scaling="after_softmax"`` (``softmax(u) / τ``, renormalised by the draw) or
    ``"multiply"`` (``softmax(u τ)``); ``state="restart"`` (each new character read from the zero
    state); ``generator="per_step"`` (a generator seeded with ``seed`` at every step);
    ``prompt_read="last"`` (only the prompt's last character read).
    """
    device = next(model.parameters()).device
    draws = torch.Generator().manual_seed(seed)
    read = prompt if prompt_read == "whole" else prompt[-1:]
    logits, h = model(torch.tensor(read, device=device)[:, None])
    out: list[int] = []
    for _ in range(length):
        u = logits[-1, 0]
        if temperature == 0:
            char = int(u.argmax())
        else:
            if scaling == "after_softmax":
                p = torch.softmax(u, dim=-1) / temperature
            elif scaling == "multiply":
                p = torch.softmax(u * temperature, dim=-1)
            else:
                p = torch.softmax(u / temperature, dim=-1)
            if generator == "per_step":
                draws = torch.Generator().manual_seed(seed)
            char = int(torch.multinomial(p.cpu(), 1, generator=draws))
        out.append(char)
        logits, h = model(torch.tensor([[char]], device=device), h if state == "carried" else None)
    return out


class ReferenceClassifier(nn.Module):
    """Embedding → ``nn.GRU`` (one or two directions) → linear head on the final state(s), with
    the notebook's ``SequenceClassifier`` attribute names; padded batches are packed."""

    def __init__(
        self, V: int, embed: int, hidden: int, classes: int, bidirectional: bool = False
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed, padding_idx=0)
        self.gru = nn.GRU(embed, hidden, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, classes)`` from ids ``x (T, B)`` padded at the end, and ``lengths``."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(x), lengths.cpu(), enforce_sorted=False
        )
        _, h_n = self.gru(packed)  # (directions, B, H): forward, then backward
        return self.head(torch.cat(list(h_n), dim=-1))


def reference_classifier(
    seed: int, V: int, embed: int, hidden: int, classes: int, bidirectional: bool
) -> ReferenceClassifier:
    """A float64 :class:`ReferenceClassifier` initialised from ``seed``."""
    torch.manual_seed(seed)
    return ReferenceClassifier(V, embed, hidden, classes, bidirectional).double()
