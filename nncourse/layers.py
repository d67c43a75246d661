"""Layers with explicit forward and backward passes.

Every layer follows one protocol (the PyTorch ``nn.Module`` shape, without autograd):

- ``forward(x)`` computes the output and keeps in ``self.cache`` what backward needs;
  ``layer(x)`` is the same call.
- ``backward(dout)`` takes dL/d(output) and returns dL/d(input), and *overwrites*
  ``self.grads[name]`` with dL/d(param) for every entry of ``self.params``.
- ``params`` / ``grads``: dicts name -> array with the same keys and shapes.
- Optionally ``backward(dout, input_grad=False)`` skips dL/d(input) and returns None
  (a first layer needs no gradient for the data, and for ``Linear`` it is the largest
  product of the backward pass). A layer offers it by decorating its backward with
  :func:`skips_input_grad`; ``Sequential`` and ``Trainer`` look for that mark, so a
  student's own ``backward(self, dout)`` (even overriding ``Linear``'s) keeps working.
- ``train()`` / ``eval()`` switch the behaviour of Dropout and BatchNorm1d.
- ``astype(dtype)`` / ``to(backend)`` move parameters, gradients and buffers.

Shapes: a batch is ``x`` of shape ``(N, D)``; one row per example.
"""

from __future__ import annotations

import contextlib
import copy
import inspect

import numpy as np

from . import backend
from . import functional as F
from . import init as initializers
from . import validation as V
from .backend import get_array_module

__all__ = [
    "Parameter",
    "Layer",
    "Linear",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Sigmoid",
    "Tanh",
    "HardTanh",
    "Softsign",
    "Identity",
    "Dropout",
    "BatchNorm1d",
    "Sequential",
    "PReLU",
    "Maxout",
    "ACTIVATIONS",
    "eval_mode",
    "modules",
    "skips_input_grad",
]


class Parameter:
    """A handle on one trainable array of a layer, as optimisers see it.

    ``data`` and ``grad`` are read from the owning layer at every access, so the
    handle stays bound even when the layer replaces an array (``astype``), and
    in-place updates through ``p.data`` are seen by the layer.
    """

    __slots__ = ("name", "layer", "key")

    def __init__(self, name, layer, key):
        self.name, self.layer, self.key = name, layer, key

    @property
    def data(self):
        return self.layer.params[self.key]

    @data.setter
    def data(self, value):
        self.layer.params[self.key] = value

    @property
    def grad(self):
        return self.layer.grads.get(self.key)

    @grad.setter
    def grad(self, value):
        self.layer.grads[self.key] = value

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={tuple(self.data.shape)})"


def _check_input(layer, x, width=None):
    """Validate a batch: an array of ndim 2 (N, width) with finite values."""
    if not hasattr(x, "ndim") or not hasattr(x, "dtype"):
        raise TypeError(f"{layer}: expected an array of shape (N, D), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(
            f"{layer}: expected input of shape (N, {width if width else 'D'}), "
            f"got an array of shape {tuple(x.shape)}"
        )
    if width is not None and x.shape[1] != width:
        raise ValueError(
            f"{layer}: expected input of shape (N, {width}), got shape {tuple(x.shape)}"
        )
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{layer}: expected a numeric array, got dtype {x.dtype}")
    # A host-side check costs one pass over the batch; on a GPU it would cost a
    # device-to-host sync per step, so it is done on NumPy only, and only where data
    # enters: a layer inside a Sequential relies on the Sequential's own check.
    if not layer._nested:
        V.finite_array(layer, "input", x)


def skips_input_grad(backward):
    """Mark ``backward(self, dout, input_grad=True)`` as able to skip dL/dx (see above)."""
    backward.can_skip_input_grad = True
    return backward


def _backward_params_only(layer, dout):
    """``layer.backward`` without dL/dx when the layer offers it, else the plain call."""
    if getattr(layer.backward, "can_skip_input_grad", False):
        return layer.backward(dout, input_grad=False)
    return layer.backward(dout)


