"""The activation explorer: g and g' with their saturated and dead regions."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from matplotlib.colors import ListedColormap

from .. import functional as F
from ..backend import to_numpy
from .base import FigureView, dropdown, slider

_ACT_PARAM_RANGES = {
    "negative_slope": (0.0, 0.5, 0.01),
    "alpha": (0.1, 3.0, 0.1),
    "min_val": (-3.0, -0.1, 0.1),
    "max_val": (0.1, 3.0, 0.1),
}


class ActivationExplorer(FigureView):
    """See :func:`activation_explorer`."""

    def __init__(self, name="sigmoid", x_range=(-6.0, 6.0), threshold=0.05):
        super().__init__(figsize=(7.0, 3.6))
        if name not in F.ACTIVATIONS:
            raise ValueError(
                f"activation_explorer: unknown activation {name!r}; one of {list(F.ACTIVATIONS)}"
            )
        c = self.controls
        c["function"] = dropdown("function", list(F.ACTIVATIONS), name)
        c["x_range"] = slider(
            W.FloatRangeSlider, "x range", value=x_range, min=-12, max=12, step=0.5
        )
        c["threshold"] = slider(
            W.FloatLogSlider, "saturated if |g'| <", value=threshold, base=10, min=-3, max=-0.5
        )
        for pname, (lo, hi, step) in _ACT_PARAM_RANGES.items():
            default = next(
                (d[pname] for _, _, d in F.ACTIVATIONS.values() if pname in d), (lo + hi) / 2
            )
            c[pname] = slider(W.FloatSlider, pname, value=default, min=lo, max=hi, step=step)
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
