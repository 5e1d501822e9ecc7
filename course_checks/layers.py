"""Checks shared by the PyTorch exercises' recurrent layers, configured per cell type.

:class:`RecurrentLayerChecks` is the one implementation of the tests every from-scratch layer
gets against its ``torch.nn`` twin (a run from a given state, a run from no state, the move to a
device, autograd through time); each exercise subclasses it for its cell type, as Dive into Deep
Learning's ``GRU(d2l.RNN)`` does: ``RNNChecks`` (Exercise 1), ``GRUChecks`` (Exercise 3),
``LSTMChecks`` (Exercise 4) say how their layer is built, holds its weights, is called and is
judged, and name its states.

A :class:`StackedLayout` says how PyTorch stores one cell type's parameters (the gates stacked
along the first axis of ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, with a ``_l0``
suffix in a layer) and how the checks name them; Exercise 3 configures it for the GRU cell
(``r, z, n``) and Exercise 4 for the LSTM layer (``i, f, g, o``). The checks here run on the data a
probe returned (``course_checks.probes``), so the grader's re-check runs them again.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from course_checks.cases import drawn
from course_checks.compare import check_close, check_true, check_uniform_spread
from course_checks.guards import BuiltinGuard
from course_checks.layouts import state_cut_message
from course_checks.probes import attempt, backward, outcome, recorded_gradients, run_probe

__all__ = [
    "RecurrentLayerChecks",
    "StackedLayout",
    "check_gradients_like",
    "check_step_gradients",
]

_COUNT = {3: "three", 4: "four"}
_STEMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class StackedLayout:
    """PyTorch's stacked parameters of one cell type, and the words the checks use for them.

    ``reference`` is the module the dtype check names (``nn.GRU``), ``init_like`` the one whose
    initialisation is expected, ``names_of`` whose parameter names are meant; ``verb`` says what
    the student does with the parameters ("store", "register"); ``exactly`` prefixes the list of
    names an extra parameter is told about; with ``loads``, the message on a plain tensor also
    says that ``load_state_dict`` would not fill it.
    """

    gates: tuple[str, ...]
    reference: str
    init_like: str
    names_of: str
    suffix: str = ""
    verb: str = "store"
    exactly: str = ""
    loads: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"{stem}{self.suffix}" for stem in _STEMS)

    def shapes(self, D: int, H: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """Each parameter's shape, and the shape in letters (``(3H, D)``)."""
        n = len(self.gates)
        ih, hh, b_ih, b_hh = self.names
        return {
            ih: ((n * H, D), f"({n}H, D)"),
            hh: ((n * H, H), f"({n}H, H)"),
            b_ih: ((n * H,), f"({n}H,)"),
            b_hh: ((n * H,), f"({n}H,)"),
        }

    def no_tensor_message(self, name: str, what: str) -> str:
        attributes = ", ".join(f"self.{n}" for n in self.names[:-1])
        return (
            f"{what} has no tensor attribute {name}: {self.verb} the parameters as {attributes} "
            f"and self.{self.names[-1]} ({self.names_of})."
        )

    def check_facts(
        self, facts: Mapping[str, Any], D: int, H: int, what: str, *, initialised: bool
    ) -> None:
        """The facts a probe collected (``probes.parameter_facts``): exactly these parameters,
        registered, shaped and float64, and with ``initialised``, drawn like ``init_like``."""
        __tracebackhide__ = True
        shapes = self.shapes(D, H)
        blocks = f"the {_COUNT[len(self.gates)]} blocks {', '.join(self.gates)}"
        uses = "an optimizer would not train it"
        uses += ", load_state_dict would not fill it and" if self.loads else " and"
        for name, (shape, letters) in shapes.items():
            fact = facts[name]
            check_true(fact["tensor"], self.no_tensor_message(name, what))
            check_true(
                fact["registered"],
                f"self.{name} is a plain {fact['type']}, not an nn.Parameter, so the module does "
                f"not register it: model.parameters() leaves it out, {uses} model.to(device) "
                f"would not move it. Wrap it: self.{name} = nn.Parameter(...).",
            )
            got = tuple(fact["shape"])
            transposed = len(shape) == 2 and got == shape[::-1]
            check_true(
                got == shape,
                f"self.{name} has shape {got}, expected {shape}, that is {letters} with D={D}, "
                f"H={H}: PyTorch's layout, {blocks} stacked along the first axis."
                + (" Yours is transposed." if transposed else ""),
            )
            check_true(
                fact["dtype"] == str(torch.float64),
                f"self.{name} has dtype {fact['dtype']}; create the parameters with the `dtype` "
                f"argument (float64 by default, dtype=dtype): float32 is too imprecise for the "
                f"checks, which match torch.{self.reference} to 1e-6.",
            )
        extra = sorted(set(facts["registered"]) - set(shapes))
        names = ", ".join(self.names[:-1]) + f" and {self.names[-1]}"
        check_true(
            not extra,
            f"{what} has extra parameters {extra}; it needs exactly {self.exactly}{names}.",
        )
        if not initialised:
            return
        bound = 1.0 / math.sqrt(H)
        for name in shapes:
            check_uniform_spread(name, facts[name]["spread"], bound, like=self.init_like)


