"""Tests for nncourse.viz: every plot renders headlessly and shows what it claims."""

import io
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nncourse import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def png_bytes(fig, dpi=50):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = buf.getvalue()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
    return data


def mesh_labels(ax):
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    rows, cols = mesh.get_coordinates().shape[:2]  # cell corners: one more than cells
    return np.asarray(mesh.get_array()).reshape(rows - 1, cols - 1)


# ----------------------------------------------------------------------------- decision regions

X4 = np.array([[-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]])


def test_decision_regions_linear_callable_splits_plane():
    y = np.array([0, 0, 1, 1])
    ax = viz.decision_regions(lambda p: p[:, 0], X4, y, resolution=41, show_points=False)
    assert isinstance(ax, Axes)
    labels = mesh_labels(ax)
    assert labels.shape == (41, 41)
    xs = np.linspace(-2.5, 2.5, 41)
    np.testing.assert_array_equal(labels[:, xs < 0], 0)
    np.testing.assert_array_equal(labels[:, xs > 0], 1)

    # The rendered picture shows two different colours left and right of x = 0.
    img = mpimg.imread(io.BytesIO(png_bytes(ax.figure, dpi=ax.figure.dpi)))
    bbox = ax.get_window_extent()
    h = img.shape[0]
    row = int(h - (bbox.y0 + bbox.y1) / 2)
    left = img[row, int(bbox.x0 + 0.25 * bbox.width), :3]
    right = img[row, int(bbox.x0 + 0.75 * bbox.width), :3]
    left2 = img[row, int(bbox.x0 + 0.1 * bbox.width), :3]
    assert np.abs(left - right).max() > 0.1
    np.testing.assert_allclose(left, left2, atol=0.02)


def test_decision_regions_pm1_labels_and_scatter():
    y = np.array([-1, -1, 1, 1])
    ax = viz.decision_regions(lambda p: p[:, 1] - 0.0, X4, y, resolution=30)
    labels = mesh_labels(ax)  # indices into the sorted classes (-1, +1)
    ys = np.linspace(-2.5, 2.5, 30)
    np.testing.assert_array_equal(labels[ys < 0, :], 0)
    np.testing.assert_array_equal(labels[ys > 0, :], 1)
    assert len(ax.collections) == 2  # regions + points
    assert ax.collections[1].get_offsets().shape == (4, 2)


class ArgmaxModel:
    """Minimal object with forward: scores (M, 3); class 0 for x1 < -0.5, 1 between, 2 above."""

    def __init__(self):
        self.training = True
        self.calls = []

    def forward(self, x):
        self.calls.append(self.training)
        return np.stack([-x[:, 0] - 1, -np.abs(x[:, 0]), x[:, 0] - 1], axis=1)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


