"""The flow graph of the notes: forward and backward propagation over a DAG of boxes.

Each box (a :class:`Node`) is an object with

- ``fprop()``: compute ``self.value`` from the values of its parents;
- ``bprop()``: given ``self.grad`` (dLoss/dvalue), *add* dLoss/dparent into each
  parent's ``.grad`` (a parent used twice receives two contributions).

Calling ``fprop`` on every box in topological order is forward propagation
(:func:`forward`); calling ``bprop`` in the reverse order is backpropagation
(:func:`backward`). Values may be Python scalars or arrays of any shape; ``Add`` and
``Mul`` broadcast like NumPy (a bias ``(H,)`` added to ``(N, H)``) and their ``bprop``
sums the gradient back over the broadcast axes.

Build graphs with the node classes or with operators::

    x, W, b = Input(X, "x"), Weight(W0, "W"), Weight(b0, "b")
    h = tanh(x @ W.T + b)
    L = SoftmaxCrossEntropy(h @ V.T + c, y)
    forward(L); backward(L)       # now W.grad, b.grad, ... hold dL/dW, dL/db
    draw(L)                       # the graph, with values and gradients

Nothing is computed when a node is built: values appear after :func:`forward`.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod

import numpy as np

from . import functional as F
from . import layers as L
from . import losses as losses_mod
from . import validation as V
from .backend import get_array_module

__all__ = [
    "Node",
    "Input",
    "Weight",
    "Add",
    "Sub",
    "Mul",
    "MatMul",
    "Transpose",
    "Activation",
    "Sum",
    "Mean",
    "Log",
    "Exp",
    "SoftmaxCrossEntropy",
    "MSE",
    "tanh",
    "sigmoid",
    "relu",
    "topological_order",
    "forward",
    "backward",
    "Graph",
    "from_sequential",
    "draw",
]


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched to get ``shape``."""
    if np.shape(grad) == tuple(shape):
        return grad
    xp = get_array_module(grad)
    grad = xp.asarray(grad)
    while grad.ndim > len(shape):  # leading axes added by broadcasting
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:  # axes of length 1 stretched
            grad = grad.sum(axis=axis, keepdims=True)
    return grad if len(shape) else grad.reshape(())


def _broadcast_shape(node, a, b):
    """The broadcast shape of two operands, or a ValueError naming the box."""
    try:
        return np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ValueError(
            f"{node}.fprop: expected operands that broadcast (same shape, or 1 / missing "
            f"along an axis), got shapes {np.shape(a)} and {np.shape(b)}"
        ) from None


def _wrap(v, who="Node"):
    """Nodes pass through; a plain number or array becomes a constant Input leaf."""
    if isinstance(v, Node):
        return v
    if not _is_value(v):
        raise TypeError(
            f"{who}: expected nodes, numbers or real arrays as operands, got {V.show(v)}"
        )
    return Input(v, name=_short(v) if np.ndim(v) == 0 else None)


def _is_value(v) -> bool:
    """A real number or a real (float/int) array: what a leaf may hold."""
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, numbers.Real):
        return True
    return hasattr(v, "dtype") and hasattr(v, "shape") and v.dtype.kind in "fiu"


class Node(ABC):
    """A box of the flow graph: ``parents``, ``value`` (after fprop), ``grad`` (after bprop).

    Each kind of box defines its own ``fprop`` and ``bprop``, next to each other."""

    op = "node"

    def __init__(self, *parents, name=None):
        self.parents = tuple(_wrap(p, type(self).__name__) for p in parents)
        self.name = name
        self.value = None
        self.grad = None

    @abstractmethod
    def fprop(self):
        """Compute ``self.value`` from the parents' values."""

    @abstractmethod
    def bprop(self):
        """Add this box's share of the gradient into each parent's ``grad``."""

    def _vals(self):
        vals = [p.value for p in self.parents]
        if any(v is None for v in vals):
            raise ValueError(
                f"{self}.fprop: a parent has no value yet; call forward(output) so that "
                "parents are computed first (topological order)"
            )
        return vals

    # operator sugar, so that graphs read like the formulas
    def __add__(self, other):
        return Add(self, other)

    def __radd__(self, other):
        return Add(other, self)

    def __sub__(self, other):
        return Sub(self, other)

    def __rsub__(self, other):
        return Sub(other, self)

    def __mul__(self, other):
        return Mul(self, other)

    def __rmul__(self, other):
        return Mul(other, self)

    def __matmul__(self, other):
        return MatMul(self, other)

    @property
    def T(self):
        return Transpose(self)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})" if self.name else f"{type(self).__name__}()"


