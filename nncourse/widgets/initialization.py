"""The initialisation explorer: activations layer by layer through a deep network."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import init as initializers
from .. import layers as L
from .. import viz
from ..backend import to_numpy
from .base import ACTIVATION_LAYERS, FigureView, dropdown, row, slider

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


class InitExplorer(FigureView):
    """See :func:`init_explorer`."""

    def __init__(
        self, depth=10, width=500, activation="tanh", init="Xavier", n_samples=500, seed=0
    ):
        super().__init__(figsize=(10.0, 4.2))
        if init not in INITS:
            raise ValueError(f"init_explorer: unknown init {init!r}; one of {list(INITS)}")
        self.n_samples = int(n_samples)
        self._rng = initializers.as_generator(seed, who="init_explorer")
        c = self.controls
        c["depth"] = slider(W.IntSlider, "depth", value=depth, min=1, max=16)
        c["width"] = slider(W.IntSlider, "width", value=width, min=10, max=1000, step=10)
        c["activation"] = dropdown("activation", list(ACTIVATION_LAYERS), activation)
        c["init"] = dropdown("initialisation", list(INITS), init)
        c["resample"] = W.Button(description="New weights", icon="refresh")
        self._observe(["depth", "width", "activation", "init"], self.update)
        c["resample"].on_click(lambda _: self._guarded(self.update)())
        self.children = [
            row([W.VBox([c["depth"], c["width"]]), W.VBox([c["activation"], c["init"]])]),
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