def test_decision_regions_model_forward_argmax_in_eval_mode():
    model = ArgmaxModel()
    X = np.array([[-3.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    ax = viz.decision_regions(model, X, np.array([0, 1, 2]), resolution=61, padding=0.0)
    labels = mesh_labels(ax)
    xs = np.linspace(-3, 3, 61)
    np.testing.assert_array_equal(labels[:, xs < -0.51], 0)
    np.testing.assert_array_equal(labels[:, np.abs(xs) < 0.49], 1)
    np.testing.assert_array_equal(labels[:, xs > 0.51], 2)
    assert model.calls == [False] and model.training is True  # eval for the plot, restored


def test_decision_regions_nncourse_model_single_output():
    layers = pytest.importorskip("nncourse.layers")
    lin = layers.Linear(2, 1, rng=np.random.default_rng(0))
    lin.params["W"][...] = [[1.0, 1.0]]
    lin.params["b"][...] = 0.0
    ax = viz.decision_regions(layers.Sequential(lin), X4, np.array([0, 0, 1, 1]), resolution=21)
    labels = mesh_labels(ax)
    g = np.linspace(-2.5, 2.5, 21)
    xx, yy = np.meshgrid(g, g)
    np.testing.assert_array_equal(labels[xx + yy > 1e-9], 1)
    np.testing.assert_array_equal(labels[xx + yy < -1e-9], 0)


def test_decision_regions_honours_ax_and_errors():
    fig, (a, b) = plt.subplots(1, 2)
    out = viz.decision_regions(lambda p: (p[:, 0] > 0).astype(int), X4, None, ax=b, resolution=10)
    assert out is b and not a.collections and b.collections
    png_bytes(fig)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        viz.decision_regions(lambda p: p[:, 0], np.zeros((3, 3)), None)
    with pytest.raises(ValueError, match="returned shape"):
        viz.decision_regions(lambda p: p[:5], X4, None)
    with pytest.raises(TypeError, match="callable"):
        viz.decision_regions(42, X4, None)


# ----------------------------------------------------------------------------- training curves


def test_training_curves_two_axes():
    h = SimpleNamespace(
        train_loss=[1.0, 0.5, 0.3], val_loss=[1.1, 0.7, 0.6], train_acc=[0.5, 0.8, 0.9], val_acc=[]
    )
    fig = viz.training_curves(h)
    assert isinstance(fig, Figure)
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.get_lines()) == 2 and len(ax_acc.get_lines()) == 1
    np.testing.assert_array_equal(ax_loss.get_lines()[0].get_ydata(), h.train_loss)
    np.testing.assert_array_equal(ax_loss.get_lines()[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax_acc.get_lines()[0].get_ydata(), h.train_acc)
    png_bytes(fig)


def test_training_curves_single_ax_twin_and_dict():
    fig, ax = plt.subplots()
    h = {
        "train_loss": [2.0, 1.0],
        "val_loss": [2.5, 1.5],
        "train_acc": [0.1, 0.6],
        "val_acc": [0.1, 0.5],
    }
    out = viz.training_curves(h, ax=ax)
    assert out is fig
    assert len(fig.axes) == 2  # ax + its twin for accuracy
    assert len(ax.get_lines()) == 2 and len(fig.axes[1].get_lines()) == 2
    png_bytes(fig)


def test_training_curves_no_accuracy_and_errors():
    fig = viz.training_curves(SimpleNamespace(train_loss=[1.0, 0.9], val_loss=[]))
    assert len(fig.axes[0].get_lines()) == 1 and not fig.axes[1].get_lines()
    png_bytes(fig)
    with pytest.raises(ValueError, match="no train_loss"):
        viz.training_curves(SimpleNamespace(train_loss=[], val_loss=[]))


# ------------------------------------------------------------------------- activation histograms


def test_activation_histograms_list():
    rng = np.random.default_rng(0)
    acts = [np.tanh(rng.standard_normal((100, 20)) * s) for s in (2.0, 1.0, 0.1)]
    fig = viz.activation_histograms(acts)
    assert isinstance(fig, Figure)
    stats, *hists = fig.axes
    assert len(hists) == 3
    means, stds = (line.get_ydata() for line in stats.get_lines())
    np.testing.assert_allclose(stds, [a.std() for a in acts])
    np.testing.assert_allclose(means, [a.mean() for a in acts])
    for a_hist, a in zip(hists, acts):
        assert len(a_hist.patches) == 30  # one bar per bin
        assert sum(p.get_height() for p in a_hist.patches) == a.size
        assert f"std {a.std():.3g}" in a_hist.get_title()
    # shared range: identical bin edges in every panel
    assert len({hist.patches[0].get_x() for hist in hists}) == 1
    png_bytes(fig)


def test_activation_histograms_dict_ax_and_title():
    grads = {"fc1": np.ones(10), "fc2": np.zeros(10)}
    fig, axes = plt.subplots(1, 3)
    out = viz.activation_histograms(grads, ax=axes, title="gradients", bins=5)
    assert out is fig
    assert axes[0].get_title().startswith("gradients")
    assert axes[1].get_title().startswith("fc1") and len(axes[2].patches) == 5
    png_bytes(fig)
    with pytest.raises(ValueError, match="expected 3 axes"):
        viz.activation_histograms(grads, ax=axes[:2])
    with pytest.raises(ValueError, match="no activations"):
        viz.activation_histograms([])


# ----------------------------------------------------------------------------- weight images


def test_weight_images_mosaic():
    W = np.arange(10 * 64, dtype=float).reshape(10, 64)
    ax = viz.weight_images(W, shape=(8, 8), ncols=5)
    assert isinstance(ax, Axes)
    (image,) = ax.get_images()
    mosaic = np.ma.filled(image.get_array(), np.nan)
    assert mosaic.shape == (2 * 9 - 1, 5 * 9 - 1)
    # each tile is its row reshaped and scaled to [0, 1]
    np.testing.assert_allclose(mosaic[:8, :8], np.linspace(0, 1, 64).reshape(8, 8))
    np.testing.assert_allclose(mosaic[9:17, 36:44], np.linspace(0, 1, 64).reshape(8, 8))
    assert np.isnan(mosaic[8, :]).all() and np.isnan(mosaic[:, 8]).all()  # gaps
    png_bytes(ax.figure)


def test_weight_images_layer_global_and_ax():
    layers = pytest.importorskip("nncourse.layers")
    lin = layers.Linear(16, 3, rng=np.random.default_rng(0))
    fig, ax = plt.subplots()
    out = viz.weight_images(lin, shape=(4, 4), ax=ax, normalize="global")
    assert out is ax
    mosaic = np.ma.filled(ax.get_images()[0].get_array(), np.nan)
    assert mosaic.shape == (9, 9)  # 3 tiles in a 2x2 grid, one empty
    assert np.isnan(mosaic[5:, 5:]).all()
    W = lin.params["W"]
    np.testing.assert_allclose(
        mosaic[:4, :4], ((W[0] - W.min()) / (W.max() - W.min())).reshape(4, 4), rtol=1e-6
    )
    png_bytes(fig)
    with pytest.raises(ValueError, match=r"\(out, 64\)"):
        viz.weight_images(np.zeros((3, 60)))


# ----------------------------------------------------------------------------- activation plot


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_activation_plot_shading_and_lines():
    ax = viz.activation_plot(sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)), x_range=(-8, 8))
    assert isinstance(ax, Axes)
    f_line, df_line = ax.get_lines()[:2]
    x = f_line.get_xdata()
    np.testing.assert_allclose(df_line.get_ydata(), sigmoid(x) * (1 - sigmoid(x)))
    (shade,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    # shaded where sigma'(x) < 0.05, i.e. |x| > 2.89; the centre is not shaded
    xs_shaded = np.concatenate([p.vertices[:, 0] for p in shade.get_paths()])
    assert xs_shaded.min() < -7 and xs_shaded.max() > 7
    assert not np.any(np.abs(xs_shaded) < 2.85)
    assert np.any(np.abs(xs_shaded) < 2.95)
    png_bytes(ax.figure)


def test_activation_plot_numeric_derivative_no_shade_and_ax():
    fig, ax = plt.subplots()
    out = viz.activation_plot(lambda x: 2 * x, ax=ax)
    assert out is ax
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), 2.0, rtol=1e-6)
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # never saturated
    relu = viz.activation_plot(lambda x: np.maximum(x, 0), shade_saturated=False)
    assert not relu.collections
    png_bytes(fig)


