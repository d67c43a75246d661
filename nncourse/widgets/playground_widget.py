"""Interactive explorers for JupyterLab (ipywidgets 8): thin views over ``nncourse``.

Each public function returns a widget (an ``ipywidgets.VBox``) that displays itself and
also exposes its state, so that tests and curious students can drive it from code:

- ``.controls``: dict name -> the ipywidgets control (set ``.value``, ``.click()`` buttons);
- ``.figure``: the matplotlib ``Figure`` (Agg, no pyplot) it draws into;
- ``.frame``: the PNG bytes of the last rendered frame, shown by ``.image`` (an
  ``ipywidgets.Image``); ``.render()`` draws a new frame;
- the objects it views: ``.model`` / ``.trainer`` (playground), ``.layer`` (dropout,
  batch norm), ``.racers`` (optimiser race), ...

Nothing here trains or differentiates by itself: models are ``nncourse.layers``,
training is ``nncourse.train.Trainer`` (one epoch per call of ``step()``), updates are
``nncourse.optim`` optimisers. The figure is built once and its artists are updated in
place (``set_data``, ``set_offsets``), then rendered to PNG bytes: no browser-side
matplotlib extension is needed, and a frame costs a few tens of milliseconds.

Interaction model:

- Play starts an ``asyncio`` task on the kernel's event loop that runs ``step()`` and
  ``render()`` and yields between frames, so the kernel keeps answering (Pause works, other
  cells run). Constructing a widget never starts it.
- Control changes are debounced: a burst of slider events triggers one update after a
  short quiet period. Outside an event loop (scripts, tests) they apply at once.
"""

from __future__ import annotations

import asyncio
import io
import math
import time

import ipywidgets as W
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .. import data as datasets
from .. import functional as F
from .. import init as initializers
from .. import layers as L
from .. import optim, viz
from ..backend import to_numpy
from ..losses import BCEWithLogitsLoss
from ..regularization import L2
from ..train import Trainer, TrainingDiverged

__all__ = [
    "playground",
    "activation_explorer",
    "init_explorer",
    "optimizer_race",
    "dropout_explorer",
    "batchnorm_explorer",
    "DATASETS",
    "OPTIMIZERS",
    "SURFACES",
]

# Activation name (as in ``functional.ACTIVATIONS``) -> the layer class that applies it.
ACTIVATION_LAYERS = {
    "relu": L.ReLU,
    "tanh": L.Tanh,
    "sigmoid": L.Sigmoid,
    "leaky_relu": L.LeakyReLU,
    "elu": L.ELU,
    "softsign": L.Softsign,
    "hardtanh": L.HardTanh,
    "identity": L.Identity,
}

# Optimiser label -> (class, keyword arguments besides lr): the library's optimisers.
OPTIMIZERS = {
    "SGD": (optim.SGD, {}),
    "Momentum": (optim.SGD, {"momentum": 0.9}),
    "Nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "Adagrad": (optim.Adagrad, {}),
    "RMSprop": (optim.RMSprop, {}),
    "Adam": (optim.Adam, {}),
}

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

_CONTROL_STYLE = {"description_width": "110px"}
_SLIDER_LAYOUT = W.Layout(width="330px")


# ----------------------------------------------------------------------------- plumbing


class _Debounced:
    """Call ``fn()`` once, ``wait`` seconds after the last of a burst of calls.

    Needs a running asyncio loop (the Jupyter kernel has one); without one the call
    happens at once, which is what scripts and tests want.
    """

    def __init__(self, fn, wait=0.2):
        self.fn, self.wait, self._handle = fn, float(wait), None

    def __call__(self, *_):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.fn()
            return
        self.cancel()
        self._handle = loop.call_later(self.wait, self._fire)

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def cancel(self):
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def flush(self):
        """Run a pending call now."""
        if self._handle is not None:
            self.cancel()
            self.fn()

    def _fire(self):
        self._handle = None
        self.fn()


def _slider(kind, description, **kw):
    kw.setdefault("continuous_update", False)
    return kind(description=description, style=_CONTROL_STYLE, layout=_SLIDER_LAYOUT, **kw)


def _dropdown(description, options, value):
    return W.Dropdown(
        description=description,
        options=options,
        value=value,
        style=_CONTROL_STYLE,
        layout=_SLIDER_LAYOUT,
    )


