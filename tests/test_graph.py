"""Tests for nncourse.graph: fprop/bprop of every box against numerical gradients
(float64), the same MLP as nncourse.layers to 1e-10, and drawing."""

import matplotlib
import numpy as np
import pytest
from matplotlib.text import Annotation

matplotlib.use("Agg")

from nncourse import graph as G  # noqa: E402
from nncourse import layers as L  # noqa: E402
from nncourse import losses  # noqa: E402


def num_grad(out, leaf, h=1e-5):
    """Central differences of the scalar out.value w.r.t. leaf.value (float64)."""
    v = leaf.value
    g = np.zeros_like(v)
    for idx in np.ndindex(v.shape):
        old = v[idx]
        v[idx] = old + h
        fp = G.forward(out)
        v[idx] = old - h
        fm = G.forward(out)
        v[idx] = old
        g[idx] = (fp - fm) / (2 * h)
    G.forward(out)
    return g


def rel_err(a, b):
    """Largest relative error, with a floor so that tiny entries compare absolutely."""
    return np.max(np.abs(a - b) / np.maximum(1e-4, np.abs(a) + np.abs(b)))


rng = np.random.default_rng(0)


def P(*shape, positive=False):
    v = rng.standard_normal(shape)
    return G.Weight(np.abs(v) + 0.5 if positive else v)