# ----------------------------------------------------------------------------- loss surface


def test_loss_surface_with_trajectories():
    def f(p):
        return p[:, 0] ** 2 + 10 * p[:, 1] ** 2

    paths = {
        "sgd": np.array([[2.0, 1.0], [1.0, 0.5], [0.0, 0.0]]),
        "adam": [[2.0, 1.0], [1.5, 0.0]],
    }
    ax = viz.loss_surface(f, (-3, 3), (-2, 2), paths, levels=12, resolution=50)
    assert isinstance(ax, Axes)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["sgd", "adam"]
    np.testing.assert_array_equal(lines[0].get_xydata(), paths["sgd"])
    assert ax.get_legend() is not None
    assert ax.collections  # the contour set
    png_bytes(ax.figure)


def test_loss_surface_ax_filled_and_errors():
    fig, ax = plt.subplots()
    out = viz.loss_surface(lambda p: (p**2).sum(axis=1), (-1, 1), (-1, 1), ax=ax, filled=True)
    assert out is ax and not ax.get_lines()
    png_bytes(fig)
    with pytest.raises(ValueError, match="one loss per point"):
        viz.loss_surface(lambda p: p, (-1, 1), (-1, 1))
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        viz.loss_surface(lambda p: p[:, 0], (-1, 1), (-1, 1), {"bad": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="xlim"):
        viz.loss_surface(lambda p: p[:, 0], (1, -1), (-1, 1))


def test_activation_plot_accepts_a_layer_and_uses_its_backward():
    from nncourse.functional import sigmoid_grad
    from nncourse.layers import LeakyReLU, Sigmoid

    ax = viz.activation_plot(Sigmoid(), x_range=(-4, 4), num=81)
    x, fx = ax.lines[0].get_data()
    _, dfx = ax.lines[1].get_data()
    np.testing.assert_allclose(dfx, sigmoid_grad(x), rtol=1e-5, atol=1e-7)
    assert fx[0] < 0.05 and fx[-1] > 0.95
    ax = viz.activation_plot(LeakyReLU(0.1), x_range=(-2, 2), num=41)
    _, dfx = ax.lines[1].get_data()
    assert dfx[0] == pytest.approx(0.1) and dfx[-1] == pytest.approx(1.0)
    plt.close("all")