def check_step_gradients(
    grads: Mapping[str, Any],
    expected: Mapping[str, Any],
    *,
    user: str,
    loss: str,
    through: str,
) -> None:
    """The step tests' gradients: each one the student's step got (``grads``, from a probe) exists
    and equals the reference's (``expected``, by name, in order).

    ``user`` says what must use the inputs (``"rnn_step"``), ``loss`` is the scalar that was
    differentiated and ``through`` how the student's gradients were computed, as the messages say.
    """
    __tracebackhide__ = True
    for name, value in expected.items():
        check_true(
            grads[name] is not None,
            f"{name}.grad is None after backward(): {user} must use {name} through torch "
            f"operations (no .numpy(), .detach() or .data).",
        )
        check_close(
            f"the gradient of {loss} with respect to {name} ({through})",
            grads[name],
            value,
            kind="torch",
        )


def check_gradients_like(
    grads: Mapping[str, Any],
    theirs: Mapping[str, torch.Tensor],
    truncated: Mapping[str, Mapping[str, Any]],
    *,
    what: str,
    reference: str,
    prefix: str,
    states: tuple[str, ...],
    case: str,
) -> None:
    """Each gradient the student's layer got (``grads``, from a probe) equals the reference's
    (``theirs``: tensors after ``backward``), in order; ``truncated`` maps a mistake's words to
    the gradients it gives. ``states`` (``h0``, ``c0``) and the input ``x`` are named as they are,
    parameters as ``prefix + name``."""
    __tracebackhide__ = True
    for name, tensor in theirs.items():
        label = name if name in ("x", *states) else f"{prefix}{name}"
        check_true(
            grads[name] is not None,
            state_cut_message(name, what)
            if name in states
            else f"{label}.grad is None after loss.backward(): no gradient reached it. "
            "Parameters must be nn.Parameter, used through torch operations without "
            ".detach(), .data or .numpy().",
        )
        check_close(
            f"{label}.grad ({case}), compared with {reference}'s",
            grads[name],
            tensor.grad,
            kind="torch",
            mistakes={text: grads_of[name] for text, grads_of in truncated.items()},
        )


