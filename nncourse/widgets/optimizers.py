"""The optimiser race: the library's optimisers side by side on 2-D loss surfaces."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .base import OPTIMIZERS, FigureView, Player, dropdown, row, slider


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


class OptimizerRace(FigureView):
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
        c["surface"] = dropdown("surface", list(SURFACES), surface)
        c["start_x"] = slider(W.FloatSlider, "start w1", value=s.start[0], min=-4, max=4, step=0.1)
        c["start_y"] = slider(W.FloatSlider, "start w2", value=s.start[1], min=-4, max=4, step=0.1)
        for name in OPTIMIZERS:
            c[f"lr_{name}"] = slider(
                W.FloatLogSlider,
                f"lr {name}",
                value=s.lrs[name],
                base=10,
                min=-5,
                max=0.5,
                readout_format=".1e",
            )
        self.player = Player(self, self.advance, self.reset, max_fps=max_fps)
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
        self.children = [self.player.box(), row([left, lrs]), self.image, self.status]
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