# ----------------------------------------------------------------------------- leaves


class Input(Node):
    """A leaf holding data (``x``, a constant); it receives a gradient like any box."""

    op = "input"

    def __init__(self, value, name=None):
        super().__init__(name=name)
        if not _is_value(value):
            raise TypeError(
                f"{type(self).__name__}: expected a number or a real array as value, "
                f"got {V.show(value)}"
            )
        self.value = value

    def fprop(self):
        pass  # the value is given

    def bprop(self):
        pass  # nothing above a leaf


class Weight(Input):
    """A leaf holding a trainable array (a weight matrix, a bias): the graph's view of a
    layer's parameter (``nncourse.layers.Parameter`` is the optimiser's handle on it)."""

    op = "weight"


# ----------------------------------------------------------------------------- arithmetic


class Add(Node):
    """a + b (NumPy broadcasting); d/da = d/db = 1, summed back over broadcast axes."""

    op = "+"

    def fprop(self):
        a, b = self._vals()
        _broadcast_shape(self, a, b)
        self.value = a + b

    def bprop(self):
        a, b = self.parents
        a.grad += _unbroadcast(self.grad, np.shape(a.value))
        b.grad += _unbroadcast(self.grad, np.shape(b.value))


class Sub(Node):
    """a - b; d/da = 1, d/db = -1."""

    op = "-"

    def fprop(self):
        a, b = self._vals()
        _broadcast_shape(self, a, b)
        self.value = a - b

    def bprop(self):
        a, b = self.parents
        a.grad += _unbroadcast(self.grad, np.shape(a.value))
        b.grad -= _unbroadcast(self.grad, np.shape(b.value))


class Mul(Node):
    """Element-wise a * b; d/da = b, d/db = a."""

    op = "*"

    def fprop(self):
        a, b = self._vals()
        _broadcast_shape(self, a, b)
        self.value = a * b

    def bprop(self):
        a, b = self.parents
        a.grad += _unbroadcast(self.grad * b.value, np.shape(a.value))
        b.grad += _unbroadcast(self.grad * a.value, np.shape(b.value))


class MatMul(Node):
    """a @ b for 1-D or 2-D a, b: d/da = g @ b^T, d/db = a^T @ g.

    A 1-D ``a`` acts as a row (1, K), a 1-D ``b`` as a column (K, 1).
    """

    op = "@"

    def fprop(self):
        a, b = self._vals()
        if np.ndim(a) not in (1, 2) or np.ndim(b) not in (1, 2):
            raise ValueError(
                f"MatMul: expected 1-D or 2-D operands, got shapes {np.shape(a)} and {np.shape(b)}"
            )
        if np.shape(a)[-1] != np.shape(b)[0]:
            raise ValueError(
                f"{self}.fprop: expected a (.., K) @ b (K, ..) with the same K, got shapes "
                f"{np.shape(a)} and {np.shape(b)}"
            )
        self.value = a @ b

    def bprop(self):
        a, b = self.parents
        A = a.value if a.value.ndim == 2 else a.value[None, :]
        B = b.value if b.value.ndim == 2 else b.value[:, None]
        g = self.grad.reshape(A.shape[0], B.shape[1])
        a.grad += (g @ B.T).reshape(a.value.shape)
        b.grad += (A.T @ g).reshape(b.value.shape)


