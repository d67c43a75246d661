"""Stateless functions: activations, their derivatives, softmax.

Every function works on NumPy or CuPy arrays (the module is taken from the
argument). Derivatives are written in terms of the *pre-activation* ``x``,
as in the lecture notes: ``g'(a)`` for a neuron with pre-activation ``a``.

The functions do not validate their arguments: they are the thin array layer under
the layers and losses, which check their input once at the door
(``nncourse.validation``). Pass them arrays of a float dtype.

This module imports nothing of the library but the backend. The table of activations
by name is ``nncourse.layers.ACTIVATIONS``: each activation layer class names its
function pair from here (``ReLU.function is relu``).
"""

from __future__ import annotations

from .backend import get_array_module

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "elu",
    "elu_grad",
    "softsign",
    "softsign_grad",
    "hardtanh",
    "hardtanh_grad",
    "prelu",
    "prelu_grad",
    "identity",
    "identity_grad",
    "softmax",
    "log_softmax",
    "logsumexp",
]


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + e^{-x}), computed without overflow for any |x|.

    Only ``exp(-|x|)`` is ever evaluated, which lies in (0, 1].
    """
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(e.dtype, copy=False)


def sigmoid_grad(x):
    """sigmoid'(x) = s (1 - s)."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    return get_array_module(x).tanh(x)


def tanh_grad(x):
    """tanh'(x) = 1 - tanh(x)^2."""
    t = get_array_module(x).tanh(x)
    return 1.0 - t * t


def relu(x):
    return get_array_module(x).maximum(x, 0)


def relu_grad(x):
    """1 where x > 0, else 0 (the sub-gradient 0 is used at x = 0, as PyTorch does)."""
    return (x > 0).astype(x.dtype)


def leaky_relu(x, negative_slope=0.01):
    xp = get_array_module(x)
    return xp.where(x > 0, x, x * negative_slope)


def leaky_relu_grad(x, negative_slope=0.01):
    xp = get_array_module(x)
    return xp.where(x > 0, 1.0, negative_slope).astype(x.dtype)


def elu(x, alpha=1.0):
    """x for x > 0, alpha (e^x - 1) otherwise (expm1 keeps precision near 0)."""
    xp = get_array_module(x)
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


def elu_grad(x, alpha=1.0):
    xp = get_array_module(x)
    return xp.where(x > 0, 1.0, alpha * xp.exp(xp.minimum(x, 0))).astype(x.dtype)


def softsign(x):
    """x / (1 + |x|)."""
    return x / (1.0 + get_array_module(x).abs(x))


def softsign_grad(x):
    """1 / (1 + |x|)^2."""
    d = 1.0 + get_array_module(x).abs(x)
    return 1.0 / (d * d)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return get_array_module(x).clip(x, min_val, max_val)


def hardtanh_grad(x, min_val=-1.0, max_val=1.0):
    return ((x > min_val) & (x < max_val)).astype(x.dtype)


def prelu(x, alpha=0.25):
    """x for x > 0, alpha * x otherwise; ``alpha`` a number or an array that broadcasts
    against x (one slope per feature, shape (D,), for x of shape (N, D))."""
    xp = get_array_module(x)
    return xp.where(x > 0, x, x * alpha)


def prelu_grad(x, alpha=0.25):
    """d/dx: 1 where x > 0, alpha otherwise (d/dalpha is x where x <= 0: see layers.PReLU)."""
    xp = get_array_module(x)
    return xp.where(x > 0, 1.0, alpha * xp.ones_like(x)).astype(x.dtype)


def identity(x):
    return x


def identity_grad(x):
    return get_array_module(x).ones_like(x)


def logsumexp(x, axis=-1, keepdims=False):
    """log sum_j e^{x_j} along ``axis``, stable for any magnitude (max-subtraction)."""
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    out = m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else out.squeeze(axis)


def log_softmax(x, axis=-1):
    """log softmax(x) = x - logsumexp(x); finite even for logits of order 1e4."""
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x, axis=-1):
    """softmax(x)_j = e^{x_j} / sum_k e^{x_k}, computed as e^{x_j - max x}."""
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
