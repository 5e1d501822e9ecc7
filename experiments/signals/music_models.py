"""Chapter 7's models of piano rolls: each predicts frame ``t + 1`` from frames ``≤ t`` with 88
independent Bernoulli outputs (one per key), and is scored by the negative log-likelihood per frame.

- :class:`RollModel`: a tanh RNN, GRU or LSTM (``torch.nn.RNN``/``GRU``/``LSTM``), one layer, and a
  linear read-out to 88 logits, sized to an equal parameter count (:func:`hidden_sizes`) as Chung,
  Gulcehre, Cho and Bengio (2014) sized theirs (their Table 1: 100 tanh units, 46 GRU and 36 LSTM
  units, each about 20 thousand parameters).
- Two baselines that are not networks: :class:`NoteFrequencies` (every key an independent coin with
  its training frequency, add-α smoothed) and :class:`PreviousFrameLogistic` (one logistic
  regression per key on the previous frame's 88 keys).

Every model's input at step ``t`` is frame ``t − 1`` and the first frame is predicted from an
all-silent frame, so that a chorale's whole likelihood is scored, its first frame included.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from experiments.signals.chorales import KEYS

KINDS = ("rnn", "gru", "lstm")
BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks stacked in weight_ih_l0 / weight_hh_l0
BUDGET = 20_000  # Chung et al.'s Table 1: about 20 thousand parameters for the music tasks
CHUNG_UNITS = {"rnn": 100, "gru": 46, "lstm": 36}  # their Table 1, polyphonic music
CHUNG_PARAMETERS = {"rnn": 20_100, "gru": 20_200, "lstm": 19_800}  # as printed: 20.1K, 20.2K, 19.8K
# Their Table 2, JSB Chorales: average negative log-probability (train, test), to be compared with
# the NLL per frame in nats (the convention of Boulanger-Lewandowski et al., whose data they used).
CHUNG_JSB = {"rnn": (8.82, 9.10), "gru": (6.94, 8.54), "lstm": (8.15, 8.67)}


def recurrent_parameters(kind: str, hidden: int, inputs: int = KEYS) -> int:
    """Parameters of one PyTorch recurrent layer: per block ``W_ih``, ``W_hh`` and two biases."""
    return BLOCKS[kind] * (hidden * inputs + hidden * hidden + 2 * hidden)


def model_parameters(kind: str, hidden: int, keys: int = KEYS) -> int:
    """Parameters of a :class:`RollModel`: the recurrent layer and the read-out to 88 logits."""
    return recurrent_parameters(kind, hidden, keys) + hidden * keys + keys


def hidden_for_budget(kind: str, budget: int = BUDGET, count: str = "model") -> int:
    """The hidden size whose parameter count is closest to ``budget`` (the smaller on a tie),
    counting the whole model (``"model"``) or the recurrent layer alone (``"recurrent"``)."""
    size = {"model": model_parameters, "recurrent": recurrent_parameters}[count]
    hidden = 1
    while size(kind, hidden + 1) <= budget:  # counts grow with the hidden size
        hidden += 1
    above = hidden + 1
    return above if size(kind, above) - budget < budget - size(kind, hidden) else hidden


def hidden_sizes(budget: int = BUDGET, count: str = "model") -> dict[str, int]:
    """The hidden size of each kind at ``budget`` parameters (:func:`hidden_for_budget`)."""
    return {kind: hidden_for_budget(kind, budget, count) for kind in KINDS}


class RollModel(nn.Module):
    """A recurrent layer of ``kind`` and a linear read-out: inputs ``(T, B, 88)`` → 88 logits per
    step, the logits of the next frame."""

    def __init__(self, kind: str, hidden: int, keys: int = KEYS) -> None:
        super().__init__()
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.kind = kind
        self.recurrent = layer(keys, hidden)
        self.readout = nn.Linear(hidden, keys)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | tuple | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | tuple]:
        outputs, state = self.recurrent(x, state)
        return self.readout(outputs), state


def shifted(roll: torch.Tensor) -> torch.Tensor:
    """The inputs for a roll ``(T, …, 88)``: a silent frame, then frames 0 … T − 2."""
    return torch.cat([torch.zeros_like(roll[:1]), roll[:-1]])


def frame_nll(logits: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """The negative log-likelihood of each frame, in nats, summed over the keys: for logits ``a``
    and 0/1 targets ``v``, ``−Σ_k [v_k log σ(a_k) + (1 − v_k) log(1 − σ(a_k))]``, computed as
    ``Σ_k softplus(a_k) − v_k a_k`` (the same quantity, without overflow). One value per frame:
    the shape of ``frames[..., 0]``."""
    return (F.softplus(logits) - frames * logits).sum(-1)


def probability_nll(p: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """:func:`frame_nll` for probabilities ``p`` (the baselines' form), per frame."""
    return -np.where(frames, np.log(p), np.log1p(-p)).sum(-1)


@torch.no_grad()
def sample(
    model: RollModel, primer: np.ndarray, frames: int, generator: torch.Generator
) -> np.ndarray:
    """``frames`` new frames drawn after ``primer`` ``(P, 88)`` (``P`` may be 0): at each step every
    key is an independent Bernoulli draw with the model's probability, and the drawn frame is the
    next input. Returns the new frames only, ``(frames, 88)`` bool."""
    model.eval()
    previous = torch.zeros(1, 1, KEYS)
    state = None
    if len(primer):
        x = torch.from_numpy(np.asarray(primer, dtype=np.float32))[:, None, :]
        _, state = model(shifted(x), state)
        previous = x[-1:]
    drawn = []
    for _ in range(frames):
        logits, state = model(previous, state)
        previous = torch.bernoulli(torch.sigmoid(logits), generator=generator)
        drawn.append(previous[0, 0].numpy().astype(bool))
    return np.stack(drawn) if drawn else np.zeros((0, KEYS), dtype=bool)


class NoteFrequencies:
    """Every key an independent Bernoulli variable with its training frequency, add-α smoothed:
    ``p_k = (n_k + α) / (N + 2α)`` over ``N`` training frames."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def fit(self, rolls: list[np.ndarray]) -> NoteFrequencies:
        frames = np.concatenate(rolls)
        self.p = (frames.sum(0) + self.alpha) / (len(frames) + 2 * self.alpha)
        return self

    def nll(self, roll: np.ndarray) -> np.ndarray:
        """Per frame, nats."""
        return probability_nll(np.broadcast_to(self.p, roll.shape), roll)


class PreviousFrameLogistic:
    """One L2-regularised logistic regression per key on the previous frame's 88 keys, in
    scikit-learn's form: for each key, minimise ``C · Σ_frames log-loss + ½‖w‖²`` (the intercept
    not penalised). The 88 problems share their inputs and their losses add up, so they are solved
    together, as one 88 × 88 linear layer, by L-BFGS in float64 (the tests check one key against
    ``sklearn.linear_model.LogisticRegression``). A key that is always or never on in training
    has no finite maximum: it keeps its add-½ smoothed frequency and no weights."""

    def __init__(self, C: float) -> None:
        self.C = C

    def fit(self, rolls: list[np.ndarray], iterations: int = 1000) -> PreviousFrameLogistic:
        x = np.concatenate([_previous(r) for r in rolls])
        y = np.concatenate(rolls)
        # Sufficient statistics: the loss depends on a frame only through its previous frame, so
        # each distinct previous frame counts once, with how often it occurs and how often each
        # key follows it (a fifth of the frames here, the same objective).
        distinct, inverse = np.unique(x, axis=0, return_inverse=True)
        count = torch.from_numpy(np.bincount(inverse.ravel()).astype(np.float64))[:, None]
        followed = np.zeros((len(distinct), KEYS))
        np.add.at(followed, inverse.ravel(), y)
        inputs, followed = torch.from_numpy(distinct.astype(np.float64)), torch.from_numpy(followed)
        on = y.sum(0)
        fitted = torch.from_numpy((on > 0) & (on < len(y)))
        constant = (on + 0.5) / (len(y) + 1.0)
        weights = torch.zeros(KEYS, KEYS, dtype=torch.float64, requires_grad=True)
        bias = torch.from_numpy(np.log(constant / (1 - constant))).requires_grad_(True)
        optimizer = torch.optim.LBFGS([weights, bias], max_iter=iterations, tolerance_grad=1e-9,
                                      tolerance_change=1e-12, history_size=20,
                                      line_search_fn="strong_wolfe")  # fmt: skip

        def objective() -> torch.Tensor:
            optimizer.zero_grad()
            a = inputs @ weights.T + bias
            log_loss = (count * F.softplus(a) - followed * a).sum()
            loss = self.C * log_loss + 0.5 * (weights**2).sum()
            loss.backward()
            weights.grad[~fitted], bias.grad[~fitted] = 0.0, 0.0  # constant keys stay put
            return loss

        optimizer.step(objective)
        self.weights, self.bias = weights.detach().numpy(), bias.detach().numpy()
        return self

    def logits(self, roll: np.ndarray) -> np.ndarray:
        return _previous(roll) @ self.weights.T + self.bias

    def nll(self, roll: np.ndarray) -> np.ndarray:
        """Per frame, nats."""
        a = torch.from_numpy(self.logits(roll))
        return frame_nll(a, torch.from_numpy(roll.astype(np.float64))).numpy()


def _previous(roll: np.ndarray) -> np.ndarray:
    """Each frame's previous frame (a silent one before the first)."""
    return np.concatenate([np.zeros((1, roll.shape[1]), dtype=roll.dtype), roll[:-1]])