class Transpose(Node):
    """a.T of a 2-D array (``x @ W.T`` with W of shape (out, in), as in ``Linear``)."""

    op = "T"

    def fprop(self):
        (a,) = self._vals()
        self.value = a.T

    def bprop(self):
        self.parents[0].grad += self.grad.T


# ----------------------------------------------------------------------------- element-wise


class Activation(Node):
    """g(a) for a named activation of ``nncourse.layers.ACTIVATIONS``
    (``'tanh'``, ``'sigmoid'``, ``'relu'``, ...); bprop multiplies by g'(a).

    Keyword arguments are the activation's hyper-parameters (``negative_slope=0.1``)."""

    def __init__(self, a, fn="tanh", name=None, **kwargs):
        if not isinstance(fn, str) or fn not in L.ACTIVATIONS:
            raise ValueError(f"Activation: expected fn one of {list(L.ACTIVATIONS)}, got {fn!r}")
        cls = L.ACTIVATIONS[fn]
        g, g_prime, defaults = cls.function, cls.derivative, cls.hyper_parameters()
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise TypeError(
                f"Activation: {fn!r} takes the hyper-parameters {sorted(defaults)}, got {unknown}"
            )
        super().__init__(a, name=name)
        self.fn = fn
        self._g, self._g_prime = g, g_prime
        self.kwargs = {**defaults, **kwargs}
        self.op = fn

    def fprop(self):
        (a,) = self._vals()
        self.value = self._g(a, **self.kwargs)

    def bprop(self):
        a = self.parents[0]
        a.grad += self.grad * self._g_prime(a.value, **self.kwargs)


def tanh(a, name=None):
    return Activation(a, "tanh", name=name)


def sigmoid(a, name=None):
    return Activation(a, "sigmoid", name=name)


def relu(a, name=None):
    return Activation(a, "relu", name=name)


class Log(Node):
    """Natural log; d/da = 1 / a."""

    op = "log"

    def fprop(self):
        (a,) = self._vals()
        if isinstance(a, np.ndarray | numbers.Real) and not np.all(np.asarray(a) > 0):
            raise ValueError(f"{self}.fprop: expected positive values to take the log of, got {a}")
        self.value = get_array_module(a).log(a)

    def bprop(self):
        a = self.parents[0]
        a.grad += self.grad / a.value


class Exp(Node):
    """e^a; d/da = e^a (the value itself)."""

    op = "exp"

    def fprop(self):
        (a,) = self._vals()
        self.value = get_array_module(a).exp(a)

    def bprop(self):
        self.parents[0].grad += self.grad * self.value


# ----------------------------------------------------------------------------- reductions


class Sum(Node):
    """Sum over ``axis`` (all elements when None); bprop copies the gradient back."""

    op = "sum"

    def __init__(self, a, axis=None, name=None):
        super().__init__(a, name=name)
        if axis is not None:
            V.integer(type(self).__name__, "axis (or None)", axis)
        self.axis = axis

    def fprop(self):
        (a,) = self._vals()
        self._check_axis(a)
        self.value = get_array_module(a).sum(a, axis=self.axis)

    def _check_axis(self, a):
        if self.axis is not None and not -np.ndim(a) <= self.axis < np.ndim(a):
            raise ValueError(
                f"{self}.fprop: expected axis in [{-np.ndim(a)}, {np.ndim(a) - 1}] for a value "
                f"of shape {np.shape(a)}, got {self.axis}"
            )

    def _spread(self, g):
        a = self.parents[0].value
        xp = get_array_module(a)
        if self.axis is not None:
            g = xp.expand_dims(g, self.axis)
        return xp.broadcast_to(g, np.shape(a))

    def bprop(self):
        self.parents[0].grad += self._spread(self.grad)


