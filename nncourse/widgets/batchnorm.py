"""The batch-norm explorer: two features before and after BatchNorm1d, train and eval."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import init as initializers
from .. import layers as L
from ..backend import to_numpy
from .base import FigureView, row, slider


class BatchNormExplorer(FigureView):
    """See :func:`batchnorm_explorer`."""

    # the input features: two correlated, shifted and scaled Gaussians
    MEAN = np.array([3.0, -2.0])
    COV = np.array([[4.0, 0.6], [0.6, 0.25]])

    def __init__(self, batch_size=32, momentum=0.1, seed=0):
        super().__init__(figsize=(8.0, 3.6))
        self._rng = initializers.as_generator(seed, who="batchnorm_explorer")
        c = self.controls
        c["batch_size"] = slider(W.IntSlider, "batch size", value=batch_size, min=2, max=256)
        c["momentum"] = slider(
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
        self.children = [row([controls, buttons]), self.image, self.status]
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
