"""The playground: a small MLP trained live on a 2-D data set (TensorFlow Playground)."""

from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
from matplotlib.colors import ListedColormap

from .. import data as datasets
from .. import functional as F
from .. import layers as L
from ..backend import to_numpy
from ..losses import BCEWithLogitsLoss
from ..regularization import L2
from ..train import Trainer, TrainingDiverged
from .base import (
    ACTIVATION_LAYERS,
    CONTROL_STYLE,
    OPTIMIZERS,
    SLIDER_LAYOUT,
    FigureView,
    Player,
    dropdown,
    slider,
)

# Data set label -> generator(n_samples, noise, rng) -> (X (N, 2), y (N,) in {0, 1}).
DATASETS = {
    "xor": lambda n, noise, rng: datasets.xor(n, noise=noise, rng=rng),
    "circles": lambda n, noise, rng: datasets.circles(n, noise=noise, rng=rng),
    "moons": lambda n, noise, rng: datasets.moons(n, noise=noise, rng=rng),
    "spirals": lambda n, noise, rng: datasets.spirals(n, noise=noise, rng=rng),
    # two Gaussian blobs; the noise widens them (std 0.3 at noise 0)
    "blobs": lambda n, noise, rng: datasets.blobs(
        n, centers=[[-1.0, -1.0], [1.0, 1.0]], cluster_std=0.3 + 2.0 * noise, rng=rng
    ),
    "separable": lambda n, noise, rng: datasets.linearly_separable(
        n, noise=noise, labels="01", rng=rng
    ),
}


def _parse_hidden(text) -> list[int]:
    """'8, 8' -> [8, 8]; '' -> [] (no hidden layer: logistic regression)."""
    parts = [p for p in str(text).replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"playground: hidden layers must be comma-separated integers like '8, 8', got {text!r}"
        ) from None
    if any(s < 1 or s > 256 for s in sizes) or len(sizes) > 8:
        raise ValueError(
            f"playground: expected at most 8 hidden layers of 1 to 256 units, got {text!r}"
        )
    return sizes


def mlp(sizes, activation="tanh", rng=None, init=None):
    """``Sequential`` MLP with layer widths ``sizes`` (e.g. [2, 8, 8, 1]), ``activation``
    between the Linear layers and a linear output. ``init=None`` picks He for the ReLU
    family, Xavier otherwise."""
    if activation not in ACTIVATION_LAYERS:
        raise ValueError(
            f"mlp: unknown activation {activation!r}; expected one of {list(ACTIVATION_LAYERS)}"
        )
    if init is None:
        init = "he_uniform" if activation in ("relu", "leaky_relu", "elu") else "xavier_uniform"
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(L.Linear(n_in, n_out, init=init, rng=rng))
        if i < len(sizes) - 2:
            layers.append(ACTIVATION_LAYERS[activation]())
    return L.Sequential(*layers)


# ----------------------------------------------------------------------------- playground


