"""Data for the course: synthetic 2-D sets, the bundled digits, MNIST, preprocessing.

- ``generators``: :func:`linearly_separable`, :func:`xor`, :func:`blobs`, :func:`moons`,
  :func:`circles`, :func:`spirals`, :func:`regression_1d` -> ``(X, y)``, seeded by ``rng``/``seed``.
- ``datasets``: :func:`load_digits` (UCI 8x8 digits shipped with the package, CC BY 4.0) and
  :func:`load_mnist` (standard IDX files from a local folder; nothing is downloaded).
- ``preprocessing``: :func:`train_val_test_split`, :func:`one_hot`, and :class:`Standardizer`,
  :class:`PCAWhitening`, :class:`ZCAWhitening` (``fit`` on the training set only).
"""

from .datasets import DIGITS_PATH, load_digits, load_mnist, read_idx
from .generators import (
    blobs,
    circles,
    linearly_separable,
    make_rng,
    moons,
    regression_1d,
    spirals,
    xor,
)
from .preprocessing import (
    NotFittedError,
    PCAWhitening,
    Standardizer,
    ZCAWhitening,
    one_hot,
    train_val_test_split,
)

__all__ = [
    "linearly_separable",
    "xor",
    "blobs",
    "moons",
    "circles",
    "spirals",
    "regression_1d",
    "make_rng",
    "load_digits",
    "load_mnist",
    "read_idx",
    "DIGITS_PATH",
    "train_val_test_split",
    "one_hot",
    "Standardizer",
    "PCAWhitening",
    "ZCAWhitening",
    "NotFittedError",
]