class RecurrentLayerChecks:
    """The tests of a from-scratch recurrent layer against its ``torch.nn`` twin, as a template.

    A subclass configures the words (the class attributes) and says, in the methods that raise
    ``NotImplementedError`` here, how its cell type's layer is drawn, built, called and judged.
    Every test splits into a probe, which runs the student's layer and returns data, and the
    comparisons after it (``course_checks.probes``). The layer's states are ``states`` (``h0``,
    or ``h0`` and ``c0``), passed as one tensor or as a tuple, each with nn's leading num_layers
    axis ``(1, B, H)``; it returns ``(output, final)`` where ``final`` is ``h_n`` or
    ``(h_n, c_n)``.
    """

    name: ClassVar[str]  # the student's class: "GRUFromScratch"
    reference: ClassVar[str]  # its twin, as the messages name it: "nn.GRU"
    guard: ClassVar[BuiltinGuard]  # the built-in modules the hidden tests block
    layout: ClassVar[StackedLayout | None] = None  # the parameters' names (gradient tests)
    states: ClassVar[tuple[str, ...]] = ("h0",)
    finals: ClassVar[str] = "h_n"  # the final states, as a mistake's words name them
    no_state: ClassVar[str] = "h0=None"  # a run without a state, as the messages name it
    prefix: ClassVar[str] = "model."  # how the gradient messages name the parameters
    detached: ClassVar[str] = ""  # the words for a state detached between steps
    default_state_names_the_case: ClassVar[bool] = True
    gradients_name_the_case: ClassVar[bool] = True

    # ------------------------------------------------------------ what a cell type says

    # Functions, set as ``staticmethod``s: ``draw(seed, T, B, D, H)`` makes a random float64 case
    # (``x``, the states named like :attr:`states`, ``params``, ``g_out`` and the :attr:`upstream`
    # gradients of the final states); ``run_layer(model, x, state)`` calls the student's layer,
    # ``state`` None for no state; ``reference_layer(params)`` and ``reference_cell(params)``
    # build the ``torch.nn`` twins holding ``params``.
    draw: ClassVar[Callable[..., Any]]
    run_layer: ClassVar[Callable[..., Any]]
    reference_layer: ClassVar[Callable[..., Any]]
    reference_cell: ClassVar[Callable[..., Any]]
    upstream: ClassVar[tuple[str, ...]] = ("g_n",)

    def case(self, seed: int, T: int, B: int, D: int, H: int) -> Any:
        """A random case drawn from ``seed`` (:attr:`draw`)."""
        return self.draw(seed, T, B, D, H)

    def initial_state(self, case: Any) -> tuple[np.ndarray, ...]:
        """The case's states, without the num_layers axis: ``(h0,)`` or ``(h0, c0)``."""
        return tuple(getattr(case, name) for name in self.states)

    def final_upstream(self, case: Any) -> tuple[np.ndarray, ...]:
        """The upstream gradients of the final states in the gradient tests' loss."""
        return tuple(getattr(case, name) for name in self.upstream)

    def new_model(self, module_class: Callable[..., Any], case: Any, guarded: bool) -> Any:
        """``module_class(D, H)`` holding the case's weights (built under the guard if asked)."""
        raise NotImplementedError

    def check_outputs(
        self,
        what: str,
        result: Any,
        case: Any,
        state: tuple[np.ndarray, ...],
        mistakes: Any = None,
    ) -> float:
        """Compare what the layer returned, started from ``state``, with the reference's."""
        raise NotImplementedError

    def given_state_mistakes(self, case: Any) -> Any:
        """Known wrong answers of a run from no state that started from the case's state."""
        return None

    def student_parameters(self, model: Any) -> dict[str, Any]:
        """The student's parameters, by the names of :attr:`layout` (gradient tests)."""
        return {name: getattr(model, name) for name in self.layout.names}

    def step(self, cell: Any, x_t: torch.Tensor, state: tuple) -> tuple[Any, tuple]:
        """One step of the reference cell: the output and the new state, a tuple."""
        raise NotImplementedError

    def check_construction(self, module_class: Callable[..., Any], D: int, H: int) -> None:
        """What :meth:`check_module` asks of the constructor before the run (nothing here)."""

    def check_moved(self, on: Mapping[str, str], device: str) -> None:
        """Every parameter is on ``device`` after ``model.to(device)``."""
        __tracebackhide__ = True
        kind = torch.device(device).type
        check_true(
            bool(on) and all(value == kind for value in on.values()),
            f"after model.to({device!r}) the parameters are on {on}.",
        )

    def devices_message(self, device: str, devices: list[str]) -> str:
        """The failure when forward on ``device`` returned tensors elsewhere."""
        on = " and ".join(devices)
        return (
            f"for an input on {device} forward returned tensors on {on}: create new tensors "
            f"with device=x.device."
        )

    # ---------------------------------------------------------------------- the tests

    def check_module(
        self,
        module_class: Callable[..., Any],
        seed: int,
        T: int,
        B: int,
        D: int,
        H: int,
        *,
        guarded: bool = False,
    ) -> float:
        """``module_class(D, H)`` holding a random case's weights equals the reference, run
        from the case's state; with ``guarded``, under the guard. Returns the max difference."""
        __tracebackhide__ = True
        case = self.case(seed, T, B, D, H)
        self.check_construction(module_class, D, H)
        result = run_probe(self._probe_run, module_class, seed, (T, B, D, H), True, guarded)
        what = f"{self.name} ({case.describe()})"
        return self.check_outputs(what, result, case, self.initial_state(case))

    def check_default_state(
        self, module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
    ) -> float:
        """``model(x)`` without a state starts from zeros of ``x``'s dtype and device."""
        __tracebackhide__ = True
        case = self.case(seed, T, B, D, H)
        result = run_probe(self._probe_run, module_class, seed, (T, B, D, H), False, False)
        what = f"{self.name} with {self.no_state}"
        if self.default_state_names_the_case:
            what += f" ({case.describe()})"
        zeros = tuple(np.zeros((B, H)) for _ in self.states)
        return self.check_outputs(what, result, case, zeros, self.given_state_mistakes(case))

    def check_device(
        self,
        module_class: Callable[..., Any],
        device: str,
        seed: int,
        T: int,
        B: int,
        D: int,
        H: int,
    ) -> float:
        """``model.to(device)`` moves the parameters; forward on ``device`` returns tensors
        there."""
        __tracebackhide__ = True
        case = self.case(seed, T, B, D, H)
        result = run_probe(self._probe_device, module_class, device, seed, T, B, D, H)
        self.check_moved(result["parameters"], device)
        zeros = tuple(np.zeros((B, H)) for _ in self.states)
        difference = self.check_outputs(f"{self.name} on {device}", outcome(result), case, zeros)
        kind, devices = torch.device(device).type, result["devices"]
        check_true(
            all(torch.device(d).type == kind for d in devices),
            self.devices_message(device, devices),
        )
        return difference

    def check_gradients(
        self,
        module_class: Callable[..., Any],
        case: Any = None,
        *,
        seed: int | None = None,
        T: int | None = None,
        B: int | None = None,
        D: int | None = None,
        H: int | None = None,
    ) -> None:
        """Autograd through the layer equals autograd through the reference (same weights).

        The loss is ``sum(g_out ⊙ output)`` plus, for each final state, the sum of its upstream
        gradient times it; the gradients with respect to the parameters, ``x`` and the initial
        states are compared. A state detached between steps is named as such.
        """
        __tracebackhide__ = True
        case = drawn(case, self.case, seed, (T, B, D, H))
        probed = run_probe(self._probe_gradients, module_class, case)
        what = f"{self.name} ({case.describe()})" if self.gradients_name_the_case else self.name
        self.check_outputs(what, probed["result"], case, self.initial_state(case))
        grads = recorded_gradients(
            probed["backward"],
            f"The outputs of {self.name} do not require grad, so no gradient can flow back to "
            "the parameters: use them and the inputs through torch operations only (no .numpy(), "
            ".detach() or .data).",
        )
        layer = self.reference_layer(case.params)
        x, states = self._leaves(case)
        self._loss(layer(x, self._pack(states)), case).backward()
        theirs = {name: getattr(layer, f"{stem}_l0") for stem, name in self._names()}
        theirs.update({"x": x, **dict(zip(self.states, states, strict=True))})
        truncated = {
            self.detached: self._truncated_gradients(case, finals_detached=False),
            f"{self.detached} ({self.finals} too)": self._truncated_gradients(
                case, finals_detached=True
            ),
        }
        check_gradients_like(
            grads,
            theirs,
            truncated,
            what=self.name,
            reference=self.reference,
            prefix=self.prefix,
            states=self.states,
            case=case.describe(),
        )

    # ---------------------------------------------------------------------- the probes

    def _probe_run(
        self,
        module_class: Callable[..., Any],
        seed: int,
        sizes: tuple[int, int, int, int],
        with_state: bool,
        guarded: bool,
    ) -> Any:
        """What the student's layer, holding a random case's weights, returns on the case's
        input, started from the case's state (``with_state``) or from none."""
        __tracebackhide__ = True
        case = self.case(seed, *sizes)
        model = self.new_model(module_class, case, guarded)
        state = self._pack(tuple(torch.from_numpy(s)[None] for s in self.initial_state(case)))
        with self.guard.guarded(guarded):
            return self.run_layer(model, torch.from_numpy(case.x), state if with_state else None)

    def _probe_device(
        self,
        module_class: Callable[..., Any],
        device: str,
        seed: int,
        T: int,
        B: int,
        D: int,
        H: int,
    ) -> dict[str, Any]:
        """Move the student's layer to ``device``: where its parameters went, and a run there
        from no state (the attempt's "value" or "failure" at the top: the record keeps four
        levels)."""
        __tracebackhide__ = True
        case = self.case(seed, T, B, D, H)
        model = self.new_model(module_class, case, False).to(device)
        on = {name: p.device.type for name, p in model.named_parameters()}
        run = attempt(self.run_layer, model, torch.from_numpy(case.x).to(device), None)
        devices = []
        if "value" in run:
            with contextlib.suppress(Exception):  # a malformed result is the check's to report
                output, finals = self._split(run["value"])
                devices = [str(v.device) for v in (output, *finals)]
        return {"parameters": on, "devices": devices, **run}

    def _probe_gradients(self, module_class: Callable[..., Any], case: Any) -> dict[str, Any]:
        """The student's layer on ``case``: what it returns, then the gradients of the loss."""
        __tracebackhide__ = True
        model = self.new_model(module_class, case, False)
        x, states = self._leaves(case)
        result = self.run_layer(model, x, self._pack(states))
        tensors = self.student_parameters(model)
        tensors.update({"x": x, **dict(zip(self.states, states, strict=True))})
        return {"result": result, "backward": backward(lambda: self._loss(result, case), tensors)}

    # ------------------------------------------------------------------------- helpers

    def _names(self) -> list[tuple[str, str]]:
        """``(stem, name)`` of each parameter: ``weight_ih`` and the layout's name for it."""
        return list(zip(_STEMS, self.layout.names, strict=True))

    def _pack(self, states: tuple) -> Any:
        """The state as the layer takes it: one tensor, or a tuple of them."""
        return states[0] if len(self.states) == 1 else tuple(states)

    def _split(self, result: Any) -> tuple[Any, tuple]:
        """``(output, finals)`` of a layer's result, ``finals`` a tuple like :attr:`states`."""
        output, final = result
        finals = (final,) if len(self.states) == 1 else tuple(final)
        if len(finals) != len(self.states):
            raise ValueError(f"{len(finals)} final states, expected {len(self.states)}")
        return output, finals

    def _leaves(self, case: Any) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Fresh leaf tensors of ``x`` and the states (with the num_layers axis) to backprop to."""
        x = torch.from_numpy(case.x).clone().requires_grad_(True)
        states = self.initial_state(case)
        return x, tuple(torch.from_numpy(s)[None].clone().requires_grad_(True) for s in states)

    def _loss(self, result: Any, case: Any) -> Any:
        """The gradient tests' loss on a layer's result."""
        output, finals = self._split(result)
        loss = (output * torch.from_numpy(case.g_out)).sum()
        for final, upstream in zip(finals, self.final_upstream(case), strict=True):
            loss = loss + (final[0] * torch.from_numpy(upstream)).sum()
        return loss

    def _truncated_gradients(self, case: Any, *, finals_detached: bool) -> dict[str, np.ndarray]:
        """The gradients when the state is detached between steps (none flow through time).

        ``finals_detached``: the detach comes after storing each output, so the final states are
        detached too and only ``output`` carries a gradient.
        """
        cell = self.reference_cell(case.params)
        x, states = self._leaves(case)
        state, outputs = tuple(s[0] for s in states), []
        for x_t in x:
            output, new_state = self.step(cell, x_t, state)
            outputs.append(output)
            state = tuple(s.detach() for s in new_state)
        loss = (torch.stack(outputs) * torch.from_numpy(case.g_out)).sum()
        if not finals_detached:
            for final, upstream in zip(new_state, self.final_upstream(case), strict=True):
                loss = loss + (final * torch.from_numpy(upstream)).sum()
        loss.backward()
        grads = {name: getattr(cell, stem).grad.numpy() for stem, name in self._names()}
        grads["x"] = x.grad.numpy()
        grads.update({name: s.grad.numpy() for name, s in zip(self.states, states, strict=True)})
        return grads
