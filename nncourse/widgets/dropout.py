"""The dropout explorer: a batch of activations before and after inverted dropout."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import functional as F
from .. import init as initializers
from .. import layers as L
from ..backend import to_numpy
from .base import FigureView, row, slider


class DropoutExplorer(FigureView):
    """See :func:`dropout_explorer`."""

    def __init__(self, p=0.5, batch_size=32, units=64, seed=0):
        super().__init__(figsize=(9.0, 3.4))
        self.units = int(units)
        self._rng = initializers.as_generator(seed, who="dropout_explorer")
        c = self.controls
        c["p"] = slider(W.FloatSlider, "p (drop)", value=p, min=0.0, max=0.95, step=0.05)
        c["batch_size"] = slider(W.IntSlider, "batch size", value=batch_size, min=1, max=128)
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
        controls = row([W.VBox([c["p"], c["batch_size"]]), W.VBox([c["mode"], c["resample"]])])
        self.children = [controls, self.image, self.status]
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