CASES = {
    "add_bias_broadcast": lambda a, b: G.Sum(G.Mul(G.Add(a, b), G.Add(a, b))),
    "sub": lambda a, b: G.Sum(G.Mul(a - b, a)),
    "mul": lambda a, b: G.Mean(a * b * a),
    "matmul": lambda a, b: G.Sum(G.tanh(a @ b.T)),
    "log_exp": lambda a, b: G.Sum(G.Log(G.Exp(a) + G.Exp(b))),
    "sum_axis": lambda a, b: G.Sum(G.Mul(G.Sum(a, axis=0), G.Sum(b, axis=0))),
    "mean_axis": lambda a, b: G.Sum(G.Exp(G.Mean(a * a, axis=1))),
    "mse": lambda a, b: G.MSE(a, b),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bprop_matches_numerical_gradients(name):
    a = P(4, 3)
    b = P(3) if name in ("add_bias_broadcast", "sum_axis") else P(4, 3)
    if name == "matmul":
        b = P(5, 3)
    out = CASES[name](a, b)
    G.forward(out)
    G.backward(out)
    used = [leaf for leaf in (a, b) if any(n is leaf for n in G.topological_order(out))]
    assert a in used
    for leaf in used:
        assert leaf.grad.shape == leaf.value.shape
        assert rel_err(leaf.grad, num_grad(out, leaf)) < 1e-6, name


@pytest.mark.parametrize("fn", sorted(L.ACTIVATIONS))
def test_every_activation_box(fn):
    a = G.Weight(rng.standard_normal((3, 4)) + 0.05)  # away from kinks at 0
    out = G.Sum(G.Mul(G.Activation(a, fn), G.Activation(a, fn)))
    G.forward(out)
    G.backward(out)
    assert rel_err(a.grad, num_grad(out, a)) < 1e-6


def test_scalars_and_shared_nodes():
    x, w = G.Weight(np.array(2.0)), G.Weight(np.array(-3.0))
    y = x * w + x * x  # x used three times: contributions add up
    G.forward(y)
    G.backward(y)
    assert float(y.value) == -2.0
    assert float(x.grad) == pytest.approx(-3.0 + 4.0) and float(w.grad) == pytest.approx(2.0)
    z = 3 * G.Input(2.0) + 1  # python numbers are wrapped as constants
    assert G.forward(z) == 7.0


def test_matmul_with_vectors():
    A, v = P(3, 4), P(4)
    out = G.Sum(G.Exp(A @ v))
    G.forward(out)
    G.backward(out)
    assert rel_err(A.grad, num_grad(out, A)) < 1e-6 and rel_err(v.grad, num_grad(out, v)) < 1e-6


def test_softmax_cross_entropy_box():
    s, y = P(5, 4), np.array([0, 3, 1, 1, 2])
    out = G.SoftmaxCrossEntropy(s, y)
    G.forward(out)
    ref = losses.SoftmaxCrossEntropyLoss()
    assert out.value == pytest.approx(ref.forward(s.value, y), rel=1e-14)
    G.backward(out)
    np.testing.assert_allclose(s.grad, ref.backward(), rtol=1e-12)
    assert rel_err(s.grad, num_grad(out, s)) < 1e-6


def test_topological_order_puts_parents_first_and_fprop_order_matters():
    a, b = P(2), P(2)
    c = a + b
    d = c * a
    out = G.Sum(d + c)
    order = G.topological_order(out)
    pos = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is out and len(order) == 6
    assert all(pos[id(p)] < pos[id(n)] for n in order for p in n.parents)
    with pytest.raises(ValueError, match="forward"):
        G.Sum(a + b).fprop()  # its parent was never fprop'ed


@pytest.mark.parametrize("act, fn", [(L.Tanh, "tanh"), (L.ReLU, "relu")])
def test_graph_reproduces_layers_gradients(act, fn):
    r = np.random.default_rng(1)
    model = L.Sequential(
        L.Linear(6, 8, rng=r, dtype=np.float64), act(), L.Linear(8, 4, rng=r, dtype=np.float64)
    )
    x, y = r.standard_normal((10, 6)), r.integers(0, 4, 10)
    lf = losses.SoftmaxCrossEntropyLoss()
    ref_loss = lf.forward(model.forward(x), y)
    model.backward(lf.backward())
    g = G.from_sequential(model, x, y, lf)
    assert abs(g.forward() - ref_loss) < 1e-12
    grads = g.backward()
    assert set(grads) == {p.name for p in model.parameters()}
    for p in model.parameters():
        np.testing.assert_allclose(grads[p.name], p.grad, rtol=0, atol=1e-10)
        assert np.abs(p.grad).max() > 1e-6  # a real comparison, not zeros
    # the input gradient matches the layers' backward too
    model.forward(x)
    lf.forward(model.forward(x), y)
    dx = model.backward(lf.backward())
    x_node = [n for n in g.nodes if n.name == "x"][0]
    np.testing.assert_allclose(x_node.grad, dx, atol=1e-10)


def test_from_sequential_mse_and_bad_layers():
    r = np.random.default_rng(2)
    model = L.Sequential(
        L.Linear(3, 5, rng=r, dtype=np.float64),
        L.Sigmoid(),
        L.Linear(5, 2, rng=r, dtype=np.float64),
    )
    x, t = r.standard_normal((7, 3)), r.standard_normal((7, 2))
    lf = losses.MSELoss()
    lf.forward(model.forward(x), t)
    model.backward(lf.backward())
    g = G.from_sequential(model, x, t, "mse")
    g.forward()
    grads = g.backward()
    for p in model.parameters():
        np.testing.assert_allclose(grads[p.name], p.grad, atol=1e-12)
    with pytest.raises(ValueError, match="BatchNorm1d"):
        G.from_sequential(L.Sequential(L.BatchNorm1d(3)), x, t, "mse")


@pytest.mark.parametrize(
    "act", [cls for cls in L.ACTIVATIONS.values() if cls not in (L.Identity, L.PReLU)]
)
def test_from_sequential_covers_every_registered_activation(act):
    r = np.random.default_rng(4)
    layer = act(0.2) if act in (L.LeakyReLU, L.ELU) else act()
    model = L.Sequential(L.Linear(3, 4, rng=r, dtype=np.float64), layer)
    x = r.standard_normal((5, 3))
    g = G.from_sequential(model, x, r.standard_normal((5, 4)), "mse")
    box = [n for n in g.nodes if isinstance(n, G.Activation)][0]
    assert box.fn == act.name and box.kwargs == layer._kwargs()
    g.forward()
    np.testing.assert_allclose(box.value, model.forward(x), atol=1e-12)


def test_from_sequential_rejects_prelu_and_activation_checks_its_arguments():
    model = L.Sequential(L.Linear(3, 4), L.PReLU())
    with pytest.raises(ValueError, match=r"from_sequential: .*PReLU at position 1"):
        G.from_sequential(model, np.ones((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"Activation: expected fn one of \['relu'"):
        G.Activation(G.Input(np.ones(2)), "swish")
    with pytest.raises(TypeError, match=r"Activation: 'tanh' takes .*\[\], got \['alpha'\]"):
        G.Activation(G.Input(np.ones(2)), "tanh", alpha=1.0)


def test_draw_renders_png(tmp_path):
    r = np.random.default_rng(3)
    model = L.Sequential(
        L.Linear(2, 3, rng=r, dtype=np.float64), L.Tanh(), L.Linear(3, 2, rng=r, dtype=np.float64)
    )
    g = G.from_sequential(model, r.standard_normal((4, 2)), np.array([0, 1, 1, 0]), "softmax_ce")
    ax = G.draw(g.output)  # before forward: values unknown
    assert any("?" in t.get_text() for t in ax.texts)
    g.forward()
    g.backward()
    ax = g.draw()
    texts = [t.get_text() for t in ax.texts if not isinstance(t, Annotation)]
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(texts) == len(g.nodes) and any(t.startswith("softmax CE") for t in texts)
    assert all("g: " in t for t in texts)
    assert len(arrows) == sum(len(n.parents) for n in g.nodes)  # one arrow per edge
    ax.figure.savefig(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
    ax2 = G.draw(g.output, show_values=False, show_grads=False)
    assert all("v: " not in t.get_text() for t in ax2.texts)
