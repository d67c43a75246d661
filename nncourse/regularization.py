"""Weight penalties added to the data loss: L2 (weight decay) and L1.

Only *weights* are penalised: parameters whose key is ``'W'`` (``Linear.W``).
Biases, BatchNorm's ``gamma``/``beta`` and any other parameter are left alone,
as in the notes: penalising a bias does not reduce the model's capacity to
overfit, it only shifts its outputs.

Use with any object that has ``parameters()`` (a ``Sequential`` or one layer)::

    reg = L2(1e-3)
    loss = data_loss.forward(model.forward(x), y) + reg.penalty(model)
    model.backward(data_loss.backward())
    reg.backward(model)          # adds 2 * strength * W into every dW
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from . import validation as V
from .backend import get_array_module

__all__ = ["Regularizer", "L2", "L1"]


def _weights(model, owner=None, method=""):
    """The Parameter handles of ``model`` whose key is 'W' (``owner.method`` is named in
    the error for a model without ``parameters()``)."""
    if isinstance(model, type) or not callable(getattr(model, "parameters", None)):
        who = f"{type(owner).__name__}.{method}" if owner is not None else "regularization"
        raise TypeError(f"{who}: expected a model or layer with parameters(), got {V.show(model)}")
    for p in model.parameters():
        key = getattr(p, "key", str(p.name).rsplit(".", 1)[-1])
        if key == "W":
            yield p


class Regularizer(ABC):
    """Base class: ``penalty(model) -> float`` and ``backward(model)``."""

    def __init__(self, strength: float):
        self.strength = V.real(type(self).__name__, "strength", strength, low=0)

    @abstractmethod
    def _term(self, W):
        """The penalty of one weight matrix, without the strength."""

    @abstractmethod
    def _grad(self, W):
        """Its gradient, with the strength."""

    def penalty(self, model) -> float:
        """strength * sum over weight matrices of the per-matrix term."""
        weights = _weights(model, self, "penalty")
        return self.strength * sum(float(self._term(p.data)) for p in weights)

    def backward(self, model):
        """Add the penalty's gradient into the weight gradients (call after
        ``model.backward``, which overwrites them)."""
        weights = list(_weights(model, self, "backward"))
        if self.strength == 0.0:
            return
        for p in weights:
            if p.grad is None:
                p.grad = self._grad(p.data)
            else:
                p.grad += self._grad(p.data)

    def __call__(self, model) -> float:
        return self.penalty(model)

    def __repr__(self):
        return f"{type(self).__name__}(strength={self.strength})"


class L2(Regularizer):
    """strength * sum_l ||W_l||_F^2; gradient 2 * strength * W."""

    def _term(self, W):
        return (W * W).sum()

    def _grad(self, W):
        return (2.0 * self.strength) * W


class L1(Regularizer):
    """strength * sum_l sum |W_l|; (sub)gradient strength * sign(W), 0 at W = 0."""

    def _term(self, W):
        return abs(W).sum()

    def _grad(self, W):
        return self.strength * get_array_module(W).sign(W)
