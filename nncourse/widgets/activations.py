"""The activation explorer: g and g' with their saturated and dead regions."""

from __future__ import annotations

import inspect

import ipywidgets as W
import numpy as np
from matplotlib.colors import ListedColormap

from .. import layers as L
from ..backend import to_numpy
from .base import FigureView, dropdown, row, slider


def _hyper_parameters() -> dict:
    """Every hyper-parameter name of the activations in ``layers.ACTIVATIONS`` -> the first
    class that has it (one slider per name; while an activation is selected, its own
    ``param_ranges`` set the slider's range)."""
    first = {}
    for cls in L.ACTIVATIONS.values():
        for pname in cls.param_ranges:
            first.setdefault(pname, cls)
    return first


def _defaults(cls) -> dict:
    """The hyper-parameters' default values: those of the activation's function."""
    params = inspect.signature(cls.function).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


class ActivationExplorer(FigureView):
    """See :func:`activation_explorer`."""

    def __init__(self, name="sigmoid", x_range=(-6.0, 6.0), threshold=0.05):
        super().__init__(figsize=(7.0, 3.6))
        if name not in L.ACTIVATIONS:
            raise ValueError(
                f"activation_explorer: unknown activation {name!r}; one of {list(L.ACTIVATIONS)}"
            )
        c = self.controls
        c["function"] = dropdown("function", list(L.ACTIVATIONS), name)
        c["x_range"] = slider(
            W.FloatRangeSlider, "x range", value=x_range, min=-12, max=12, step=0.5
        )
        c["threshold"] = slider(
            W.FloatLogSlider, "saturated if |g'| <", value=threshold, base=10, min=-3, max=-0.5
        )
        self.hyper_parameters = list(_hyper_parameters())
        for pname, cls in _hyper_parameters().items():
            lo, hi, step = cls.param_ranges[pname]
            value = _defaults(cls)[pname]
            c[pname] = slider(W.FloatSlider, pname, value=value, min=lo, max=hi, step=step)
        self._configure_sliders()
        self._observe(["function"], self._function_changed, wait=0.1)
        self._observe([k for k in c if k != "function"], self.render, wait=0.1)

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
        params = W.VBox([c[p] for p in self.hyper_parameters])
        left = W.VBox([c["function"], c["x_range"], c["threshold"]])
        self.children = [row([left, params]), self.image, self.status]
        self.render()

    @property
    def activation(self):
        """The selected activation's layer class (``name``, ``function``, ``derivative``,
        ``param_ranges``)."""
        return L.ACTIVATIONS[self.controls["function"].value]

    def params(self) -> dict:
        """Keyword parameters of the selected function, from the sliders."""
        return {k: float(self.controls[k].value) for k in self.activation.param_ranges}

    def _configure_sliders(self):
        """The selected activation's sliders get its ranges (a value outside the range goes
        back to the function's default); the other activations' sliders are disabled."""
        cls, outer = self.activation, self._held
        self._held = [] if outer is None else outer  # these changes make no update of their own
        try:
            for pname in self.hyper_parameters:
                s = self.controls[pname]
                s.disabled = pname not in cls.param_ranges
                if s.disabled:
                    continue
                lo, hi, step = cls.param_ranges[pname]
                value = s.value
                if lo > s.max:  # keep min <= max at every step
                    s.max, s.min = hi, lo
                else:
                    s.min, s.max = lo, hi
                s.step = step
                # a value outside the new range goes back to the function's default
                s.value = value if lo <= value <= hi else _defaults(cls)[pname]
        finally:
            if outer is None:
                self._held = None

    def _function_changed(self):
        self._configure_sliders()
        self.render()

    def _draw(self):
        c = self.controls
        cls = self.activation
        name, g, dg = cls.name, cls.function, cls.derivative
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
    """An activation g and its derivative g' over ``x_range``, from the activation layers'
    registry ``nncourse.layers.ACTIVATIONS``; grey where the unit is saturated
    (``|g'| < threshold``: gradients vanish), red where it is dead (``g' = 0``).
    Sliders set the function's parameters (leaky slope, ELU alpha, hardtanh limits, PReLU
    slope) within each class's ``param_ranges``.
    ``.values`` holds the arrays drawn (x, g, dg, saturated, dead)."""
    return ActivationExplorer(name, x_range, threshold)
