"""nncourse: feedforward neural networks from first principles.

The reference library of the course: layers with explicit forward/backward,
losses, initialisers, optimisers, gradient checking, a training loop, data sets,
plots and widgets, on NumPy (or CuPy on a GPU through ``nncourse.backend``).

Submodules are imported on first use (``nncourse.viz`` pulls in matplotlib,
``nncourse.widgets`` ipywidgets), so ``import nncourse`` stays light.
"""

import importlib

from . import backend  # noqa: F401  (always loaded: it reads NNCOURSE_BACKEND)

__version__ = "0.1.0"

_SUBMODULES = (
    "backend",
    "functional",
    "init",
    "layers",
    "losses",
    "regularization",
    "optim",
    "gradcheck",
    "train",
    "perceptron",
    "graph",
    "data",
    "features",
    "viz",
    "widgets",
    "validation",
)
__all__ = [*_SUBMODULES, "__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nncourse' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