class Layer:
    """Base class: no parameters, identity ``train``/``eval`` bookkeeping.

    Subclasses implement ``forward`` and ``backward``; a student's own layer that
    sets ``params``/``grads`` works inside ``Sequential`` and every optimiser.
    """

    _buffers: tuple[str, ...] = ()  # non-trainable arrays moved by astype/to
    _nested = False  # True inside a Sequential, which validates the input once

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.training = True
        self.cache = None

    # -- the protocol -------------------------------------------------------
    # Deliberately not abstract: a student writes forward first (03_mlp) and backward a
    # week later (04_backprop), and the half-written layer must already work in a model.
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, x):
        return self.forward(x)

    def train(self, mode: bool = True):
        self.training = V.boolean(f"{type(self).__name__}.train", "mode", mode)
        return self

    def eval(self):
        return self.train(False)

    def parameters(self, prefix: str = ""):
        """Yield a :class:`Parameter` per entry of ``params`` (names ``prefix + key``)."""
        if not isinstance(prefix, str):
            raise TypeError(
                f"{type(self).__name__}.parameters: expected a str prefix, got {prefix!r}"
            )
        for key in self.params:
            yield Parameter(prefix + key, self, key)

    def zero_grad(self):
        for g in self.grads.values():
            if g is not None:
                g[...] = 0

    # -- helpers for subclasses ----------------------------------------------
    def _need_cache(self):
        if self.cache is None:
            raise ValueError(f"{self}: backward() called before forward()")
        return self.cache

    def _check_dout(self, dout, shape):
        try:
            kind = dout.dtype.kind
            dout.shape  # noqa: B018  (an array has both)
        except AttributeError:
            raise TypeError(
                f"{self}.backward: expected dout as an array of shape {tuple(shape)}, "
                f"got {V.show(dout)}"
            ) from None
        if kind not in "fiu":
            raise TypeError(f"{self}.backward: expected a real dout, got dtype {dout.dtype}")
        if dout.shape != tuple(shape):
            raise ValueError(
                f"{self}.backward: expected dout of shape {tuple(shape)}, "
                f"got {getattr(dout, 'shape', type(dout).__name__)}"
            )

    # -- moves ------------------------------------------------------------------
    def _map_arrays(self, fn):
        self.params = {k: fn(v) for k, v in self.params.items()}
        self.grads = {k: (None if v is None else fn(v)) for k, v in self.grads.items()}
        for name in self._buffers:
            setattr(self, name, fn(getattr(self, name)))
        self.cache = None
        return self

    def astype(self, dtype):
        """Cast parameters, gradients and buffers to ``dtype`` (e.g. ``np.float64``)."""
        dtype = V.float_dtype(f"{type(self).__name__}.astype", dtype)
        return self._map_arrays(lambda a: a.astype(dtype))

    def to(self, name: str):
        """Move arrays to the backend ``'numpy'`` or ``'cupy'``."""
        if not isinstance(name, str):
            raise TypeError(
                f"{type(self).__name__}.to: expected 'numpy' or 'cupy', got {V.show(name)}"
            )
        if name == "numpy":
            return self._map_arrays(backend.to_numpy)
        if name == "cupy":
            mod = backend.use("cupy") if backend.name != "cupy" else backend.xp
            return self._map_arrays(mod.asarray)
        raise ValueError(f"{type(self).__name__}.to: expected 'numpy' or 'cupy', got {name!r}")

    @property
    def dtype(self):
        for v in self.params.values():
            return v.dtype
        return None

    def state_dict(self) -> dict:
        """Copies of the parameters and buffers (for early stopping, checkpoints)."""
        state = {k: v.copy() for k, v in self.params.items()}
        state.update({b: getattr(self, b).copy() for b in self._buffers})
        return state

    def load_state_dict(self, state: dict):
        """Copy saved parameters and buffers in (the whole dict is checked first: the
        same keys as ``state_dict()``, arrays of the same shapes; nothing is broadcast)."""
        for target, value in self._state_pairs(state, f"{type(self).__name__}.load_state_dict"):
            target[...] = value
        return self

    def _state_pairs(self, state, who, prefix=""):
        """[(own array, saved array)] for ``load_state_dict``, after checking every entry."""
        if not isinstance(state, dict):
            raise TypeError(f"{who}: expected a dict as from state_dict(), got {V.show(state)}")
        own = {k: v for k, v in self.params.items()}
        own.update({b: getattr(self, b) for b in self._buffers})
        missing = sorted(prefix + k for k in set(own) - set(state))
        extra = sorted(prefix + str(k) for k in set(state) - set(own))
        if missing or extra:
            raise ValueError(
                f"{who}: expected the keys {sorted(prefix + k for k in own)}, "
                f"missing {missing}, unexpected {extra}"
            )
        pairs = []
        for k, target in own.items():
            value = state[k]
            if not (hasattr(value, "shape") and hasattr(value, "dtype")):
                raise TypeError(
                    f"{who}: expected {prefix + k!r} as an array of shape {tuple(target.shape)}, "
                    f"got {V.show(value)}"
                )
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"{who}: expected {prefix + k!r} of shape {tuple(target.shape)}, got shape "
                    f"{tuple(value.shape)}"
                )
            if value.dtype.kind not in "fiu":
                raise TypeError(
                    f"{who}: expected {prefix + k!r} of a real dtype, got {value.dtype}"
                )
            if type(value).__module__.startswith("cupy") != type(target).__module__.startswith(
                "cupy"
            ):
                value = backend.to_numpy(value) if isinstance(target, np.ndarray) else value
            pairs.append((target, value))
        for _target, value in pairs:  # host arrays: NaN/inf would poison the model silently
            V.finite_array(who, "saved values", value)
        return pairs

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Linear(Layer):
    """Affine layer ``out = x @ W.T + b``: the pre-activation a = b + W x for a batch.

    ``W`` has shape ``(out_features, in_features)``, ``b`` has shape ``(out_features,)``.
    ``init`` is an initialiser name or callable ``init(shape, rng=..., dtype=...)``;
    biases start at zero.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init="xavier_uniform",
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_features = V.positive_int("Linear", "in_features", in_features)
        self.out_features = V.positive_int("Linear", "out_features", out_features)
        bias = V.boolean("Linear", "bias", bias)
        init_fn = initializers.get(init, who="Linear")
        rng = initializers.as_generator(rng, who="Linear")
        dtype = V.float_dtype("Linear", dtype)
        W = init_fn((self.out_features, self.in_features), rng=rng, dtype=dtype)
        self.params["W"] = W
        self.grads["W"] = backend.xp.zeros_like(W)
        if bias:
            self.params["b"] = initializers.zeros(self.out_features, dtype=dtype)
            self.grads["b"] = backend.xp.zeros_like(self.params["b"])

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features)."""
        _check_input(self, x, self.in_features)
        W = self.params["W"]
        if x.dtype != W.dtype:
            x = x.astype(W.dtype)  # compute in the layer's precision
        out = x @ W.T
        if "b" in self.params:
            out += self.params["b"]
        self.cache = x
        return out

    @skips_input_grad
    def backward(self, dout, input_grad=True):
        """dout: (N, out) -> dx: (N, in); sets dW = dout^T x, db = sum_n dout_n.

        ``input_grad=False`` skips dx (returns None): the first layer of a network
        needs no gradient for the data, and dx is its largest matrix product.
        """
        x = self._need_cache()
        self._check_dout(dout, (x.shape[0], self.out_features))
        xp = get_array_module(dout)
        if dout.dtype != x.dtype:
            dout = dout.astype(x.dtype)
        xp.matmul(dout.T, x, out=self.grads["W"])
        if "b" in self.params:
            dout.sum(axis=0, out=self.grads["b"])
        return dout @ self.params["W"] if input_grad else None

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={'b' in self.params}"
        )