class Mean(Sum):
    """Mean over ``axis`` (all elements when None); bprop spreads g / count."""

    op = "mean"

    def fprop(self):
        (a,) = self._vals()
        self._check_axis(a)
        self.value = get_array_module(a).mean(a, axis=self.axis)

    def bprop(self):
        a = self.parents[0].value
        count = np.size(a) // max(np.size(self.value), 1)
        self.parents[0].grad += self._spread(self.grad) / count


# ----------------------------------------------------------------------------- losses


class SoftmaxCrossEntropy(Node):
    """Mean over the batch of -log softmax(s)_y; ``scores`` (N, C), integer ``y`` (N,).

    bprop: (softmax(s) - onehot(y)) / N into the scores (the labels are data).
    """

    op = "softmax CE"

    def __init__(self, scores, y, name=None):
        super().__init__(scores, name=name)
        self.y = y

    def fprop(self):
        (s,) = self._vals()
        if np.ndim(s) != 2 or np.shape(self.y) != (np.shape(s)[0],):
            raise ValueError(
                f"SoftmaxCrossEntropy: expected scores (N, C) and labels (N,), "
                f"got {np.shape(s)} and {np.shape(self.y)}"
            )
        y = self.y if hasattr(self.y, "dtype") else np.asarray(self.y)
        if y.dtype.kind not in "iu":
            raise TypeError(
                f"SoftmaxCrossEntropy: expected integer class labels y, got "
                f"{getattr(y, 'dtype', type(y).__name__)}"
            )
        if isinstance(y, np.ndarray) and y.size and (y.min() < 0 or y.max() >= s.shape[1]):
            raise ValueError(
                f"SoftmaxCrossEntropy: expected labels in [0, {s.shape[1] - 1}] for "
                f"{s.shape[1]} classes, got values from {y.min()} to {y.max()}"
            )
        xp = get_array_module(s)
        self._logp = F.log_softmax(s, axis=1)
        self._rows = xp.arange(s.shape[0])
        self.value = -self._logp[self._rows, self.y].mean()

    def bprop(self):
        xp = get_array_module(self._logp)
        d = xp.exp(self._logp)
        d[self._rows, self.y] -= 1.0
        self.parents[0].grad += self.grad * d / d.shape[0]


class MSE(Node):
    """Mean over all elements of (pred - target)^2 (``target`` may be a node or an array)."""

    op = "MSE"

    def __init__(self, pred, target, name=None):
        super().__init__(pred, target, name=name)

    def fprop(self):
        p, t = self._vals()
        if np.shape(p) != np.shape(t):
            raise ValueError(
                f"MSE: expected prediction and target of the same shape, "
                f"got {np.shape(p)} and {np.shape(t)}"
            )
        self._diff = p - t
        self.value = (self._diff * self._diff).mean()

    def bprop(self):
        g = self.grad * (2.0 / np.size(self._diff)) * self._diff
        self.parents[0].grad += g
        self.parents[1].grad -= g


# ----------------------------------------------------------------------------- propagation


def topological_order(output: Node, who="topological_order") -> list[Node]:
    """Every node ``output`` depends on, each after all of its parents (output last)."""
    if not isinstance(output, Node):
        raise TypeError(f"{who}: expected a Node (the graph's output), got {V.show(output)}")
    order, done, stack = [], set(), [(output, False)]
    while stack:  # iterative depth-first search (no recursion limit on deep graphs)
        node, parents_done = stack.pop()
        if parents_done:
            if id(node) not in done:
                done.add(id(node))
                order.append(node)
            continue
        if id(node) in done:
            continue
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents) if id(p) not in done)
    return order


def forward(output: Node):
    """fprop every box in topological order; returns ``output.value``."""
    for node in topological_order(output, "forward"):
        node.fprop()
    return output.value


def backward(output: Node):
    """bprop every box in reverse topological order, starting from d output/d output = 1.

    Sets ``.grad`` on every node of the graph (zeros first, so contributions add up).
    Call :func:`forward` first.
    """
    order = topological_order(output, "backward")
    for node in order:
        if node.value is None:
            raise ValueError(f"backward: {node} has no value; call forward(output) first")
        node.grad = _zeros_like(node.value)
    output.grad = _zeros_like(output.value) + 1.0
    for node in reversed(order):
        node.bprop()


