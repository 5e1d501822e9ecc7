"""Checks of Part 4 of ``solutions/ex3_gru_torch/gru_torch.ipynb``: the adding problem's data,
the training loop and the trained model.

The adding problem and the training loop have no PyTorch built-in; their references are
``course_checks.adding`` and ``references.reference_train``. The tests of the training loop
replay it on small float64 models against the reference, with the reference's data."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.adding import reference_adding_problem
from course_checks.compare import check_close, check_true, expect_tuple
from course_checks.ex3_gru_torch.layer import call_gru, check_no_builtin_gru_modules
from course_checks.ex3_gru_torch.references import _TinyRegressor, reference_train
from course_checks.ex3_gru_torch.wrong_answers import _TRAIN_VARIANTS
from course_checks.probes import attempt, digest, notebook_value, outcome, replaced_names, run_probe

__all__ = [
    "check_adding_problem",
    "check_adding_trained",
    "check_train",
]


def check_adding_problem(adding_problem: Callable[..., Any], n: int, T: int, seed: int) -> None:
    """Check the student's ``adding_problem(n, T, seed)``: layout, markers, targets, seeding."""
    __tracebackhide__ = True
    probed = run_probe(_probe_adding_data, adding_problem, n, T, seed)
    data = _expand_adding_data(probed)
    x, y = expect_tuple(data, ("x", "y"), "adding_problem")
    for name, value in (("x", x), ("y", y)):
        check_true(
            isinstance(value, torch.Tensor),
            f"adding_problem must return torch tensors; {name} is a {type(value).__name__}.",
        )
    check_true(
        tuple(x.shape) != (n, T, 2) or n == T,
        f"x has shape {tuple(x.shape)} = (n, T, 2), batch-first; the course's sequences are "
        f"time-major, like nn.GRU's input: x must be (T, n, 2) = {(T, n, 2)}.",
    )
    check_true(
        tuple(x.shape) == (T, n, 2),
        f"x has shape {tuple(x.shape)}; expected (T, n, 2) = {(T, n, 2)}: time-major, with "
        f"two features per step, the number and the marker.",
    )
    check_true(
        tuple(y.shape) != (T,) or n == T,
        f"y has shape {tuple(y.shape)} = (T,): the sum ran over the wrong axis (the batch). "
        f"Sum over time, axis 0, to get one target per sequence, shape (n,).",
    )
    check_true(
        tuple(y.shape) == (n,),
        f"y has shape {tuple(y.shape)}; expected (n,) = {(n,)}, one target per sequence "
        f"(not (n, 1)).",
    )
    for name, value in (("x", x), ("y", y)):
        check_true(
            value.dtype == torch.float32,
            f"{name} has dtype {value.dtype}; the training data are float32 (torch.rand's "
            f"default), like the model you train.",
        )
    numbers, markers = x[..., 0].double(), x[..., 1].double()
    check_true(
        bool(((markers == 0) | (markers == 1)).all()),
        "x[..., 1] must hold the markers, 0 or 1; it holds other values. Are the two features "
        "in the order (number, marker)?",
    )
    check_true(
        float(numbers.min()) >= 0 and float(numbers.max()) < 1,
        f"the numbers x[..., 0] lie in [{float(numbers.min()):.3g}, {float(numbers.max()):.3g}]; "
        f"they must be uniform on [0, 1): torch.rand, not torch.randn.",
    )
    spread = float(numbers.std())
    check_true(
        numbers.numel() < 1000 or (abs(float(numbers.mean()) - 0.5) < 0.05 and spread > 0.25),
        f"the numbers have mean {float(numbers.mean()):.3f} and standard deviation "
        f"{spread:.3f}; uniform numbers on [0, 1) have 0.5 and 0.289 (torch.rand).",
    )
    counts = markers.sum(dim=0)
    single = int((counts == 1).sum())
    check_true(
        single == 0,
        f"{single} of the {n} sequences have one marker instead of two: both positions were "
        f"drawn from the whole sequence and coincided. Draw the first marker in the first half, "
        f"[0, T // 2), and the second in the second half, [T // 2, T).",
    )
    check_true(
        bool((counts == 2).all()),
        f"every sequence needs exactly two markers; the counts per sequence range from "
        f"{int(counts.min())} to {int(counts.max())}.",
    )
    half = T // 2
    early, late = markers[:half].sum(dim=0), markers[half:].sum(dim=0)
    check_true(
        bool((early == 1).all() and (late == 1).all()),
        f"in {int((early != 1).sum())} of the {n} sequences the two markers are not one in each "
        f"half: draw the first from [0, T // 2) = [0, {half}) and the second from "
        f"[T // 2, T) = [{half}, {T}).",
    )
    if n >= 20 * T:  # enough sequences to see every position
        used = (markers.sum(dim=1) > 0).sum()
        check_true(
            int(used) == T,
            f"over {n} sequences the markers use only {int(used)} of the {T} positions: draw "
            f"their positions at random for each sequence (torch.randint with the generator).",
        )
    expected = (numbers * markers).sum(dim=0)
    check_close(
        "y, the targets of adding_problem",
        y.double(),
        expected,
        atol=1e-5,
        mistakes={
            "y must be the sum of the two marked numbers only; you summed all numbers": (
                numbers.sum(dim=0)
            ),
            "y must be the sum of the two marked numbers, not their mean": expected / 2,
            "y must be the sum of the marked numbers, not their product": (
                torch.where(markers == 1, numbers, torch.ones_like(numbers)).prod(dim=0)
            ),
        },
    )
    # Two more calls, compared by fingerprint: the record then holds the data only once.
    again = run_probe(_probe_digests, adding_problem, n, T, seed)
    check_true(
        again == [digest(x), digest(y)],
        "adding_problem(n, T, seed) returned different data for the same seed: draw everything "
        "from one torch.Generator seeded with `seed` (torch.Generator().manual_seed(seed)).",
    )
    other = run_probe(_probe_digests, adding_problem, n, T, seed + 1)
    check_true(
        other[0] != digest(x),
        f"adding_problem returned the same data for the seeds {seed} and {seed + 1}: the seed "
        f"is ignored. Seed the generator with it: torch.Generator().manual_seed(seed).",
    )
    torch_kept, numpy_kept = probed.get("kept", (True, True))
    check_true(
        torch_kept,
        "adding_problem changed PyTorch's global random state (torch.manual_seed, or torch.rand "
        "or torch.randint without generator=generator): the notebook asks it to leave that "
        "state alone, so that the random numbers of every other cell do not depend on how often "
        "adding_problem was called. Draw everything from its own generator, "
        "generator = torch.Generator().manual_seed(seed), passed as generator=generator.",
    )
    check_true(
        numpy_kept,
        "adding_problem changed NumPy's global random state (np.random.seed or np.random.rand): "
        "leave it alone, and draw everything from a torch.Generator seeded with `seed`.",
    )