ACTIVATIONS: dict[str, type] = {}
"""Activation name -> layer class, in the order the classes are defined below. The class
statements fill it themselves (see :class:`_Activation`); the graph engine, the widgets
and the tests read this table instead of keeping their own."""


class _Activation(Layer):
    """Element-wise activation g applied to the pre-activation; backward is dout * g'(x).

    Each activation class is the single description of its activation, read by the
    graph engine, the widgets and the tests (through :data:`ACTIVATIONS`):

    - ``name``: the registry key, given in the class statement:
      ``class LeakyReLU(_Activation, name="leaky_relu")`` defines the class *and*
      registers it. A subclass without ``name=`` (a student's ``BrokenTanh(Tanh)``)
      keeps its parent's name and is not registered;
    - ``function`` / ``derivative``: g and g' from ``nncourse.functional``, taking the
      hyper-parameters as keyword arguments (their defaults are the functions' own,
      listed by :meth:`hyper_parameters`);
    - ``param_ranges``: ``{hyper-parameter: (low, high, step)}`` for sliders, ``{}``
      when there is none;
    - ``weight_init``: the initialiser that keeps the signal's variance through a
      ``Linear`` followed by this activation: Glorot's ``'xavier_uniform'`` by default,
      He's ``'he_uniform'`` for the ReLU family, which zeroes (or shrinks) half of its
      inputs. Models built for the activation (the playground's) read it.

    A new activation is one subclass (with its function pair in ``functional``).
    """

    name = "identity"
    function = staticmethod(F.identity)
    derivative = staticmethod(F.identity_grad)
    param_ranges: dict = {}
    weight_init = "xavier_uniform"

    def __init_subclass__(cls, name=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if name is None:
            return
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(
                f"{cls.__name__}: expected name= a registry key like 'leaky_relu', got {name!r}"
            )
        taken = ACTIVATIONS.get(name)
        rerun = taken is not None and (taken.__module__, taken.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )  # the same class statement run again (a notebook cell): it replaces itself
        if taken is not None and not rerun:
            raise ValueError(
                f"{cls.__name__}: the activation name {name!r} is taken by {taken.__name__}"
            )
        cls.name = name
        ACTIVATIONS[name] = cls

    @classmethod
    def hyper_parameters(cls) -> dict:
        """``{name: default}`` of the keyword arguments of ``function`` (``{}`` for none)."""
        params = inspect.signature(cls.function).parameters.values()
        return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}

    def _kwargs(self) -> dict:
        """The hyper-parameters, as keyword arguments of ``function``/``derivative``."""
        return {}

    def forward(self, x):
        _check_input(self, x)
        self.cache = x
        return self.function(x, **self._kwargs())

    def backward(self, dout):
        x = self._need_cache()
        self._check_dout(dout, x.shape)
        return dout * self.derivative(x, **self._kwargs())


