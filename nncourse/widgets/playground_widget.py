"""The playground: a small MLP trained live on a 2-D data set (TensorFlow Playground)."""

from __future__ import annotations

import math

import ipywidgets as W
import numpy as np
from matplotlib.colors import ListedColormap

from .. import data as datasets
from .. import functional as F
from .. import init as initializers
from .. import layers as L
from ..backend import to_numpy
from ..features import FEATURES, FeatureMap
from ..losses import BCEWithLogitsLoss
from ..regularization import L2
from ..train import Trainer, TrainingDiverged
from .base import (
    ACTIVATION_LAYERS,
    CONTROL_STYLE,
    OPTIMIZERS,
    SLIDER_LAYOUT,
    FigureView,
    PixelBlocks,
    Player,
    dropdown,
    fixed,
    row,
    slider,
)
from .network_view import (
    FULL_WEIGHT,
    NetworkView,
    bilinear_weights,
    colours,
    resample_bilinear,
    symmetric_limit,
    unit_name,
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
    between the Linear layers and a linear output. ``init=None`` takes the activation
    class's ``weight_init`` (He's for the ReLU family, Xavier's otherwise)."""
    if activation not in ACTIVATION_LAYERS:
        raise ValueError(
            f"mlp: unknown activation {activation!r}; expected one of {list(ACTIVATION_LAYERS)}"
        )
    if init is None:
        init = ACTIVATION_LAYERS[activation].weight_init
    rng = initializers.as_generator(rng, who="mlp")
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(L.Linear(n_in, n_out, init=init, rng=rng))
        if i < len(sizes) - 2:
            layers.append(ACTIVATION_LAYERS[activation]())
    return L.Sequential(*layers)


# ----------------------------------------------------------------------------- playground

# Figure size (inches) and axes boxes (figure fractions), with and without the network view.
_LAYOUTS = {
    True: {
        "size": (12.0, 4.4),
        "net": (0.0, 0.02, 0.40, 0.96),
        "data": (0.42, 0.1, 0.293, 0.8),
        "loss": (0.775, 0.14, 0.215, 0.74),
    },
    False: {
        "size": (8.5, 3.6),
        "net": (0.0, 0.0, 0.01, 0.01),
        "data": (0.06, 0.1, 0.4, 0.82),
        "loss": (0.57, 0.14, 0.4, 0.76),
    },
}


def _axis_end(n) -> int:
    """The end of the epoch axis for ``n`` epochs: 10, 20, 50, 100, 200, ... (it moves
    seldom, so the axes need not be redrawn every frame)."""
    end = 10
    while end < n:
        end = end * 5 // 2 if str(end)[0] == "2" else end * 2
    return end


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
        features=("x1", "x2"),
        network=True,
    ):
        super().__init__(figsize=_LAYOUTS[bool(network)]["size"])
        if dataset not in DATASETS:
            raise ValueError(f"playground: unknown dataset {dataset!r}; one of {list(DATASETS)}")
        self.feature_map = FeatureMap(features)
        self.n_samples, self.resolution, self.seed = int(n_samples), int(resolution), seed
        self._init_rng = initializers.as_generator(seed, who="playground")
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
        # one toggle per input feature, named as in nncourse.features.FEATURES
        for name in FEATURES:
            c[name] = W.ToggleButton(
                value=name in self.feature_map.names,
                description=name,
                tooltip=f"input feature {name}",
                layout=fixed("auto"),
            )
            c[name].add_class("nncourse-feature")
        c["network"] = W.Checkbox(value=bool(network), description="network view")
        c["unit"] = dropdown("large view", ["output"], "output")
        self.unit_info = W.HTML()
        self.player = Player(self, self.advance, self.reset, max_fps=max_fps)

        self.loss = BCEWithLogitsLoss()
        self._syncing_units = False  # True while reset() rebuilds the unit list
        self._structure = 0  # counts the networks built (part of the background key)
        self._build_figure()
        self._new_data()  # also builds the model and renders
        self._debounced = [
            self._observe(["dataset", "noise", "train_ratio"], self._new_data),
            self._observe(["hidden", "activation"], self.reset),
            self._observe(["lr", "l2", "batch_size", "optimizer"], self._apply_hyper),
            self._observe(list(FEATURES), self._new_features),
        ]
        c["show_test"].observe(lambda _: self.render(), names="value")
        c["network"].observe(lambda _: self._guarded(self._show_network)(), names="value")
        c["unit"].observe(self._unit_chosen, names="value")

        left = W.VBox([c["dataset"], c["noise"], c["train_ratio"], c["show_test"]])
        mid = W.VBox([c["hidden"], c["activation"], c["batch_size"]])
        right = W.VBox([c["lr"], c["optimizer"], c["l2"]])
        feature_row = row(
            [W.Label("features", layout=fixed("70px"))]
            + [c[name] for name in FEATURES]
            + [c["network"], c["unit"]]
        )
        self.children = [
            self.player.box(),
            row([left, mid, right]),
            feature_row,
            self.image,
            self.status,
            self.unit_info,
        ]

    # -- state -----------------------------------------------------------------------
    def _new_data(self):
        c = self.controls
        gen = initializers.as_generator(self.seed, who="playground")  # same settings, same data
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
        self.grid = np.c_[xx.ravel(), yy.ravel()]  # (resolution**2, 2), row by row from below
        self.reset()

    def _new_features(self):
        """The feature toggles changed: a new feature map, so a new model (new input width)."""
        chosen = [name for name in FEATURES if self.controls[name].value]
        old, self.feature_map = self.feature_map, FeatureMap(chosen)
        try:
            self.reset()
        except ValueError:  # e.g. the hidden-units text is not valid: keep map and model
            self.feature_map = old
            raise

    def reset(self):
        """New weights (same data and features), a fresh optimiser, cleared curves; renders."""
        hidden = _parse_hidden(self.controls["hidden"].value)
        sizes = [self.feature_map.n_features, *hidden, 1]
        activation = self.controls["activation"].value
        self.model = mlp(sizes, activation, rng=self._init_rng)
        # what the model sees: the feature map of the points
        self.F_train = self.feature_map(self.X_train)
        self.F_test = self.feature_map(self.X_test)
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
        self.network.build(self.feature_map.names, hidden, activation)
        self._structure += 1
        self._sync_units()
        self.render()

    def _sync_units(self):
        """The 'large view' choices follow the network: output, hidden units, features."""
        names = ["output"]
        for i, n in enumerate(self.hidden_sizes):
            names += [unit_name(i + 1, j + 1) for j in range(n)]
        names += list(self.feature_map.names)
        unit = self.controls["unit"]
        keep = unit.value if unit.value in names else "output"
        self._syncing_units = True
        try:
            unit.options = names
            unit.value = keep
        finally:
            self._syncing_units = False
        self.network.select(keep)

    def _unit_chosen(self, _change):
        if not self._syncing_units:
            self._guarded(self.choose_unit)(self.controls["unit"].value)

    def choose_unit(self, name):
        """Show unit ``name`` ('output', 'h1.3', 'x1^2', ...) large, with its incoming weights."""
        if name not in self.controls["unit"].options:
            raise ValueError(
                f"playground: unknown unit {name!r}; one of {list(self.controls['unit'].options)}"
            )
        if self.controls["unit"].value != name:
            self.controls["unit"].value = name  # comes back here through the observer
            return
        self.network.select(name)
        self.render()

    def _show_network(self):
        self._apply_layout()
        self.render()

    @property
    def hidden_sizes(self) -> list[int]:
        """Units per hidden layer of the current model."""
        linears = [layer for layer in self.model.layers if isinstance(layer, L.Linear)]
        return [layer.params["W"].shape[0] for layer in linears[:-1]]

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
        self.train_losses.append(self.trainer.evaluate(self.F_train, self.y_train)["loss"])
        self.test_losses.append(self.trainer.evaluate(self.F_test, self.y_test)["loss"])

    def step(self, epochs=1):
        """Train ``epochs`` epochs with the Trainer (one ``fit`` of one epoch each)."""
        for _ in range(int(epochs)):
            try:
                self.trainer.fit(self.F_train, self.y_train)
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

    def layer_outputs(self, X) -> list[np.ndarray]:
        """What every unit outputs at the points X (M, 2), in eval mode: one (M, width) array
        per column of the network view: the input features, each hidden layer (after its
        activation), the output score (the logit, before the sigmoid)."""
        x = self.feature_map(np.asarray(X, dtype=np.float32))
        outputs = []
        with L.eval_mode(self.model):
            for layer in self.model.layers:
                if isinstance(layer, L.Linear):  # a new column starts at every Linear
                    outputs.append(to_numpy(x))
                x = layer.forward(x)
        outputs.append(to_numpy(x))
        return outputs

    def predict_proba(self, X):
        """P(class 1 | x) for points X (M, 2), in eval mode."""
        return to_numpy(F.sigmoid(self.layer_outputs(X)[-1])).reshape(-1)

    # -- drawing ------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.figure
        self.ax_net = fig.add_axes(_LAYOUTS[True]["net"])
        self.ax_data = fig.add_axes(_LAYOUTS[True]["data"])
        self.ax_loss = fig.add_axes(_LAYOUTS[True]["loss"])
        self.network = NetworkView(self.ax_net)
        # P(class 1) (or the chosen unit) over the plane: resampled and coloured here, then
        # copied onto the canvas (see PixelBlocks)
        self._surface = PixelBlocks()
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
        self._apply_layout()

    def _apply_layout(self):
        on = bool(self.controls["network"].value)
        layout = _LAYOUTS[on]
        self.figure.set_size_inches(*layout["size"], forward=False)
        self.ax_net.set_position(layout["net"])
        self.ax_net.set_visible(on)
        self.ax_data.set_position(layout["data"])
        self.ax_loss.set_position(layout["loss"])
        self.network.place()
        # the surface covers the data axes pixel for pixel, resampled from the grid bilinearly
        box = self.ax_data.get_position().transformed(self.figure.transFigure)
        x0, y0 = round(box.x0), round(box.y0)
        w, h = round(box.x1) - x0, round(box.y1) - y0
        self._surface_at = (x0, y0)
        self._resample = (
            bilinear_weights(self.resolution, h),
            bilinear_weights(self.resolution, w),
        )

    def _animated_artists(self):
        moving = [self._surface, self._train_pts, self._test_pts, *self.ax_data.spines.values()]
        moving += [self._train_line, self._test_line]
        if self.controls["network"].value:
            moving += self.network.animated()
        return moving

    def _background_key(self):
        c = self.controls
        return (
            bool(c["network"].value),
            self._structure,
            c["unit"].value,
            self._title.get_text(),
            self.extent,
            self.ax_loss.get_xlim(),
            self.ax_loss.get_ylim(),
        )

    def _draw(self):
        res = self.resolution
        outputs = self.layer_outputs(self.grid)
        # unit_maps[c][i]: unit i of column c over the grid, a (res, res) image
        self.unit_maps = [out.T.reshape(-1, res, res) for out in outputs]
        prob = to_numpy(F.sigmoid(self.unit_maps[-1]))
        unit = self.controls["unit"].value
        dataset = self.controls["dataset"].value
        if unit == "output":
            t = prob[0]
            self._title.set_text(f"{dataset}: P(class 1)")
        else:
            values = self.unit_map(unit)
            t = 0.5 + 0.5 * values / symmetric_limit(values)
            what = "input feature" if unit in self.feature_map.names else "output of unit"
            self._title.set_text(f"{dataset}: {what} {unit}")
        pixels = resample_bilinear(t, *self._resample)
        self._surface.blocks = [(colours(pixels, alpha=0.75), *self._surface_at)]
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
        self.ax_loss.set_xlim(0, _axis_end(n - 1))
        self.ax_loss.set_ylim(0, 1.05 * top if math.isfinite(top) and top > 0 else 1.0)
        if self.controls["network"].value:
            weights = [
                to_numpy(l.params["W"]) for l in self.model.layers if isinstance(l, L.Linear)
            ]
            self.network.update([*self.unit_maps[:-1], prob], weights)
        self._show_status()
        self._show_unit_info(unit)

    def unit_map(self, name) -> np.ndarray:
        """The (res, res) heat map of unit ``name`` from the last frame: a feature's values,
        a hidden unit's output, or the output score."""
        if name == "output":
            return self.unit_maps[-1][0]
        if name in self.feature_map.names:
            return self.unit_maps[0][self.feature_map.names.index(name)]
        layer, unit = (int(p) for p in name[1:].split("."))
        return self.unit_maps[layer][unit - 1]

    def incoming(self, name) -> tuple[list[str], np.ndarray, float] | None:
        """(input names, weights, bias) of the Linear layer that feeds unit ``name``;
        None for an input feature."""
        if name in self.feature_map.names:
            return None
        linears = [layer for layer in self.model.layers if isinstance(layer, L.Linear)]
        if name == "output":
            layer, unit = len(linears) - 1, 0
        else:
            layer, unit = (int(p) - 1 for p in name[1:].split("."))
        if layer == 0:
            sources = list(self.feature_map.names)
        else:
            sources = [unit_name(layer, j + 1) for j in range(self.hidden_sizes[layer - 1])]
        W_, b = (to_numpy(linears[layer].params[k]) for k in ("W", "b"))
        return sources, W_[unit].astype(float), float(b[unit])

    def _show_unit_info(self, name):
        """The chosen unit's incoming weights, as a list of signed bars under the picture."""
        act = self.controls["activation"].value
        into = self.incoming(name)
        if into is None:
            self.unit_info.value = (
                f"<b>{name}</b>: an input feature (no incoming weights); its values over the "
                f"plane are shown large."
            )
            return
        sources, w, b = into
        rows = []
        for src, wi in list(zip(sources, w))[:16]:
            color = "#2c6fbb" if wi >= 0 else "#c0392b"
            width = int(min(abs(wi) / FULL_WEIGHT, 1.0) * 80) + 1
            rows.append(
                f"<tr><td>{src}</td><td style='text-align:right'>{wi:+.3f}</td><td>"
                f"<div style='width:{width}px;height:8px;background:{color}'></div></td></tr>"
            )
        more = f" (first 16 of {len(sources)})" if len(sources) > 16 else ""
        if name == "output":
            formula = "b + &Sigma; w &middot; input (the logit: P(class 1) is its sigmoid)"
        else:
            formula = f"{act}(b + &Sigma; w &middot; input)"
        head = f"<b>{name}</b> = {formula}, b = {b:+.3f}; incoming weights{more}:"
        self.unit_info.value = (
            f"<div class='nncourse-unit-info'>{head}<table style='font-size:small'>"
            f"{''.join(rows)}</table></div>"
        )

    def _show_status(self):
        opt = self.trainer.optimizer
        self.status.value = (
            f"epoch {self.epoch} &middot; train loss {self.train_losses[-1]:.3f} &middot; "
            f"test loss {self.test_losses[-1]:.3f} &middot; {len(self.X_train)} train / "
            f"{len(self.X_test)} test points &middot; features {', '.join(self.feature_map.names)}"
            f" &middot; {opt!r}"
        )