def _probe_adding_data(adding_problem: Callable[..., Any], n: int, T: int, seed: int) -> Any:
    """What ``adding_problem(n, T, seed)`` returns, with the markers of ``x`` as uint8.

    The markers are 0 or 1: when ``x[..., 1]`` survives a round trip through uint8 bit for bit,
    it travels as uint8, which makes the record of ``x`` almost half as large. Anything else
    travels as it is. :func:`_expand_adding_data` rebuilds the same ``(x, y)``.
    """
    __tracebackhide__ = True
    before = _global_random_states()
    result = call_gru(adding_problem, n, T, seed)
    kept = {"kept": [a == b for a, b in zip(before, _global_random_states(), strict=True)]}
    x = result[0] if isinstance(result, tuple | list) and len(result) == 2 else None
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim == 3):
        return {"as_is": result, **kept}
    if x.shape[-1] != 2:
        return {"as_is": result, **kept}
    markers = x[..., 1].detach().cpu()
    small = markers.to(torch.uint8)
    if digest(small.to(markers.dtype)) != digest(markers):
        return {"as_is": result, **kept}
    kind = "tuple" if isinstance(result, tuple) else "list"
    numbers = x[..., 0].detach().cpu()
    return {"numbers": numbers, "markers": small, "y": result[1], "kind": kind, **kept}


def _global_random_states() -> tuple[str, str]:
    """Fingerprints of PyTorch's and NumPy's global random states (CPU)."""
    numpy_state = np.random.get_state()
    numpy_text = digest(np.asarray(numpy_state[1])) + str(numpy_state[2:])
    return digest(torch.random.get_rng_state()), numpy_text


def _expand_adding_data(data: Mapping[str, Any]) -> Any:
    """The ``(x, y)`` that :func:`_probe_adding_data` recorded."""
    if "as_is" in data:
        return data["as_is"]
    numbers = data["numbers"]
    x = torch.stack([numbers, data["markers"].to(numbers.dtype)], dim=-1)
    return (x, data["y"]) if data["kind"] == "tuple" else [x, data["y"]]


def _probe_digests(adding_problem: Callable[..., Any], n: int, T: int, seed: int) -> list[str]:
    """The fingerprint (``probes.digest``) of each item that ``adding_problem`` returns."""
    __tracebackhide__ = True
    result = call_gru(adding_problem, n, T, seed)
    return [digest(item) for item in (result if isinstance(result, tuple | list) else [result])]


