"""Checks shared by the PyTorch exercises' gated layers, configured per cell type.

A :class:`StackedLayout` says how PyTorch stores one cell type's parameters (the gates stacked
along the first axis of ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, with a ``_l0``
suffix in a layer) and how the checks name them; Exercise 3 configures it for the GRU cell
(``r, z, n``) and Exercise 4 for the LSTM layer (``i, f, g, o``). The checks here run on the data a
probe returned (``course_checks.probes``), so the grader's re-check runs them again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from course_checks.compare import check_close, check_true, check_uniform_spread
from course_checks.layouts import state_cut_message

__all__ = [
    "StackedLayout",
    "check_gradients_like",
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