def playground(**kwargs):
    """The TensorFlow Playground in a notebook: train a small MLP on a 2-D data set, live.

    Controls: data set (xor, circles, moons, spirals, blobs, separable), noise, train
    fraction, hidden units (``'8, 8'``), activation, learning rate, L2 strength, batch
    size, optimiser; the input features (x1, x2, x1^2, x2^2, x1 x2, sin x1, sin x2:
    ``nncourse.features``), the network view on or off, the unit shown large; buttons
    Play / Pause / Step / Reset.

    Left, the network view: one small heat map per input feature and per hidden unit
    (its output over the plane), laid out by layer, with edges as wide as the weights
    (blue positive, red negative). Middle, P(class 1) over the plane with the training
    points (circles) and test points (squares), or the unit chosen under "large view"
    (its incoming weights are listed below the picture). Right, the train and test
    cross-entropy per epoch.

    The model is a ``Sequential`` features -> hidden -> 1 with ``BCEWithLogitsLoss``,
    trained by ``nncourse.train.Trainer`` on ``feature_map(X)``: ``step()`` runs one
    epoch. ``.layer_outputs(X)`` gives what every unit outputs at points X, ``.unit_maps``
    the heat maps of the last frame. Keyword arguments: ``dataset``, ``hidden``,
    ``activation``, ``optimizer``, ``lr``, ``n_samples``, ``resolution`` (grid cells per
    side), ``seed``, ``max_fps``, ``features`` (names), ``network`` (bool).
    """
    return Playground(**kwargs)