class Playground(FigureView):
    """See :func:`playground`."""

    def __init__(
        self,
        dataset="xor",
        hidden="8, 8",
        activation="tanh",
        optimizer="SGD",
        lr=0.03,
        n_samples=300,
        resolution=60,
        seed=0,
        max_fps=30.0,
    ):
        super().__init__(figsize=(8.5, 3.6))
        if dataset not in DATASETS:
            raise ValueError(f"playground: unknown dataset {dataset!r}; one of {list(DATASETS)}")
        self.n_samples, self.resolution, self.seed = int(n_samples), int(resolution), seed
        self._init_rng = np.random.default_rng(seed)
        c = self.controls
        c["dataset"] = dropdown("data set", list(DATASETS), dataset)
        c["noise"] = slider(W.FloatSlider, "noise", value=0.2, min=0.0, max=0.5, step=0.01)
        c["train_ratio"] = slider(
            W.FloatSlider, "train fraction", value=0.5, min=0.1, max=0.9, step=0.05
        )
        c["hidden"] = W.Text(
            value=hidden,
            description="hidden units",
            continuous_update=False,
            style=CONTROL_STYLE,
            layout=SLIDER_LAYOUT,
        )
        c["activation"] = dropdown("activation", list(ACTIVATION_LAYERS), activation)
        c["lr"] = slider(W.FloatLogSlider, "learning rate", value=lr, base=10, min=-4, max=0.5)
        c["l2"] = dropdown("L2 strength", [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], 0.0)
        c["batch_size"] = slider(W.IntSlider, "batch size", value=10, min=1, max=64)
        c["optimizer"] = dropdown("optimiser", list(OPTIMIZERS), optimizer)
        c["show_test"] = W.Checkbox(value=True, description="show test points")
        self.player = Player(self, self.advance, self.reset, max_fps=max_fps)

        self.loss = BCEWithLogitsLoss()
        self._build_figure()
        self._new_data()  # also builds the model and renders
        self._debounced = [
            self._observe(["dataset", "noise", "train_ratio"], self._new_data),
            self._observe(["hidden", "activation"], self.reset),
            self._observe(["lr", "l2", "batch_size", "optimizer"], self._apply_hyper),
        ]
        c["show_test"].observe(lambda _: self.render(), names="value")

        left = W.VBox([c["dataset"], c["noise"], c["train_ratio"], c["show_test"]])
        mid = W.VBox([c["hidden"], c["activation"], c["batch_size"]])
        right = W.VBox([c["lr"], c["optimizer"], c["l2"]])
        self.children = [self.player.box(), W.HBox([left, mid, right]), self.image, self.status]

    # -- state -----------------------------------------------------------------------
    def _new_data(self):
        c = self.controls
        gen = np.random.default_rng(self.seed)  # same settings -> same data
        X, y = DATASETS[c["dataset"].value](self.n_samples, float(c["noise"].value), gen)
        X = X.astype(np.float32)
        y = (y > 0).astype(np.float32).reshape(-1, 1)
        order = gen.permutation(len(X))
        n_train = min(len(X) - 1, max(1, round(c["train_ratio"].value * len(X))))
        tr, te = order[:n_train], order[n_train:]
        self.X_train, self.y_train, self.X_test, self.y_test = X[tr], y[tr], X[te], y[te]
        # A square view around the data and the grid whose predictions colour it.
        half = 1.1 * float(np.abs(X).max())
        self.extent = (-half, half, -half, half)
        g = np.linspace(-half, half, self.resolution, dtype=np.float32)
        xx, yy = np.meshgrid(g, g)
        self._grid = np.c_[xx.ravel(), yy.ravel()]
        self.reset()

    def reset(self):
        """New weights (same data), a fresh optimiser, cleared curves; renders a frame."""
        sizes = [2, *_parse_hidden(self.controls["hidden"].value), 1]
        self.model = mlp(sizes, self.controls["activation"].value, rng=self._init_rng)
        self.trainer = Trainer(
            self.model,
            self.loss,
            self._make_optimizer(),
            batch_size=int(self.controls["batch_size"].value),
            epochs=1,
            rng=self._init_rng,
            regularizer=L2(float(self.controls["l2"].value)),
            progress=False,
        )
        self.epoch = 0
        self.train_losses, self.test_losses = [], []
        self._record_losses()
        self.render()

    def _make_optimizer(self):
        self._optimizer_name = self.controls["optimizer"].value
        cls, kwargs = OPTIMIZERS[self._optimizer_name]
        return cls(self.model.parameters(), lr=float(self.controls["lr"].value), **kwargs)

    def _apply_hyper(self):
        """Learning rate, L2, batch size and optimiser change live, without a reset."""
        c, t = self.controls, self.trainer
        if c["optimizer"].value != self._optimizer_name:
            t.optimizer = self._make_optimizer()  # fresh state for the new rule
        t.optimizer.lr = float(c["lr"].value)
        t.regularizer = L2(float(c["l2"].value))
        t.batch_size = int(c["batch_size"].value)
        self._show_status()

    def _record_losses(self):
        self.train_losses.append(self.trainer.evaluate(self.X_train, self.y_train)["loss"])
        self.test_losses.append(self.trainer.evaluate(self.X_test, self.y_test)["loss"])

    def step(self, epochs=1):
        """Train ``epochs`` epochs with the Trainer (one ``fit`` of one epoch each)."""
        for _ in range(int(epochs)):
            try:
                self.trainer.fit(self.X_train, self.y_train)
            except TrainingDiverged as err:
                self.player.pause()
                raise FloatingPointError(str(err)) from None
            self.epoch += 1
            self._record_losses()
        return self

    def advance(self):
        """One frame: a training epoch, then a render."""
        self.step()
        self.render()

    def predict_proba(self, X):
        """P(class 1 | x) for points X (M, 2), in eval mode."""
        was_training = self.model.training
        self.model.eval()
        try:
            scores = self.model.forward(np.asarray(X, dtype=np.float32))
        finally:
            self.model.train(was_training)
        return to_numpy(F.sigmoid(scores)).reshape(-1)

    # -- drawing ------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure
        self.ax_data = fig.add_axes((0.06, 0.1, 0.4, 0.82))
        self.ax_loss = fig.add_axes((0.57, 0.14, 0.4, 0.76))
        res = self.resolution
        self._img = self.ax_data.imshow(
            np.full((res, res), 0.5),
            origin="lower",
            cmap="RdBu",
            vmin=0.0,
            vmax=1.0,
            alpha=0.75,
            interpolation="bilinear",
        )
        cmap = ListedColormap(["#c0392b", "#2c6fbb"])
        kw = {"c": np.zeros(0), "cmap": cmap, "vmin": 0, "vmax": 1, "s": 16}
        self._train_pts = self.ax_data.scatter(
            np.zeros(0), np.zeros(0), edgecolors="white", linewidths=0.6, **kw
        )
        self._test_pts = self.ax_data.scatter(
            np.zeros(0), np.zeros(0), marker="s", edgecolors="black", linewidths=0.6, **kw
        )
        self.ax_data.set_xticks([])
        self.ax_data.set_yticks([])
        (self._train_line,) = self.ax_loss.plot([], [], label="train loss", color="#555")
        (self._test_line,) = self.ax_loss.plot([], [], label="test loss", color="#e67e22")
        self.ax_loss.set_xlabel("epoch")
        self.ax_loss.set_ylabel("cross-entropy")
        self.ax_loss.legend(loc="upper right", fontsize="small")
        self._title = self.ax_data.set_title("", fontsize="small")

    def _draw(self):
        prob = self.predict_proba(self._grid).reshape(self.resolution, self.resolution)
        self._img.set_data(prob)
        self._img.set_extent(self.extent)
        self._train_pts.set_offsets(self.X_train)
        self._train_pts.set_array(self.y_train.ravel())
        self._test_pts.set_offsets(self.X_test)
        self._test_pts.set_array(self.y_test.ravel())
        self._test_pts.set_visible(bool(self.controls["show_test"].value))
        self.ax_data.set_xlim(self.extent[:2])
        self.ax_data.set_ylim(self.extent[2:])
        n = len(self.train_losses)
        steps = np.arange(n)
        self._train_line.set_data(steps, self.train_losses)
        self._test_line.set_data(steps, self.test_losses)
        top = max(max(self.train_losses), max(self.test_losses))
        self.ax_loss.set_xlim(0, max(10, n - 1))
        self.ax_loss.set_ylim(0, 1.05 * top if math.isfinite(top) and top > 0 else 1.0)
        self._title.set_text(f"{self.controls['dataset'].value}, epoch {self.epoch}")
        self._show_status()

    def _show_status(self):
        opt = self.trainer.optimizer
        self.status.value = (
            f"epoch {self.epoch} &middot; train loss {self.train_losses[-1]:.3f} &middot; "
            f"test loss {self.test_losses[-1]:.3f} &middot; {len(self.X_train)} train / "
            f"{len(self.X_test)} test points &middot; {opt!r}"
        )


def playground(**kwargs):
    """The TensorFlow Playground in a notebook: train a small MLP on a 2-D data set, live.

    Controls: data set (xor, circles, moons, spirals, blobs, separable), noise, train
    fraction, hidden units (``'8, 8'``), activation, learning rate, L2 strength, batch
    size, optimiser; buttons Play / Pause / Step / Reset. The left panel shows P(class 1)
    over the plane with the training points (circles) and test points (squares); the
    right one the train and test cross-entropy per epoch.

    The model is a ``Sequential`` 2 -> hidden -> 1 with ``BCEWithLogitsLoss``, trained by
    ``nncourse.train.Trainer``: ``step()`` runs one epoch. Keyword arguments: ``dataset``,
    ``hidden``, ``activation``, ``optimizer``, ``lr``, ``n_samples``, ``resolution``
    (grid cells per side), ``seed``, ``max_fps``.
    """
    return Playground(**kwargs)