class ReLU(_Activation, name="relu"):
    """max(0, x); g'(x) = 1[x > 0]."""

    function = staticmethod(F.relu)
    derivative = staticmethod(F.relu_grad)
    weight_init = "he_uniform"

    def forward(self, x):
        _check_input(self, x)
        out = get_array_module(x).maximum(x, 0)
        self.cache = out  # out > 0 exactly where x > 0
        return out

    def backward(self, dout):
        out = self._need_cache()
        self._check_dout(dout, out.shape)
        return dout * (out > 0)


class Tanh(_Activation, name="tanh"):
    """tanh(x); backward uses 1 - tanh^2 from the cached output."""

    function = staticmethod(F.tanh)
    derivative = staticmethod(F.tanh_grad)

    def forward(self, x):
        _check_input(self, x)
        out = get_array_module(x).tanh(x)
        self.cache = out
        return out

    def backward(self, dout):
        t = self._need_cache()
        self._check_dout(dout, t.shape)
        return dout * (1.0 - t * t)


class Sigmoid(_Activation, name="sigmoid"):
    """1 / (1 + e^-x), stable for any |x|; backward uses s (1 - s) from the cached output."""

    function = staticmethod(F.sigmoid)
    derivative = staticmethod(F.sigmoid_grad)

    def forward(self, x):
        _check_input(self, x)
        out = F.sigmoid(x)
        self.cache = out
        return out

    def backward(self, dout):
        s = self._need_cache()
        self._check_dout(dout, s.shape)
        return dout * s * (1.0 - s)


class LeakyReLU(_Activation, name="leaky_relu"):
    """x for x > 0, negative_slope * x otherwise."""

    function = staticmethod(F.leaky_relu)
    derivative = staticmethod(F.leaky_relu_grad)
    weight_init = "he_uniform"
    param_ranges = {"negative_slope": (0.0, 0.5, 0.01)}

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = V.real("LeakyReLU", "negative_slope", negative_slope)

    def _kwargs(self):
        return {"negative_slope": self.negative_slope}

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(_Activation, name="elu"):
    """x for x > 0, alpha (e^x - 1) otherwise."""

    function = staticmethod(F.elu)
    derivative = staticmethod(F.elu_grad)
    weight_init = "he_uniform"
    param_ranges = {"alpha": (0.0, 3.0, 0.1)}

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = V.real("ELU", "alpha", alpha)

    def _kwargs(self):
        return {"alpha": self.alpha}

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softsign(_Activation, name="softsign"):
    """x / (1 + |x|); g'(x) = 1 / (1 + |x|)^2."""

    function = staticmethod(F.softsign)
    derivative = staticmethod(F.softsign_grad)