class _FigureView(W.VBox):
    """A widget showing one Agg figure as a PNG image, with controls and a status line.

    Subclasses build their artists once in ``__init__`` and update them in ``_draw()``;
    ``render()`` calls ``_draw()`` and encodes the figure.
    """

    def __init__(self, figsize, dpi=80):
        super().__init__()
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.image.add_class("nncourse-frame")
        self.status = W.HTML()
        self.controls: dict[str, W.Widget] = {}
        self.frame = b""
        self.frames_rendered = 0
        self._held = None  # while set() runs: the debounced updates to run once at the end

    def set(self, **values):
        """Set several controls at once, with one update at the end (not one per control)."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.set: unknown controls {sorted(unknown)}; "
                f"expected some of {list(self.controls)}"
            )
        self._held = []
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            held, self._held = self._held, None
        for deb in dict.fromkeys(held):  # each distinct update once, in order
            deb.fn()
        return self

    def render(self) -> bytes:
        """Update the artists, draw the figure and show it; returns the PNG bytes."""
        self._draw()
        canvas = self.figure.canvas
        canvas.draw()
        # Fast zlib level: encoding at matplotlib's default level costs more than drawing.
        rgba = PIL.Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        buf = io.BytesIO()
        rgba.save(buf, format="png", compress_level=1)
        self.frame = buf.getvalue()
        self.image.value = self.frame
        self.frames_rendered += 1
        return self.frame

    def frame_array(self) -> np.ndarray:
        """The last frame decoded to an (H, W, 4) float array (for comparisons)."""
        from matplotlib.image import imread  # noqa: PLC0415

        return imread(io.BytesIO(self.frame), format="png")

    def _observe(self, names, fn, wait=0.2):
        """Call ``fn`` (debounced) when any of the named controls changes value."""
        deb = _Debounced(self._guarded(fn), wait)

        def changed(_):
            if self._held is not None:
                self._held.append(deb)
            else:
                deb()

        for name in names:
            self.controls[name].observe(changed, names="value")
        return deb

    def _guarded(self, fn):
        """``fn`` with its error shown in the status line (not lost in the kernel log)."""

        def run(*args):
            try:
                fn(*args)
            except (ValueError, TypeError, FloatingPointError) as err:
                self.status.value = f"<span style='color:#b00'>{type(err).__name__}: {err}</span>"
                return False
            return True

        return run


class _Player:
    """Play / Pause / Step / Reset buttons driving ``advance()`` from an asyncio task.

    The task runs ``advance()`` (a training step and a render), then sleeps until the
    next frame is due (at most ``max_fps`` frames a second, and always yields), so the
    kernel stays responsive while it plays.
    """

    def __init__(self, view, advance, reset, max_fps=30.0):
        self.view, self.advance, self.reset = view, advance, reset
        self.max_fps = float(max_fps)
        self.task = None
        self.buttons = {
            "play": W.Button(description="Play", icon="play", button_style="success"),
            "pause": W.Button(description="Pause", icon="pause"),
            "step": W.Button(description="Step", icon="step-forward"),
            "reset": W.Button(description="Reset", icon="refresh"),
        }
        for name, button in self.buttons.items():
            button.layout = W.Layout(width="90px")
            button.add_class(f"nncourse-{name}")
        self.buttons["play"].on_click(lambda _: self.play())
        self.buttons["pause"].on_click(lambda _: self.pause())
        self.buttons["step"].on_click(lambda _: view._guarded(self.advance)())
        self.buttons["reset"].on_click(lambda _: self._reset())

    @property
    def playing(self) -> bool:
        return self.task is not None and not self.task.done()

    def play(self):
        if self.playing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.view.status.value = "Play needs a running event loop (a Jupyter kernel)."
            return
        self.task = loop.create_task(self._run())

    def pause(self):
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def _reset(self):
        self.pause()
        self.view._guarded(self.reset)()

    async def _run(self):
        while True:
            start = time.perf_counter()
            if not self.view._guarded(self.advance)():
                self.task = None
                return
            spent = time.perf_counter() - start
            await asyncio.sleep(max(0.005, 1.0 / self.max_fps - spent))

    def box(self):
        return W.HBox(list(self.buttons.values()))


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


class Playground(_FigureView):
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
        c["dataset"] = _dropdown("data set", list(DATASETS), dataset)
        c["noise"] = _slider(W.FloatSlider, "noise", value=0.2, min=0.0, max=0.5, step=0.01)
        c["train_ratio"] = _slider(
            W.FloatSlider, "train fraction", value=0.5, min=0.1, max=0.9, step=0.05
        )
        c["hidden"] = W.Text(
            value=hidden,
            description="hidden units",
            continuous_update=False,
            style=_CONTROL_STYLE,
            layout=_SLIDER_LAYOUT,
        )
        c["activation"] = _dropdown("activation", list(ACTIVATION_LAYERS), activation)
        c["lr"] = _slider(W.FloatLogSlider, "learning rate", value=lr, base=10, min=-4, max=0.5)
        c["l2"] = _dropdown("L2 strength", [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], 0.0)
        c["batch_size"] = _slider(W.IntSlider, "batch size", value=10, min=1, max=64)
        c["optimizer"] = _dropdown("optimiser", list(OPTIMIZERS), optimizer)
        c["show_test"] = W.Checkbox(value=True, description="show test points")
        self.player = _Player(self, self.advance, self.reset, max_fps=max_fps)

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


# ----------------------------------------------------------------------------- activations

# slider ranges for the keyword parameters of functional.ACTIVATIONS
_ACT_PARAM_RANGES = {
    "negative_slope": (0.0, 0.5, 0.01),
    "alpha": (0.1, 3.0, 0.1),
    "min_val": (-3.0, -0.1, 0.1),
    "max_val": (0.1, 3.0, 0.1),
}


class ActivationExplorer(_FigureView):
    """See :func:`activation_explorer`."""

    def __init__(self, name="sigmoid", x_range=(-6.0, 6.0), threshold=0.05):
        super().__init__(figsize=(7.0, 3.6))
        if name not in F.ACTIVATIONS:
            raise ValueError(
                f"activation_explorer: unknown activation {name!r}; one of {list(F.ACTIVATIONS)}"
            )
        c = self.controls
        c["function"] = _dropdown("function", list(F.ACTIVATIONS), name)
        c["x_range"] = _slider(
            W.FloatRangeSlider, "x range", value=x_range, min=-12, max=12, step=0.5
        )
        c["threshold"] = _slider(
            W.FloatLogSlider, "saturated if |g'| <", value=threshold, base=10, min=-3, max=-0.5
        )
        for pname, (lo, hi, step) in _ACT_PARAM_RANGES.items():
            default = next(
                (d[pname] for _, _, d in F.ACTIVATIONS.values() if pname in d), (lo + hi) / 2
            )
            c[pname] = _slider(W.FloatSlider, pname, value=default, min=lo, max=hi, step=step)
        self._observe(list(c), self.render, wait=0.1)

        ax = self.ax = self.figure.add_axes((0.09, 0.13, 0.88, 0.78))
        (self._f_line,) = ax.plot([], [], lw=2, label="g(x)")
        (self._df_line,) = ax.plot([], [], "--", lw=2, label="g'(x)")
        # One strip image coloured per x: 0 = normal, 1 = saturated, 2 = dead (g' = 0).
        shade = ListedColormap([(1, 1, 1, 0), (0.5, 0.5, 0.5, 0.35), (0.8, 0.1, 0.1, 0.25)])
        self._shade = ax.imshow(
            np.zeros((1, 2)),
            cmap=shade,
            vmin=-0.5,
            vmax=2.5,
            aspect="auto",
            extent=(0, 1, 0, 1),
            transform=ax.get_xaxis_transform(),
            interpolation="nearest",
            zorder=0,
        )
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.fill_between([], [], color=(0.5, 0.5, 0.5, 0.35), label="saturated")
        ax.fill_between([], [], color=(0.8, 0.1, 0.1, 0.25), label="dead (g' = 0)")
        ax.legend(loc="upper left", fontsize="small")
        ax.set_xlabel("pre-activation x")
        params = W.VBox([c[p] for p in _ACT_PARAM_RANGES])
        left = W.VBox([c["function"], c["x_range"], c["threshold"]])
        self.children = [W.HBox([left, params]), self.image, self.status]
        self.render()

    def params(self) -> dict:
        """Keyword parameters of the selected function, from the sliders."""
        _, _, defaults = F.ACTIVATIONS[self.controls["function"].value]
        return {k: float(self.controls[k].value) for k in defaults}

    def _draw(self):
        c = self.controls
        name = c["function"].value
        g, dg, defaults = F.ACTIVATIONS[name]
        for pname in _ACT_PARAM_RANGES:
            c[pname].disabled = pname not in defaults
        kw = self.params()
        lo, hi = c["x_range"].value
        x = np.linspace(lo, hi, 601)
        fx = np.asarray(to_numpy(g(x, **kw)), dtype=np.float64)
        dfx = np.asarray(to_numpy(dg(x, **kw)), dtype=np.float64)
        dead = dfx == 0
        saturated = (np.abs(dfx) < c["threshold"].value) & ~dead
        self.values = {"x": x, "g": fx, "dg": dfx, "saturated": saturated, "dead": dead}
        self._f_line.set_data(x, fx)
        self._df_line.set_data(x, dfx)
        self._f_line.set_label(f"{name}(x)")
        self._shade.set_data(np.where(dead, 2, saturated.astype(int))[None, :])
        self._shade.set_extent((lo, hi, 0, 1))
        self.ax.set_xlim(lo, hi)
        ymin, ymax = min(fx.min(), dfx.min()), max(fx.max(), dfx.max())
        pad = 0.08 * max(ymax - ymin, 1e-3)
        self.ax.set_ylim(ymin - pad, ymax + pad)
        args = ", ".join(f"{k}={v:g}" for k, v in kw.items())
        self.ax.set_title(f"{name}({args})" if args else name, fontsize="small")
        self.status.value = (
            f"saturated on {saturated.mean():.0%} of the range, dead on {dead.mean():.0%}"
        )


def activation_explorer(name="sigmoid", x_range=(-6.0, 6.0), threshold=0.05):
    """An activation g and its derivative g' over ``x_range``, from
    ``nncourse.functional.ACTIVATIONS``; grey where the unit is saturated
    (``|g'| < threshold``: gradients vanish), red where it is dead (``g' = 0``).
    Sliders set the function's parameters (leaky slope, ELU alpha, hardtanh limits).
    ``.values`` holds the arrays drawn (x, g, dg, saturated, dead)."""
    return ActivationExplorer(name, x_range, threshold)


# ----------------------------------------------------------------------------- initialisation

# label -> initialiser for nncourse.layers.Linear(init=...)
INITS = {
    "small random (std 0.01)": lambda shape, rng=None, dtype=np.float32: initializers.normal(
        shape, std=0.01, rng=rng, dtype=dtype
    ),
    "large random (std 1)": lambda shape, rng=None, dtype=np.float32: initializers.normal(
        shape, std=1.0, rng=rng, dtype=dtype
    ),
    "Xavier": "xavier_normal",
    "He": "he_normal",
}


class InitExplorer(_FigureView):
    """See :func:`init_explorer`."""

    def __init__(
        self, depth=10, width=500, activation="tanh", init="Xavier", n_samples=500, seed=0
    ):
        super().__init__(figsize=(10.0, 4.2))
        if init not in INITS:
            raise ValueError(f"init_explorer: unknown init {init!r}; one of {list(INITS)}")
        self.n_samples = int(n_samples)
        self._rng = np.random.default_rng(seed)
        c = self.controls
        c["depth"] = _slider(W.IntSlider, "depth", value=depth, min=1, max=16)
        c["width"] = _slider(W.IntSlider, "width", value=width, min=10, max=1000, step=10)
        c["activation"] = _dropdown("activation", list(ACTIVATION_LAYERS), activation)
        c["init"] = _dropdown("initialisation", list(INITS), init)
        c["resample"] = W.Button(description="New weights", icon="refresh")
        self._observe(["depth", "width", "activation", "init"], self.update)
        c["resample"].on_click(lambda _: self._guarded(self.update)())
        self.children = [
            W.HBox([W.VBox([c["depth"], c["width"]]), W.VBox([c["activation"], c["init"]])]),
            c["resample"],
            self.image,
            self.status,
        ]
        self.update()

    def update(self):
        """New network and input for the current controls; forward; render."""
        c = self.controls
        depth, width = int(c["depth"].value), int(c["width"].value)
        act = ACTIVATION_LAYERS[c["activation"].value]
        init = INITS[c["init"].value]
        layers = []
        for _ in range(depth):
            layers += [L.Linear(width, width, init=init, rng=self._rng), act()]
        self.model = L.Sequential(*layers)
        x = self._rng.standard_normal((self.n_samples, width)).astype(np.float32)
        self.activations = []
        for layer in self.model.layers:  # keep the output of every activation layer
            x = layer.forward(x)
            if not isinstance(layer, L.Linear):
                self.activations.append(to_numpy(x))
        self.stds = [float(a.std()) for a in self.activations]
        self.render()

    def _draw(self):
        fig = self.figure
        fig.clear()  # the number of panels follows the depth
        n = len(self.activations)
        grid = fig.add_gridspec(2, n, left=0.04, right=0.99, top=0.9, bottom=0.08, hspace=0.6)
        axes = [fig.add_subplot(grid[0, :])] + [fig.add_subplot(grid[1, i]) for i in range(n)]
        names = [f"{i + 1}" for i in range(n)]
        viz.activation_histograms(dict(zip(names, self.activations)), ax=axes)
        for a in axes[1:]:
            a.set_title(a.get_title().split("\n")[0], fontsize="x-small")
            a.tick_params(labelsize=6)
        c = self.controls
        self.status.value = (
            f"{c['depth'].value} layers of {c['width'].value} {c['activation'].value} units, "
            f"{c['init'].value} init: std of the last layer {self.stds[-1]:.3g}"
        )


def init_explorer(depth=10, width=500, activation="tanh", init="Xavier", n_samples=500, seed=0):
    """The CS231n experiment: push unit-Gaussian data through ``depth`` layers of
    ``width`` units and look at the activations layer by layer (mean/std and histograms,
    drawn by ``nncourse.viz.activation_histograms``). Initialisations: small random
    (std 0.01, activations shrink to 0), large random (std 1, saturation), Xavier, He.
    ``.activations`` holds the per-layer outputs, ``.stds`` their standard deviations."""
    return InitExplorer(depth, width, activation, init, n_samples, seed)


# ----------------------------------------------------------------------------- optimiser race


class _Surface:
    """A 2-D loss f(w) with its gradient, plot window and a default start."""

    def __init__(self, f, grad, xlim, ylim, start, lrs, log_levels=False):
        self.f, self.grad, self.xlim, self.ylim = f, grad, xlim, ylim
        self.start, self.lrs, self.log_levels = start, lrs, log_levels


def _rosen(p):
    return (1 - p[..., 0]) ** 2 + 100 * (p[..., 1] - p[..., 0] ** 2) ** 2


def _rosen_grad(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


SURFACES = {
    "rosenbrock": _Surface(
        _rosen,
        _rosen_grad,
        (-2.0, 2.0),
        (-1.0, 3.0),
        (-1.5, 2.5),
        {
            "SGD": 1e-3,
            "Momentum": 2e-4,
            "Nesterov": 2e-4,
            "Adagrad": 0.3,
            "RMSprop": 0.01,
            "Adam": 0.05,
        },
        log_levels=True,
    ),
    "elongated quadratic": _Surface(
        lambda p: 0.5 * p[..., 0] ** 2 + 10 * p[..., 1] ** 2,
        lambda p: np.array([p[0], 20 * p[1]]),
        (-4.0, 4.0),
        (-2.0, 2.0),
        (-3.5, 1.5),
        {
            "SGD": 0.09,
            "Momentum": 0.02,
            "Nesterov": 0.02,
            "Adagrad": 0.5,
            "RMSprop": 0.03,
            "Adam": 0.1,
        },
    ),
    "saddle": _Surface(
        lambda p: p[..., 0] ** 2 - p[..., 1] ** 2 + 0.25 * p[..., 1] ** 4,
        lambda p: np.array([2 * p[0], -2 * p[1] + p[1] ** 3]),
        (-2.5, 2.5),
        (-2.5, 2.5),
        (-2.0, 0.02),
        {
            "SGD": 0.05,
            "Momentum": 0.02,
            "Nesterov": 0.02,
            "Adagrad": 0.3,
            "RMSprop": 0.02,
            "Adam": 0.05,
        },
    ),
}


class _Point:
    """A 2-vector as an optimiser sees a parameter: ``.name``, ``.data``, ``.grad``."""

    __slots__ = ("name", "data", "grad")

    def __init__(self, name, start):
        self.name = name
        self.data = np.array(start, dtype=np.float64)
        self.grad = np.zeros(2)


class _Racer:
    def __init__(self, name, start, lr):
        cls, kwargs = OPTIMIZERS[name]
        self.point = _Point(name, start)
        self.optimizer = cls([self.point], lr=lr, **kwargs)
        self.path = [self.point.data.copy()]
        self.diverged = False

    def step(self, surface):
        if self.diverged:
            return
        self.point.grad[...] = surface.grad(self.point.data)
        self.optimizer.step()
        if not np.all(np.isfinite(self.point.data)) or np.abs(self.point.data).max() > 1e6:
            self.diverged = True
        else:
            self.path.append(self.point.data.copy())


class OptimizerRace(_FigureView):
    """See :func:`optimizer_race`."""

    def __init__(self, surface="rosenbrock", steps_per_frame=5, max_fps=30.0):
        super().__init__(figsize=(9.0, 3.8))
        if surface not in SURFACES:
            raise ValueError(
                f"optimizer_race: unknown surface {surface!r}; one of {list(SURFACES)}"
            )
        self.steps_per_frame = int(steps_per_frame)
        s = SURFACES[surface]
        c = self.controls
        c["surface"] = _dropdown("surface", list(SURFACES), surface)
        c["start_x"] = _slider(W.FloatSlider, "start w1", value=s.start[0], min=-4, max=4, step=0.1)
        c["start_y"] = _slider(W.FloatSlider, "start w2", value=s.start[1], min=-4, max=4, step=0.1)
        for name in OPTIMIZERS:
            c[f"lr_{name}"] = _slider(
                W.FloatLogSlider,
                f"lr {name}",
                value=s.lrs[name],
                base=10,
                min=-5,
                max=0.5,
                readout_format=".1e",
            )
        self.player = _Player(self, self.advance, self.reset, max_fps=max_fps)
        self.ax = self.figure.add_axes((0.06, 0.12, 0.42, 0.8))
        self.ax_loss = self.figure.add_axes((0.58, 0.14, 0.4, 0.76))
        self._lines, self._heads, self._loss_lines = {}, {}, {}
        for name in OPTIMIZERS:
            (self._lines[name],) = self.ax.plot([], [], lw=1.5, label=name, zorder=3)
            color = self._lines[name].get_color()
            (self._heads[name],) = self.ax.plot([], [], "o", color=color, ms=5, zorder=4)
            (self._loss_lines[name],) = self.ax_loss.plot([], [], color=color, label=name)
        self.ax_loss.set_yscale("log")
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("loss - min on the grid")
        self.ax.legend(loc="lower right", fontsize="x-small")
        self._contours = None

        self._observe(["surface"], self._new_surface)
        self._observe(["start_x", "start_y"], self.reset)
        self._observe([f"lr_{n}" for n in OPTIMIZERS], self._apply_lrs, wait=0.1)
        lrs = W.VBox([c[f"lr_{n}"] for n in OPTIMIZERS])
        left = W.VBox([c["surface"], c["start_x"], c["start_y"]])
        self.children = [self.player.box(), W.HBox([left, lrs]), self.image, self.status]
        self._new_surface()

    @property
    def surface(self) -> _Surface:
        return SURFACES[self.controls["surface"].value]

    def _new_surface(self):
        s, c = self.surface, self.controls
        # the start sliders follow the surface (no reset per slider: one reset below)
        for key, value in (("start_x", s.start[0]), ("start_y", s.start[1])):
            with c[key].hold_trait_notifications():
                c[key].unobserve_all("value")
                c[key].value = value
        for name in OPTIMIZERS:
            c[f"lr_{name}"].unobserve_all("value")
            c[f"lr_{name}"].value = s.lrs[name]
        self._observe(["start_x", "start_y"], self.reset)
        self._observe([f"lr_{n}" for n in OPTIMIZERS], self._apply_lrs, wait=0.1)
        if self._contours is not None:
            self._contours.remove()
        xx, yy = np.meshgrid(np.linspace(*s.xlim, 200), np.linspace(*s.ylim, 200))
        z = s.f(np.stack([xx, yy], axis=-1))
        self._zmin = float(z.min())
        levels = (
            np.geomspace(max(z.min(), 1e-2), z.max(), 20)
            if s.log_levels
            else np.linspace(z.min(), z.max(), 25)
        )
        self._contours = self.ax.contour(xx, yy, z, levels=levels, cmap="viridis", linewidths=0.7)
        self.ax.set_xlim(s.xlim)
        self.ax.set_ylim(s.ylim)
        self.reset()

    def reset(self):
        """Every optimiser back to the start point, with fresh state."""
        c = self.controls
        start = (float(c["start_x"].value), float(c["start_y"].value))
        self.racers = {n: _Racer(n, start, float(c[f"lr_{n}"].value)) for n in OPTIMIZERS}
        self.steps = 0
        self.render()

    def _apply_lrs(self):
        for name, racer in self.racers.items():
            racer.optimizer.lr = float(self.controls[f"lr_{name}"].value)

    def step(self, n=1):
        for _ in range(int(n)):
            for racer in self.racers.values():
                racer.step(self.surface)
            self.steps += 1
        return self

    def advance(self):
        self.step(self.steps_per_frame)
        self.render()

    @property
    def paths(self) -> dict:
        """name -> (T, 2) array of the positions visited."""
        return {n: np.array(r.path) for n, r in self.racers.items()}

    def _draw(self):
        s, parts = self.surface, []
        for name, path in self.paths.items():
            self._lines[name].set_data(path[:, 0], path[:, 1])
            self._heads[name].set_data(path[-1:, 0], path[-1:, 1])
            loss = s.f(path) - self._zmin + 1e-12
            self._loss_lines[name].set_data(np.arange(len(path)), loss)
            state = "diverged" if self.racers[name].diverged else f"{loss[-1]:.2e}"
            parts.append(f"{name} {state}")
        self.ax_loss.set_xlim(0, max(10, self.steps))
        self.ax_loss.set_ylim(1e-8, 10 * max(1.0, float(s.f(np.array(self._start())) - self._zmin)))
        self.ax.set_title(f"{self.controls['surface'].value}, step {self.steps}", fontsize="small")
        self.status.value = " &middot; ".join(parts)

    def _start(self):
        return (float(self.controls["start_x"].value), float(self.controls["start_y"].value))


def optimizer_race(surface="rosenbrock", steps_per_frame=5, max_fps=30.0):
    """SGD, momentum, Nesterov, Adagrad, RMSprop and Adam (``nncourse.optim``) racing on a
    2-D loss surface (Rosenbrock, an elongated quadratic, a saddle). Each racer is a
    2-vector parameter object (``.data``, ``.grad``) stepped by the library optimiser.
    Sliders: one learning rate per optimiser (live), the start point (resets).
    ``.racers[name].optimizer`` is the optimiser, ``.paths[name]`` the (T, 2) trajectory."""
    return OptimizerRace(surface, steps_per_frame, max_fps)


# ----------------------------------------------------------------------------- dropout / BN


class DropoutExplorer(_FigureView):
    """See :func:`dropout_explorer`."""

    def __init__(self, p=0.5, batch_size=32, units=64, seed=0):
        super().__init__(figsize=(9.0, 3.4))
        self.units = int(units)
        self._rng = np.random.default_rng(seed)
        c = self.controls
        c["p"] = _slider(W.FloatSlider, "p (drop)", value=p, min=0.0, max=0.95, step=0.05)
        c["batch_size"] = _slider(W.IntSlider, "batch size", value=batch_size, min=1, max=128)
        c["mode"] = W.ToggleButtons(options=["train", "eval"], value="train")
        c["resample"] = W.Button(description="New mask", icon="refresh")
        self._observe(["p", "batch_size", "mode"], self.update, wait=0.1)
        c["resample"].on_click(lambda _: self._guarded(self.forward)())
        fig = self.figure
        self.ax_in = fig.add_axes((0.04, 0.12, 0.27, 0.76))
        self.ax_out = fig.add_axes((0.36, 0.12, 0.27, 0.76))
        self.ax_hist = fig.add_axes((0.70, 0.14, 0.28, 0.74))
        kw = {
            "cmap": "magma",
            "vmin": 0.0,
            "vmax": 4.0,
            "aspect": "auto",
            "interpolation": "nearest",
        }
        self._im_in = self.ax_in.imshow(np.zeros((1, 1)), **kw)
        self._im_out = self.ax_out.imshow(np.zeros((1, 1)), **kw)
        self.ax_in.set_title("before: h (batch x units)", fontsize="small")
        for a in (self.ax_in, self.ax_out):
            a.set_xlabel("unit")
        self.ax_in.set_ylabel("example")
        self._edges = np.linspace(0, 6, 31)
        zeros = np.zeros(len(self._edges) - 1)
        self._st_in = self.ax_hist.stairs(zeros, self._edges, label="before", fill=True, alpha=0.4)
        self._st_out = self.ax_hist.stairs(zeros, self._edges, label="after", lw=1.5)
        self._mean_in = self.ax_hist.axvline(0, color="C0", ls=":")
        self._mean_out = self.ax_hist.axvline(0, color="C1", ls="--")
        self.ax_hist.set_xlabel("activation value")
        self.ax_hist.legend(fontsize="x-small")
        row = W.HBox([W.VBox([c["p"], c["batch_size"]]), W.VBox([c["mode"], c["resample"]])])
        self.children = [row, self.image, self.status]
        self.update()

    def update(self):
        """New layer and input batch for the controls; forward; render."""
        c = self.controls
        self.layer = L.Dropout(float(c["p"].value), rng=self._rng)
        self.layer.train(c["mode"].value == "train")
        # ReLU activations of a hidden layer: non-negative, many exact zeros
        z = self._rng.normal(0.5, 1.0, size=(int(c["batch_size"].value), self.units))
        self.x = F.relu(z).astype(np.float32)
        self.forward()

    def forward(self):
        """Run the layer on the current batch (a new dropout mask in train mode)."""
        self.out = to_numpy(self.layer.forward(self.x))
        self.render()

    def _draw(self):
        x, out = self.x, self.out
        self._im_in.set_data(x)
        self._im_out.set_data(out)
        for im in (self._im_in, self._im_out):
            im.set_extent((-0.5, x.shape[1] - 0.5, x.shape[0] - 0.5, -0.5))
        h_in, _ = np.histogram(x, self._edges)
        h_out, _ = np.histogram(out, self._edges)
        self._st_in.set_data(h_in, self._edges)
        self._st_out.set_data(h_out, self._edges)
        self.ax_hist.set_ylim(0, 1.05 * max(h_in.max(), h_out.max(), 1))
        self._mean_in.set_xdata([x.mean()] * 2)
        self._mean_out.set_xdata([out.mean()] * 2)
        p, mode = self.layer.p, self.controls["mode"].value
        self.ax_out.set_title(f"after Dropout(p={p:g}), {mode} mode", fontsize="small")
        kept = float((out != 0).sum()) / max(float((x != 0).sum()), 1.0)
        self.status.value = (
            f"mean before {x.mean():.3f}, after {out.mean():.3f} "
            f"(inverted dropout keeps the expectation) &middot; {kept:.0%} of non-zero units kept"
        )


def dropout_explorer(p=0.5, batch_size=32, units=64, seed=0):
    """A batch of ReLU activations (batch x units) before and after
    ``nncourse.layers.Dropout(p)``: in train mode a fraction ``p`` of units is dropped and
    the rest scaled by 1/(1-p) (the mean is kept); eval mode is the identity.
    ``.layer``, ``.x`` (input) and ``.out`` (output) are the arrays drawn."""
    return DropoutExplorer(p, batch_size, units, seed)


class BatchNormExplorer(_FigureView):
    """See :func:`batchnorm_explorer`."""

    # the input features: two correlated, shifted and scaled Gaussians
    MEAN = np.array([3.0, -2.0])
    COV = np.array([[4.0, 0.6], [0.6, 0.25]])

    def __init__(self, batch_size=32, momentum=0.1, seed=0):
        super().__init__(figsize=(8.0, 3.6))
        self._rng = np.random.default_rng(seed)
        c = self.controls
        c["batch_size"] = _slider(W.IntSlider, "batch size", value=batch_size, min=2, max=256)
        c["momentum"] = _slider(
            W.FloatSlider, "momentum", value=momentum, min=0.0, max=1.0, step=0.05
        )
        c["mode"] = W.ToggleButtons(options=["train", "eval"], value="train")
        c["new_batch"] = W.Button(description="New batch", icon="refresh")
        c["train10"] = W.Button(description="10 train batches", icon="forward")
        c["reset"] = W.Button(description="New layer", icon="undo")
        self._observe(["batch_size", "mode"], self.new_batch, wait=0.1)
        self._observe(["momentum"], self._set_momentum, wait=0.1)
        c["new_batch"].on_click(lambda _: self._guarded(self.new_batch)())
        c["train10"].on_click(lambda _: self._guarded(self.train_batches)(10))
        c["reset"].on_click(lambda _: self._guarded(self.reset)())
        fig = self.figure
        self.ax_in = fig.add_axes((0.07, 0.13, 0.4, 0.75))
        self.ax_out = fig.add_axes((0.57, 0.13, 0.4, 0.75))
        self._pts_in = self.ax_in.scatter([], [], s=10, alpha=0.7)
        self._pts_out = self.ax_out.scatter([], [], s=10, alpha=0.7, color="C1")
        (self._run_mark,) = self.ax_in.plot([], [], "k+", ms=14, mew=2, label="running mean")
        self.ax_in.legend(loc="upper left", fontsize="x-small")
        self.ax_in.set_xlim(-4, 10)
        self.ax_in.set_ylim(-4, 0)
        self.ax_in.set_title("before: x (feature 1 vs 2)", fontsize="small")
        for a in (self.ax_in, self.ax_out):
            a.axhline(0, color="k", lw=0.5)
            a.axvline(0, color="k", lw=0.5)
        buttons = W.VBox([c["new_batch"], c["train10"], c["reset"]])
        controls = W.VBox([c["batch_size"], c["momentum"], c["mode"]])
        self.children = [W.HBox([controls, buttons]), self.image, self.status]
        self.reset()

    def reset(self):
        self.layer = L.BatchNorm1d(2, momentum=float(self.controls["momentum"].value))
        self.new_batch()

    def _set_momentum(self):
        self.layer.momentum = float(self.controls["momentum"].value)

    def _sample(self):
        n = int(self.controls["batch_size"].value)
        return self._rng.multivariate_normal(self.MEAN, self.COV, size=n).astype(np.float32)

    def train_batches(self, k=10):
        """Forward ``k`` fresh batches in train mode (updates the running statistics)."""
        was = self.layer.training
        self.layer.train()
        for _ in range(int(k)):
            self.layer.forward(self._sample())
        self.layer.train(was)
        self.new_batch()

    def new_batch(self):
        """A fresh batch through the layer in the selected mode; render."""
        self.layer.train(self.controls["mode"].value == "train")
        self.x = self._sample()
        self.out = to_numpy(self.layer.forward(self.x))
        self.render()

    def _draw(self):
        x, out, layer = self.x, self.out, self.layer
        self._pts_in.set_offsets(x)
        self._pts_out.set_offsets(out)
        rm = to_numpy(layer.running_mean)
        self._run_mark.set_data([rm[0]], [rm[1]])
        lim = max(3.0, float(np.abs(out).max()) * 1.1)
        self.ax_out.set_xlim(-lim, lim)
        self.ax_out.set_ylim(-lim, lim)
        mode = "train" if layer.training else "eval"
        self.ax_out.set_title(f"after BatchNorm1d, {mode} mode", fontsize="small")
        rv = to_numpy(layer.running_var)
        self.status.value = (
            f"output mean ({out[:, 0].mean():.2f}, {out[:, 1].mean():.2f}), "
            f"std ({out[:, 0].std():.2f}, {out[:, 1].std():.2f}) &middot; running mean "
            f"({rm[0]:.2f}, {rm[1]:.2f}), running var ({rv[0]:.2f}, {rv[1]:.2f})"
        )


def batchnorm_explorer(batch_size=32, momentum=0.1, seed=0):
    """A batch of two shifted, scaled, correlated features before and after
    ``nncourse.layers.BatchNorm1d``. Train mode normalises with the batch statistics
    (noisier for small batches) and updates the running ones ("10 train batches");
    eval mode uses the running statistics, so an untrained layer does not normalise.
    ``.layer``, ``.x`` and ``.out`` are the arrays drawn."""
    return BatchNormExplorer(batch_size, momentum, seed)