@contextlib.contextmanager
def _reference_data(namespace: dict[str, Any]) -> Iterator[None]:
    """Make ``adding_problem`` in the notebook's namespace the reference one, for the block.

    ``train`` looks ``adding_problem`` up in the notebook's globals when it runs; replaying it on
    the reference data keeps a wrong ``adding_problem`` from failing the test of ``train`` too.
    """
    with replaced_names(namespace, {"adding_problem": reference_adding_problem}):
        yield


def _probe_train(
    train: Callable[..., Any], hidden_size: int, arguments: dict[str, Any]
) -> dict[str, Any]:
    """The losses the student's ``train`` returns, and the parameters it leaves.

    It trains a fresh :class:`_TinyRegressor` (seeded with ``arguments["seed"]``) on the
    reference data.
    """
    __tracebackhide__ = True
    torch.manual_seed(arguments["seed"])
    model = _TinyRegressor(hidden_size)
    with _reference_data(getattr(train, "__globals__", {})):
        losses = call_gru(train, model, show_progress=False, **arguments)
    parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
    return {"losses": losses, "parameters": parameters}


def check_train(
    train: Callable[..., Any],
    seed: int,
    *,
    steps: int = 4,
    T: int = 6,
    batch_size: int = 5,
    lr: float = 0.05,
    max_norm: float = 0.05,
    hidden_size: int = 3,
) -> None:
    """Replay ``train`` on a small float64 model and compare, step by step, with the reference.

    The losses it returns and the parameters it leaves must equal :func:`reference_train`'s on
    the same data; a small ``max_norm`` keeps clipping active, so that a missing clip shows.
    """
    __tracebackhide__ = True
    arguments = {"steps": steps, "T": T, "batch_size": batch_size, "lr": lr}
    arguments.update({"max_norm": max_norm, "seed": seed})
    result = run_probe(_probe_train, train, hidden_size, arguments)
    losses, trained = result["losses"], result["parameters"]
    torch.manual_seed(seed)
    initial = _TinyRegressor(hidden_size)  # the model train started from
    check_true(
        isinstance(losses, list | tuple),
        f"train must return the list of the training losses; it returned a "
        f"{type(losses).__name__}.",
    )
    check_true(
        len(losses) == steps,
        f"train(steps={steps}) returned {len(losses)} losses; it must return one per step.",
    )
    check_true(
        all(isinstance(v, float | int) and not isinstance(v, bool) for v in losses),
        f"train must return Python floats; the first loss is a {type(losses[0]).__name__}. "
        f"Append loss.item(): a tensor would also keep its whole graph in memory.",
    )
    check_true(
        any(not torch.equal(trained[name], p) for name, p in initial.named_parameters()),
        "train did not change the model's parameters: build the optimizer on "
        "model.parameters() and call optimizer.step() after loss.backward().",
    )
    expected_model = copy.deepcopy(initial)
    expected = reference_train(expected_model, **arguments)
    wrong_losses, wrong_parameters = {}, {}
    for text, switches in _TRAIN_VARIANTS.items():
        variant_model = copy.deepcopy(initial)
        wrong_losses[text] = reference_train(variant_model, **arguments, **switches)
        wrong_parameters[text] = dict(variant_model.named_parameters())
    check_close(
        f"the losses returned by train (steps={steps}, T={T}, batch_size={batch_size}, "
        f"lr={lr}, max_norm={max_norm}, seed={seed}), compared with the reference loop",
        np.asarray(losses, dtype=np.float64),
        np.asarray(expected),
        atol=1e-8,
        mistakes={text: np.asarray(value) for text, value in wrong_losses.items()},
        hint="step k must use adding_problem(batch_size, T, seed=seed + k) converted to the "
        "model's dtype and device, the loss torch.mean((model(x) - y) ** 2), Adam with "
        "learning rate lr, and clip_grad_norm_ to max_norm between backward() and step().",
    )
    for name, parameter in expected_model.named_parameters():
        check_close(
            f"the parameter {name} after train, compared with the reference loop",
            trained[name],
            parameter,
            atol=1e-8,
            mistakes={text: value[name] for text, value in wrong_parameters.items()},
        )


def _probe_trained(
    model: Any, losses: Any, T: int, seed: int, n: int, from_scratch: bool
) -> dict[str, Any]:
    """The trained model's predictions on ``n`` fresh sequences, and the losses it trained with.

    ``model`` and ``losses`` are the objects, or the names of the notebook's variables that hold
    them (as the notebooks pass them). With ``from_scratch``, the model must hold no built-in GRU.
    """
    __tracebackhide__ = True
    model = notebook_value(model) if isinstance(model, str) else model
    losses = notebook_value(losses) if isinstance(losses, str) else losses
    if from_scratch:
        check_no_builtin_gru_modules(model, "adding_model")
    facts = {"module": isinstance(model, nn.Module), "losses": losses}
    facts["recurrent"] = type(getattr(model, "recurrent", None)).__name__
    if facts["module"]:
        facts["dtypes"] = {name: str(p.dtype) for name, p in model.named_parameters()}
        x, _ = reference_adding_problem(n, T, seed)
        facts["prediction"] = attempt(_predict, model, x)
    return facts