class HardTanh(_Activation, name="hardtanh"):
    """clip(x, min_val, max_val); gradient 1 strictly inside, 0 outside."""

    function = staticmethod(F.hardtanh)
    derivative = staticmethod(F.hardtanh_grad)
    param_ranges = {"min_val": (-3.0, 0.0, 0.1), "max_val": (0.0, 3.0, 0.1)}

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        lo = V.real("HardTanh", "min_val", min_val)
        hi = V.real("HardTanh", "max_val", max_val)
        if not lo < hi:
            raise ValueError(f"HardTanh: expected min_val < max_val, got {min_val}, {max_val}")
        self.min_val, self.max_val = lo, hi

    def _kwargs(self):
        return {"min_val": self.min_val, "max_val": self.max_val}

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Identity(_Activation, name="identity"):
    """g(x) = x (a linear output layer)."""

    def forward(self, x):
        _check_input(self, x)
        self.cache = x
        return x

    def backward(self, dout):
        self._check_dout(dout, self._need_cache().shape)
        return dout


class PReLU(_Activation, name="prelu"):
    """Parametric ReLU (He et al., 2015), as ``torch.nn.PReLU``: x for x > 0, alpha x
    otherwise, with a *learned* slope ``alpha``.

    ``params['alpha']`` has shape ``(num_parameters,)``: one slope shared by all
    features (``num_parameters=1``) or one per feature (``num_parameters=D`` for input
    ``(N, D)``), each starting at ``init``. Backward: dx = dout * (1 if x > 0 else alpha),
    dalpha = sum of dout * x over the entries with x <= 0 (per feature, or over all).
    """

    function = staticmethod(F.prelu)
    derivative = staticmethod(F.prelu_grad)
    weight_init = "he_uniform"
    param_ranges = {"alpha": (0.0, 1.0, 0.05)}

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = V.positive_int("PReLU", "num_parameters", num_parameters)
        init = V.real("PReLU", "init", init)
        dtype = V.float_dtype("PReLU", dtype)
        self.params["alpha"] = initializers.constant(self.num_parameters, init, dtype=dtype)
        self.grads["alpha"] = backend.xp.zeros_like(self.params["alpha"])

    def _kwargs(self):
        return {"alpha": self.params["alpha"]}

    def forward(self, x):
        """x: (N, D) -> (N, D); D must equal num_parameters unless that is 1."""
        _check_input(self, x, None if self.num_parameters == 1 else self.num_parameters)
        alpha = self.params["alpha"]
        if x.dtype != alpha.dtype:
            x = x.astype(alpha.dtype)
        self.cache = x
        return F.prelu(x, alpha)

    def backward(self, dout):
        x = self._need_cache()
        self._check_dout(dout, x.shape)
        xp = get_array_module(x)
        neg = xp.where(x > 0, 0.0, x).astype(x.dtype)  # d out / d alpha, entry-wise
        contrib = (dout * neg).sum(axis=0)
        if self.num_parameters == 1:
            self.grads["alpha"][...] = contrib.sum()
        else:
            self.grads["alpha"][...] = contrib
        return dout * F.prelu_grad(x, self.params["alpha"])

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Maxout(Layer):
    """Maxout unit (Goodfellow et al., 2013): ``pieces`` affine maps per output, keep the max.

    ``W`` has shape ``(out_features * pieces, in_features)``, ``b`` ``(out_features *
    pieces,)``; with ``z = (x @ W.T + b).reshape(N, out_features, pieces)`` the output is
    ``out[n, j] = max_k z[n, j, k]``. Backward sends ``dout[n, j]`` to the winning piece
    only (the first one on a tie), then through the affine map as ``Linear`` does.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        pieces: int = 2,
        init="xavier_uniform",
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_features = V.positive_int("Maxout", "in_features", in_features)
        self.out_features = V.positive_int("Maxout", "out_features", out_features)
        self.pieces = V.positive_int("Maxout", "pieces", pieces)
        init_fn = initializers.get(init, who="Maxout")
        rng = initializers.as_generator(rng, who="Maxout")
        dtype = V.float_dtype("Maxout", dtype)
        rows = self.out_features * self.pieces
        W = init_fn((rows, self.in_features), rng=rng, dtype=dtype)
        self.params["W"] = W
        self.params["b"] = initializers.zeros(rows, dtype=dtype)
        self.grads["W"] = backend.xp.zeros_like(W)
        self.grads["b"] = backend.xp.zeros_like(self.params["b"])

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features)."""
        _check_input(self, x, self.in_features)
        W, b = self.params["W"], self.params["b"]
        if x.dtype != W.dtype:
            x = x.astype(W.dtype)
        z = (x @ W.T + b).reshape(x.shape[0], self.out_features, self.pieces)
        winner = z.argmax(axis=2)  # (N, out_features)
        self.cache = (x, winner)
        xp = get_array_module(z)
        return xp.take_along_axis(z, winner[:, :, None], axis=2)[:, :, 0]

    @skips_input_grad
    def backward(self, dout, input_grad=True):
        """dout: (N, out) -> dx: (N, in); dz is dout at the winning piece, 0 elsewhere."""
        x, winner = self._need_cache()
        n = x.shape[0]
        self._check_dout(dout, (n, self.out_features))
        xp = get_array_module(x)
        if dout.dtype != x.dtype:
            dout = dout.astype(x.dtype)
        dz = xp.zeros((n, self.out_features, self.pieces), dtype=x.dtype)
        xp.put_along_axis(dz, winner[:, :, None], dout[:, :, None], axis=2)
        dz = dz.reshape(n, self.out_features * self.pieces)
        xp.matmul(dz.T, x, out=self.grads["W"])
        dz.sum(axis=0, out=self.grads["b"])
        return dz @ self.params["W"] if input_grad else None

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"pieces={self.pieces}"
        )


