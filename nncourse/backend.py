"""Array backend: NumPy by default, CuPy on a GPU, same library code.

Library code never imports cupy directly. It either asks for the active module
(``backend.xp``, read at call time, never bound at import time) or, better, for
the module that owns an array it was given (``get_array_module(a)``), so that
layers follow the data they receive.

Select the backend with ``nncourse.backend.use('numpy' | 'cupy' | 'auto')`` or
with the ``NNCOURSE_BACKEND`` environment variable before import.
"""

from __future__ import annotations

import os
import types

import numpy

__all__ = [
    "use",
    "xp",
    "name",
    "get_array_module",
    "to_numpy",
    "asarray",
    "available",
    "BackendUnavailableError",
]

_NAMES = ("numpy", "cupy", "auto")

xp: types.ModuleType = numpy
name: str = "numpy"

_cupy_cache: dict[str, object] = {}


class BackendUnavailableError(RuntimeError, ValueError):
    """The requested backend cannot run here (e.g. CuPy without a usable GPU).

    A ``ValueError`` like every bad-argument error of the library, and a ``RuntimeError``
    because the argument is valid but the machine cannot honour it.
    """


def _import_cupy():
    """Return (cupy module or None, reason string when unusable)."""
    if "mod" in _cupy_cache:
        return _cupy_cache["mod"], _cupy_cache["why"]
    mod, why = None, ""
    try:
        import cupy  # noqa: PLC0415  (the one place cupy is imported)

        n = cupy.cuda.runtime.getDeviceCount()
        if n < 1:
            why = "CuPy is installed but no CUDA device is visible"
        else:
            cupy.zeros(1).sum().item()  # prove the device really works
            mod = cupy
    except ImportError:
        why = "CuPy is not installed (pip install 'nncourse[gpu]')"
    except Exception as exc:  # CUDA driver/runtime errors come in many types
        why = f"CuPy is installed but the GPU is not usable: {exc}"
    _cupy_cache["mod"], _cupy_cache["why"] = mod, why
    return mod, why


def available() -> list[str]:
    """Names of the backends usable on this machine, e.g. ``['numpy', 'cupy']``."""
    mod, _ = _import_cupy()
    return ["numpy", "cupy"] if mod is not None else ["numpy"]


def use(backend: str) -> types.ModuleType:
    """Select the active array backend and return its module.

    ``'numpy'`` always works; ``'cupy'`` raises ``BackendUnavailableError`` (a
    ``ValueError``) when no GPU is
    usable (with the reason); ``'auto'`` picks CuPy only when a GPU is usable.
    """
    global xp, name
    if not isinstance(backend, str) or backend.lower() not in _NAMES:
        raise ValueError(f"backend.use: expected one of {_NAMES}, got {backend!r}")
    backend = backend.lower()
    if backend == "numpy":
        xp, name = numpy, "numpy"
    else:
        mod, why = _import_cupy()
        if mod is None and backend == "cupy":
            raise BackendUnavailableError(
                f"backend.use('cupy'): {why}. Use 'numpy' or 'auto' instead."
            )
        xp, name = (mod, "cupy") if mod is not None else (numpy, "numpy")
    return xp


def get_array_module(a) -> types.ModuleType:
    """The array module (numpy or cupy) that owns ``a``; numpy for anything else."""
    mod = type(a).__module__
    if mod.startswith("cupy"):
        return _import_cupy()[0] or numpy
    return numpy


def to_numpy(a):
    """Copy ``a`` to a NumPy array on the host (no copy when it already is one)."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return numpy.asarray(a)


def asarray(a, dtype=None):
    """``a`` as an array of the active backend (moves host data to the GPU once)."""
    if xp is numpy:
        return numpy.asarray(to_numpy(a), dtype=dtype)
    return xp.asarray(a, dtype=dtype)


_env = os.environ.get("NNCOURSE_BACKEND")
if _env:
    use(_env)
