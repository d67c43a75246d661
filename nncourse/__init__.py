"""nncourse: feedforward neural networks from first principles.

The reference library of the course: layers with explicit forward/backward,
losses, initialisers, optimisers, gradient checking, a training loop, data sets,
plots and widgets, on NumPy (or CuPy on a GPU through ``nncourse.backend``).
"""

from . import backend, functional, init, layers, losses

__version__ = "0.1.0"
__all__ = ["backend", "functional", "init", "layers", "losses", "__version__"]