class Dropout(Layer):
    """Inverted dropout: in training, drop each unit with probability ``p`` and scale
    the kept ones by 1/(1-p), so the expected activation is unchanged and eval mode
    is the identity (no rescaling at test time).
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        self.p = V.real("Dropout", "p (probability to drop)", p, low=0, high=1, high_open=True)
        self.rng = initializers.as_generator(rng, who="Dropout")
        self._gpu_rng = None

    def _uniform(self, xp, shape, dtype):
        if xp is np:
            return self.rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
        if self._gpu_rng is None:  # seeded from the host generator: same seed, same run
            self._gpu_rng = xp.random.default_rng(int(self.rng.integers(2**63)))
        return self._gpu_rng.random(shape, dtype=dtype)

    def forward(self, x):
        _check_input(self, x)
        if not self.training or self.p == 0.0:
            self.cache = None
            self._eval_shape = x.shape
            return x
        xp = get_array_module(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        mask = (self._uniform(xp, x.shape, dtype) >= self.p).astype(dtype)
        mask *= 1.0 / (1.0 - self.p)
        self.cache = mask
        return x * mask

    def backward(self, dout):
        if self.cache is None:
            if getattr(self, "_eval_shape", None) is None:
                raise ValueError(f"{self}: backward() called before forward()")
            self._check_dout(dout, self._eval_shape)
            return dout
        self._check_dout(dout, self.cache.shape)
        return dout * self.cache

    def extra_repr(self):
        return f"p={self.p}"


class BatchNorm1d(Layer):
    """Batch normalisation (Ioffe & Szegedy, 2015) over a batch ``(N, num_features)``.

    Training: normalise with the batch mean and *biased* batch variance, then scale
    and shift: ``y = gamma * (x - mu) / sqrt(var + eps) + beta``; update the running
    statistics ``running = (1 - momentum) * running + momentum * batch_stat`` (the
    running variance with the unbiased batch variance). Eval: use the running ones.
    """

    _buffers = ("running_mean", "running_var")

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32
    ):
        super().__init__()
        self.num_features = num_features = V.positive_int(
            "BatchNorm1d", "num_features", num_features
        )
        self.eps = V.real("BatchNorm1d", "eps", eps, low=0, low_open=True)
        self.momentum = V.real("BatchNorm1d", "momentum", momentum, low=0, high=1)
        dtype = V.float_dtype("BatchNorm1d", dtype)
        xp = backend.xp
        self.params["gamma"] = xp.ones(num_features, dtype=dtype)
        self.params["beta"] = xp.zeros(num_features, dtype=dtype)
        self.grads["gamma"] = xp.zeros(num_features, dtype=dtype)
        self.grads["beta"] = xp.zeros(num_features, dtype=dtype)
        self.running_mean = xp.zeros(num_features, dtype=dtype)
        self.running_var = xp.ones(num_features, dtype=dtype)

    def forward(self, x):
        """x: (N, D) -> (N, D)."""
        _check_input(self, x, self.num_features)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if x.dtype != gamma.dtype:
            x = x.astype(gamma.dtype)
        xp = get_array_module(x)
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    f"{self}: expected a batch of at least 2 examples in training mode "
                    f"(the batch variance of one example is 0), got N={n}; "
                    "use eval() for single examples"
                )
            mu = x.mean(axis=0)
            xc = x - mu
            var = (xc * xc).mean(axis=0)
            m = self.momentum
            self.running_mean *= 1.0 - m
            self.running_mean += m * mu
            self.running_var *= 1.0 - m
            self.running_var += (m * n / (n - 1)) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        xhat = xc * inv_std
        self.cache = (xhat, inv_std, self.training)
        return gamma * xhat + beta

    def backward(self, dout):
        """Closed form: dx = inv_std / N * (N dxhat - sum dxhat - xhat sum(dxhat xhat))."""
        xhat, inv_std, was_training = self._need_cache()
        self._check_dout(dout, xhat.shape)
        gamma = self.params["gamma"]
        (dout * xhat).sum(axis=0, out=self.grads["gamma"])
        dout.sum(axis=0, out=self.grads["beta"])
        dxhat = dout * gamma
        if not was_training:  # running statistics are constants of x
            return dxhat * inv_std
        n = dout.shape[0]
        return (inv_std / n) * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))

    def extra_repr(self):
        return f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Sequential(Layer):
    """A chain of layers: forward left to right, backward right to left."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if isinstance(layer, type):
                raise TypeError(
                    f"Sequential: layer {i} is the class {layer.__name__}, not a layer; "
                    f"write {layer.__name__}() to make one"
                )
            if not (
                callable(getattr(layer, "forward", None))
                and callable(getattr(layer, "backward", None))
            ):
                raise TypeError(
                    f"Sequential: layer {i} must have forward() and backward(), "
                    f"got {type(layer).__name__}"
                )
        self.layers = list(layers)
        for layer in self.layers:
            if isinstance(layer, Layer):
                layer._nested = True

    def forward(self, x):
        if self.layers:
            _check_input(self, x)
        i = 0
        try:
            for i, layer in enumerate(self.layers):  # noqa: B007  (i names the culprit)
                x = layer.forward(x)
        except (TypeError, ValueError) as err:  # say where in the model; keep the type
            raise type(err)(f"Sequential: layer {i} rejected its input: {err}") from err
        return x

    @skips_input_grad
    def backward(self, dout, input_grad=True):
        """Backpropagate ``dout`` through every layer; return dL/dx (None when
        ``input_grad=False`` and the first layer can skip it, as ``Linear`` does: the
        product that only the data would need, as training loops do)."""
        last = len(self.layers) - 1
        i = last
        try:
            for i in range(last, -1, -1):
                layer = self.layers[i]
                if i == 0 and not input_grad:
                    return _backward_params_only(layer, dout)
                dout = layer.backward(dout)
        except (TypeError, ValueError) as err:  # the last layer checks dout before any change
            raise type(err)(f"Sequential.backward: layer {i} rejected its dout: {err}") from err
        return dout

    def train(self, mode: bool = True):
        self.training = mode = V.boolean("Sequential.train", "mode", mode)
        for layer in self.layers:
            if hasattr(layer, "train"):
                layer.train(mode)
            else:
                layer.training = bool(mode)
        return self

    def parameters(self, prefix: str = ""):
        if not isinstance(prefix, str):
            raise TypeError(f"Sequential.parameters: expected a str prefix, got {prefix!r}")
        for i, layer in enumerate(self.layers):
            if hasattr(layer, "parameters"):
                yield from layer.parameters(prefix=f"{prefix}{i}.")
            else:  # a minimal user layer with only params/grads dicts
                for key in getattr(layer, "params", {}):
                    yield Parameter(f"{prefix}{i}.{key}", layer, key)

    def zero_grad(self):
        for p in self.parameters():
            if p.grad is not None:
                p.grad[...] = 0

    def _map_arrays(self, fn):
        for layer in self.layers:
            if hasattr(layer, "_map_arrays"):
                layer._map_arrays(fn)
        return self

    @property
    def dtype(self):
        for p in self.parameters():
            return p.data.dtype
        return None

    def state_dict(self):
        return {
            f"{i}.{k}": v
            for i, l in enumerate(self.layers)
            if hasattr(l, "state_dict")
            for k, v in l.state_dict().items()
        }

    def load_state_dict(self, state):
        """Load a dict from ``state_dict()``: every layer's part is checked before any
        array is written, so a bad entry leaves the whole model as it was."""
        pairs, others = self._sequential_pairs(state, "Sequential.load_state_dict")
        for target, value in pairs:
            target[...] = value
        for layer, part in others:  # a student's own layer loads (and checks) its part
            layer.load_state_dict(part)
        return self

    def _sequential_pairs(self, state, who, prefix=""):
        if not isinstance(state, dict):
            raise TypeError(f"{who}: expected a dict as from state_dict(), got {V.show(state)}")
        parts: dict = {}
        for k, v in state.items():
            head, _, rest = str(k).partition(".")
            parts.setdefault(head, {})[rest] = v
        expected = {str(i) for i, layer in enumerate(self.layers) if hasattr(layer, "state_dict")}
        extra = sorted(prefix + str(k) for k in state if str(k).partition(".")[0] not in expected)
        if extra:
            raise ValueError(f"{who}: unexpected keys {extra}")
        pairs, others = [], []
        for i, layer in enumerate(self.layers):
            if not hasattr(layer, "state_dict"):
                continue
            part, sub = parts.get(str(i), {}), f"{prefix}{i}."
            if isinstance(layer, Sequential):
                p, o = layer._sequential_pairs(part, who, sub)
                pairs, others = pairs + p, others + o
            elif isinstance(layer, Layer):
                pairs += layer._state_pairs(part, who, sub)
            elif hasattr(layer, "load_state_dict"):
                others.append((layer, part))
        return pairs, others

    def copy(self):
        """A deep copy (independent parameters)."""
        return copy.deepcopy(self)

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        if not self.layers:
            return "Sequential()"
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def modules(model):
    """``model`` and, depth first, every layer inside it (through ``.layers``): the one
    walk over a model, for anything that must visit every layer (modes, buffers, random
    generators), a student's minimal layer without ``.layers`` included."""
    yield model
    for sub in getattr(model, "layers", ()) or ():
        yield from modules(sub)


@contextlib.contextmanager
def eval_mode(model):
    """Run a block with ``model`` in eval mode, then give every layer its own mode back.

    ``with eval_mode(model): scores = model(x)`` is how predictions, plots and
    evaluations are made: Dropout keeps every unit and BatchNorm uses its running
    statistics. Afterwards each layer (the model and every layer inside it) has the
    ``training`` flag it had before, also when the block raises, so a BatchNorm that a
    student froze in eval mode inside a training model stays frozen.
    """
    absent = object()  # a student's minimal layer may have no training flag at all
    modes = [(m, getattr(m, "training", absent)) for m in modules(model)]
    if callable(getattr(model, "eval", None)):
        model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:  # outer first, then inner: inner layers get their own flag
            if mode is absent:
                if hasattr(m, "__dict__"):
                    vars(m).pop("training", None)
            elif isinstance(m, Sequential) or not callable(getattr(m, "train", None)):
                m.training = mode
            else:
                m.train(bool(mode))