def _predict(model: nn.Module, x: torch.Tensor) -> Any:
    """``model(x)`` on the model's dtype and device; a wrongly shaped answer only by its shape."""
    __tracebackhide__ = True
    parameter = next(model.parameters())
    with torch.no_grad():
        prediction = call_gru(model, x.to(parameter))
    if isinstance(prediction, torch.Tensor) and tuple(prediction.shape) == (x.shape[1],):
        return prediction
    return f"{type(prediction).__name__}{tuple(getattr(prediction, 'shape', ()))}"


def check_adding_trained(
    model: Any,
    losses: Any,
    steps: int,
    T: int,
    seed: int,
    *,
    margin: float = 0.1,
    from_scratch: bool = False,
) -> tuple[float, float]:
    """The trained model's test MSE on fresh data is below ``margin`` × the baseline's.

    ``model`` and ``losses`` are the trained model and the losses ``train`` returned, or (in the
    notebooks) the names of the variables that hold them, ``"adding_model"`` and
    ``"adding_losses"``: the grader's re-check has no trained model, only what the kernel
    recorded. With ``from_scratch``, the model must be an ``AddingRegressor`` around the
    student's ``GRUFromScratch``. The baseline always answers 1.0, the mean target, whose MSE is
    1/6 ≈ 0.167 for uniform numbers. Returns ``(mse, baseline)``.
    """
    __tracebackhide__ = True
    n = 2000
    facts = run_probe(_probe_trained, model, losses, T, seed, n, from_scratch)
    if from_scratch:
        check_true(
            facts["recurrent"] == "GRUFromScratch",
            "adding_model must be trained with your GRUFromScratch: re-run the training cell as "
            "given.",
        )
    check_true(
        facts["module"],
        "adding_model does not exist or is not a module: run the training cell above first.",
    )
    losses = facts["losses"]
    if losses is None:
        dtypes = facts.get("dtypes", {})
        mixed = sorted(set(dtypes.values()))
        check_true(
            len(mixed) <= 1,
            "adding_losses does not exist: the training cell above stopped with an error. "
            f"adding_model holds parameters of {len(mixed)} dtypes ("
            + "; ".join(
                f"{dtype}: " + ", ".join(n for n, d in dtypes.items() if d == dtype)
                for dtype in mixed
            )
            + "), so its layers cannot work together. GRUFromScratch(2, 32, "
            "dtype=torch.float32) must create every parameter in float32: pass dtype and device "
            "on to GRUCellFromScratch.",
        )
    check_true(
        losses is not None,
        "adding_losses does not exist: the training cell above did not run to its end. Run it "
        "and read the error it shows: it names the line and the function that failed.",
    )
    check_true(
        isinstance(losses, list | tuple) and len(losses) == steps,
        f"adding_losses must be the list of the {steps} training losses that train returned.",
    )
    # detach() first: float() of a tensor that requires grad warns on stderr, which nbgrader
    # counts as an error (losses kept as tensors are test_train's finding, not this test's).
    losses = [float(v.detach() if isinstance(v, torch.Tensor) else v) for v in losses]
    _, y = reference_adding_problem(n, T, seed)
    prediction = outcome(facts["prediction"])
    check_true(
        isinstance(prediction, torch.Tensor) and tuple(prediction.shape) == (n,),
        "the trained model must return one prediction per sequence, shape (n,).",
    )
    mse = float(torch.mean((prediction.double().cpu() - y.double()) ** 2))
    baseline = float(torch.mean((1.0 - y.double()) ** 2))
    first = float(np.mean(losses[: max(1, steps // 10)]))
    last = float(np.mean(losses[-max(1, steps // 10) :]))
    check_true(
        math.isfinite(mse) and mse < margin * baseline,
        f"After training, the test MSE on {len(y)} fresh sequences is {mse:.4f}, "
        f"{mse / baseline:.2f} × the baseline's {baseline:.4f} (always answering 1.0); it must "
        f"be below {margin:g} × baseline = {margin * baseline:.4f}. The training loss went from "
        f"{first:.4f} (first tenth of the steps) to {last:.4f} (last tenth). The training uses "
        f"your train, GRUFromScratch and adding_problem: if test_train, a test of the layer or "
        f"test_adding_problem fails, its message says what to fix. If they all pass, run the "
        f"notebook again in order from the top: the training cell trains with the functions "
        f"defined last, and its settings must stay as given.",
    )
    return mse, baseline
