"""PyTorch's optimiser trajectories, stored as fixtures so parity is tested without torch.

``tests/fixtures/torch/generate.py`` (run where torch is installed) replays every case
below with ``torch.optim`` and saves, per case, one ``.npz``: the initial parameters, the
gradient each step received (``None`` now and then: a parameter without a gradient is
skipped) and the parameters after each step. The tests feed our optimisers the same
gradients and compare every step. Cases name the optimiser by its class name, the same in
``torch.optim`` and ``nncourse.optim``, with torch's keyword arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "torch"
SHAPES = [(3, 4), (4,)]  # a weight matrix and a bias
STEPS = 20

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("RMSprop", dict()),
    ("RMSprop", dict(alpha=0.9, momentum=0.7, centered=True, weight_decay=0.05, eps=1e-3)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
]


def case_id(case) -> str:
    name, kwargs = case
    return f"{name}-{'-'.join(sorted(kwargs)) or 'defaults'}"


def has_gradient(step: int, index: int) -> bool:
    """Whether parameter ``index`` gets a gradient at ``step`` (now and then the bias has none)."""
    return not (step % 7 == 3 and index == 1)


@dataclass
class Trajectory:
    """One case's reference: per parameter the initial value, the gradients (``None``
    where there was none) and the values after each step."""

    optimizer: str
    kwargs: dict
    torch_version: str
    initial: list
    grads: list  # grads[step][index]: an array or None
    after: list  # after[step][index]: the parameter after the step


def path_of(case) -> Path:
    return FIXTURES / f"{case_id(case)}.npz"


def save(case, trajectory: Trajectory) -> Path:
    arrays = {
        "meta": np.array(
            json.dumps(
                {
                    "optimizer": trajectory.optimizer,
                    "kwargs": trajectory.kwargs,
                    "torch_version": trajectory.torch_version,
                }
            )
        )
    }
    for k, value in enumerate(trajectory.initial):
        arrays[f"initial_{k}"] = value
        steps = range(len(trajectory.after))
        arrays[f"has_grad_{k}"] = np.array([trajectory.grads[t][k] is not None for t in steps])
        arrays[f"grads_{k}"] = np.stack(
            [
                np.zeros_like(value) if trajectory.grads[t][k] is None else trajectory.grads[t][k]
                for t in steps
            ]
        )
        arrays[f"after_{k}"] = np.stack([trajectory.after[t][k] for t in steps])
    path = path_of(case)
    np.savez_compressed(path, **arrays)
    return path


def load(case) -> Trajectory:
    """The stored trajectory of ``case``; its optimiser and arguments must be the case's."""
    with np.load(path_of(case)) as f:
        meta = json.loads(str(f["meta"]))
        n = sum(1 for key in f.files if key.startswith("initial_"))
        initial = [f[f"initial_{k}"] for k in range(n)]
        has = [f[f"has_grad_{k}"] for k in range(n)]
        grads = [f[f"grads_{k}"] for k in range(n)]
        after = [f[f"after_{k}"] for k in range(n)]
    name, kwargs = case
    stored = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["kwargs"].items()}
    if (meta["optimizer"], stored) != (name, kwargs):
        raise ValueError(
            f"{path_of(case).name}: holds {meta['optimizer']}({stored}), expected "
            f"{name}({kwargs}); run tests/fixtures/torch/generate.py again"
        )
    steps = len(after[0])
    return Trajectory(
        optimizer=name,
        kwargs=kwargs,
        torch_version=meta["torch_version"],
        initial=initial,
        grads=[[grads[k][t] if has[k][t] else None for k in range(n)] for t in range(steps)],
        after=[[after[k][t] for k in range(n)] for t in range(steps)],
    )