def _zeros_like(v):
    if np.ndim(v) == 0 and not hasattr(v, "shape"):
        return 0.0
    return get_array_module(v).zeros_like(v, dtype=np.result_type(v.dtype, np.float32))


class Graph:
    """A flow graph seen from its output: ``nodes`` (topological), ``forward()``,
    ``backward()``, ``parameters`` (name -> Weight node) and ``draw()``."""

    def __init__(self, output: Node, parameters: dict | None = None):
        self.output = output
        self.nodes = topological_order(output)
        if parameters is None:
            parameters = {
                (n.name or f"param{i}"): n
                for i, n in enumerate(n for n in self.nodes if isinstance(n, Weight))
            }
        self.parameters = parameters

    def forward(self):
        for node in self.nodes:
            node.fprop()
        return self.output.value

    def backward(self):
        backward(self.output)
        return {name: p.grad for name, p in self.parameters.items()}

    def draw(self, ax=None, show_values=True, show_grads=True):
        return draw(self.output, ax=ax, show_values=show_values, show_grads=show_grads)

    def __repr__(self):
        return f"Graph({len(self.nodes)} nodes, output={self.output!r})"


def from_sequential(model, x, y, loss="softmax_ce") -> Graph:
    """The flow graph of a ``Sequential`` of Linear layers and activations on a batch.

    ``Linear`` becomes ``x @ W.T + b`` with Weight nodes that share the layer's
    arrays (named like ``model.parameters()``: ``'0.W'``, ``'0.b'``, ...); activation
    layers become :class:`Activation` boxes. ``loss`` is ``'softmax_ce'``/``'mse'`` or a
    ``SoftmaxCrossEntropyLoss``/``MSELoss`` object. Returns a :class:`Graph` (not yet
    propagated: call ``g.forward()`` then ``g.backward()``).
    """
    V.array("from_sequential", "x", x, ndim=2, kinds="fiu")
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    if not isinstance(model, L.Layer):
        raise TypeError(f"from_sequential: expected a Sequential or a layer, got {V.show(model)}")
    if not (isinstance(loss, str) or isinstance(loss, losses_mod.Loss)):
        raise TypeError(
            f"from_sequential: expected loss 'softmax_ce' or 'mse' or a loss object, "
            f"got {V.show(loss)}"
        )

    activations = set(L.ACTIVATIONS.values())
    h, params = Input(x, name="x"), {}
    for i, layer in enumerate(getattr(model, "layers", [model])):
        if isinstance(layer, L.Linear):
            W = params[f"{i}.W"] = Weight(layer.params["W"], name=f"{i}.W")
            h = MatMul(h, W.T, name=f"{i}.xW")
            if "b" in layer.params:
                b = params[f"{i}.b"] = Weight(layer.params["b"], name=f"{i}.b")
                h = Add(h, b, name=f"{i}.a")
        elif type(layer) is L.Identity:
            continue
        elif type(layer) in activations and not layer.params:
            h = Activation(h, layer.name, name=f"{i}.h", **layer._kwargs())
        else:
            raise ValueError(
                f"from_sequential: expected Linear or activation layers without trainable "
                f"parameters, got {type(layer).__name__} at position {i} (it has no "
                "flow-graph box)"
            )
    if loss == "softmax_ce" or isinstance(loss, losses_mod.SoftmaxCrossEntropyLoss):
        out = SoftmaxCrossEntropy(h, y, name="loss")
    elif loss == "mse" or isinstance(loss, losses_mod.MSELoss):
        out = MSE(h, Input(y, name="y"), name="loss")
    else:
        raise ValueError(f"from_sequential: expected loss 'softmax_ce' or 'mse', got {loss!r}")
    return Graph(out, params)


