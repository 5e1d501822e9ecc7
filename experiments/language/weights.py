"""A model's weights as JSON-safe text, so that a cached result can carry its trained model.

The chapter samples from and looks inside trained models without training them again: a run with
``keep_weights`` stores its chosen checkpoint's ``state_dict`` in its result, each tensor as its
shape and its float32 bytes in base64 (exact: the model rebuilt from them computes the same
numbers).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import numpy as np
import torch


def pack(state: Mapping[str, torch.Tensor]) -> dict[str, dict]:
    """``{name: {"shape": [...], "float32": base64}}`` of a ``state_dict``."""
    packed = {}
    for name, tensor in state.items():
        array = tensor.detach().cpu().numpy().astype(np.float32)
        packed[name] = {
            "shape": list(array.shape),
            "float32": base64.b64encode(array.tobytes()).decode("ascii"),
        }
    return packed


def unpack(packed: Mapping[str, Mapping]) -> dict[str, torch.Tensor]:
    """The ``state_dict`` that :func:`pack` stored."""
    state = {}
    for name, entry in packed.items():
        array = np.frombuffer(base64.b64decode(entry["float32"]), dtype=np.float32)
        state[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return state