# ----------------------------------------------------------------------------- drawing


def _short(v) -> str:
    """A one-line summary of a value or gradient: the number, or shape and mean."""
    if v is None:
        return "?"
    if np.ndim(v) == 0:
        return f"{float(v):.4g}"
    if np.size(v) <= 3:
        return "[" + ", ".join(f"{float(e):.3g}" for e in np.ravel(v)) + "]"
    shape = "x".join(str(s) for s in np.shape(v))
    return f"{shape}, mean {float(v.mean()):.3g}"


def _layout(graph_nodes):
    """Where each box goes: its column is its depth (the longest path from a leaf), so
    every arrow points right. Returns ``({id(node): (x, y)}, columns, most boxes in one)``."""
    depth = {}
    for node in graph_nodes:  # parents come first
        depth[id(node)] = 1 + max((depth[id(p)] for p in node.parents), default=-1)
    children: dict[int, list[Node]] = {}
    for node in graph_nodes:
        for p in node.parents:
            children.setdefault(id(p), []).append(node)
    for node in graph_nodes:  # a leaf sits just left of its first user: short arrows
        if not node.parents and id(node) in children:
            depth[id(node)] = min(depth[id(c)] for c in children[id(node)]) - 1
    columns: dict[int, list[Node]] = {}
    for node in graph_nodes:
        columns.setdefault(depth[id(node)], []).append(node)
    pos = {}
    for d in sorted(columns):
        nodes = columns[d]
        # order a column by the mean height of the parents already placed: fewer crossings
        nodes.sort(
            key=lambda n: -np.mean([pos[id(p)][1] for p in n.parents if id(p) in pos] or [0.0])
        )
        for k, node in enumerate(nodes):
            pos[id(node)] = (float(d), (len(nodes) - 1) / 2.0 - k)
    return pos, max(columns) + 1, max(len(c) for c in columns.values())


def draw(output, ax=None, show_values=True, show_grads=True):
    """Draw the flow graph that ends at ``output`` with matplotlib (no graphviz).

    Layered layout: a box's column is its depth (longest path from a leaf), so every
    arrow points right, from parent to child. Boxes show the op (or name) and, when
    asked and known, the value and the gradient summaries. Returns the Axes.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415  (drawing only when asked)

    graph_nodes = output.nodes if isinstance(output, Graph) else topological_order(output)
    pos, n_cols, n_rows = _layout(graph_nodes)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 2.3 * n_cols), max(2.5, 1.1 * n_rows + 0.5)))

    boxes = {}
    for node in graph_nodes:
        if isinstance(node, Input):
            title = node.name or node.op
        else:
            title = f"{node.op}  ({node.name})" if node.name else node.op
        lines = [title]
        if show_values:
            lines.append(f"v: {_short(node.value)}")
        if show_grads and node.grad is not None:
            lines.append(f"g: {_short(node.grad)}")
        leaf = isinstance(node, Input)
        color = "#fde9c9" if isinstance(node, Weight) else "#dce9f7" if leaf else "#e3f2df"
        x, y = pos[id(node)]
        boxes[id(node)] = ax.text(
            x,
            y,
            "\n".join(lines),
            ha="center",
            va="center",
            fontsize=8,
            zorder=3,
            bbox=dict(boxstyle="round,pad=0.4", fc=color, ec="0.3"),
        )
    for node in graph_nodes:  # arrows from the right edge of a parent to the left of a child
        for p in node.parents:
            ax.annotate(
                "",
                xy=(0.0, 0.5),
                xycoords=boxes[id(node)],
                xytext=(1.0, 0.5),
                textcoords=boxes[id(p)],
                arrowprops=dict(arrowstyle="-|>", color="0.4", shrinkA=5, shrinkB=5),
                zorder=2,
            )
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-n_rows / 2.0 - 0.2, n_rows / 2.0 + 0.2)
    ax.set_axis_off()
    return ax
