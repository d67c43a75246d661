"""What every explorer shares: the figure-as-PNG view, Play/Pause, debounced controls,
and the tables of activations and optimisers the explorers offer."""

from __future__ import annotations

import asyncio
import io
import struct
import time
import zlib

import ipywidgets as W
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import layers as L
from .. import optim

# Activation name -> the layer class that applies it: the library's registry itself, so a
# new activation class shows up in every explorer's menu.
ACTIVATION_LAYERS = L.ACTIVATIONS

# Optimiser label -> (class, keyword arguments besides lr): the library's optimisers.
OPTIMIZERS = {
    "SGD": (optim.SGD, {}),
    "Momentum": (optim.SGD, {"momentum": 0.9}),
    "Nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "Adagrad": (optim.Adagrad, {}),
    "RMSprop": (optim.RMSprop, {}),
    "Adam": (optim.Adam, {}),
}

# room for the longest description ("saturated if |g'| <") in JupyterLab's and Voila's fonts
CONTROL_STYLE = {"description_width": "130px"}
SLIDER_LAYOUT = W.Layout(width="340px")


def row(children) -> W.HBox:
    """Controls side by side that wrap onto the next line when the page is narrow (a laptop
    with JupyterLab's file browser open), instead of squeezing their labels to "x1..."."""
    return W.HBox(children, layout=W.Layout(flex_flow="row wrap"))


def fixed(width: str) -> W.Layout:
    """A control that keeps its width in a :func:`row` (it wraps instead of shrinking)."""
    return W.Layout(width=width, flex="0 0 auto")


# ----------------------------------------------------------------------------- plumbing


class Debounced:
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


def slider(kind, description, **kw):
    kw.setdefault("continuous_update", False)
    return kind(description=description, style=CONTROL_STYLE, layout=SLIDER_LAYOUT, **kw)


def dropdown(description, options, value):
    return W.Dropdown(
        description=description,
        options=options,
        value=value,
        style=CONTROL_STYLE,
        layout=SLIDER_LAYOUT,
    )


class FigureView(W.VBox):
    """A widget showing one Agg figure as a PNG image, with controls and a status line.

    Subclasses build their artists once in ``__init__`` and update them in ``_draw()``;
    ``render()`` calls ``_draw()`` and encodes the figure.
    """

    def __init__(self, figsize, dpi=80):
        super().__init__()
        self.add_class("nncourse-widget")  # the browser tests find the course's widgets by it
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.image.add_class("nncourse-frame")
        self.status = W.HTML()
        self.controls: dict[str, W.Widget] = {}
        self.frame = b""
        self.frames_rendered = 0
        self._held = None  # while set() runs: the debounced updates to run once at the end
        self._background = None  # (key, pixels) of the figure without its animated artists

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
        self._paint(canvas)
        self.frame = png_rgb(np.asarray(canvas.buffer_rgba())[..., :3])
        self.image.value = self.frame
        self.frames_rendered += 1
        return self.frame

    # Blitting: a view whose frames change only some artists lists them in
    # ``_animated_artists()`` (they are set animated, so a full draw leaves them out) and
    # describes everything else in ``_background_key()``. The rest of the figure (axes,
    # ticks, labels, legends: most of the drawing time) is drawn once and kept as a pixel
    # copy; a frame restores that copy and draws the animated artists over it. The copy is
    # redrawn whenever the key changes.
    def _animated_artists(self) -> list:
        """Artists redrawn every frame, in drawing order (none: every frame is a full draw)."""
        return []

    def _background_key(self):
        """A value that changes whenever anything not animated changes."""
        return None

    def _paint(self, canvas):
        animated = self._animated_artists()
        if not animated:
            canvas.draw()
            return
        key = (self._background_key(), canvas.get_width_height())
        if self._background is None or key != self._background[0]:
            for artist in animated:
                artist.set_animated(True)
            canvas.draw()
            self._background = (key, canvas.copy_from_bbox(self.figure.bbox))
        else:
            canvas.restore_region(self._background[1])
        for artist in animated:
            if artist.get_visible():
                self.figure.draw_artist(artist)

    def frame_array(self) -> np.ndarray:
        """The last frame decoded to an (H, W, 3) float array in [0, 1] (for comparisons)."""
        from matplotlib.image import imread  # noqa: PLC0415

        return imread(io.BytesIO(self.frame), format="png")

    def _observe(self, names, fn, wait=0.2):
        """Call ``fn`` (debounced) when any of the named controls changes value."""
        deb = Debounced(self._guarded(fn), wait)

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


def png_rgb(rgb: np.ndarray, level: int = 1) -> bytes:
    """An (H, W, 3) uint8 image as PNG bytes: 8-bit RGB, rows unfiltered, zlib at ``level``.

    Encoding is the dearest single step of a frame. Libraries try a filter per row, which
    pays off for photographs; a figure is mostly flat colour, so the rows go to zlib as
    they are (at the fast level 1 the file is as small, and it takes half the time). The
    figure is opaque, so the alpha channel is left out (a quarter fewer bytes).
    """
    h, w = rgb.shape[:2]
    raw = np.zeros((h, 1 + 3 * w), dtype=np.uint8)  # each row: filter type 0, then pixels
    raw[:, 1:] = rgb.reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + chunk(b"IEND", b"")
    )


class PixelBlocks(Artist):
    """Opaque RGBA blocks copied onto the Agg canvas pixel for pixel.

    ``blocks`` is a list of ``(rgba, x, y)``: an (h, w, 4) uint8 array whose row 0 is its
    bottom row, placed with its lower-left corner at pixel (x, y) from the figure's
    lower-left corner (parts outside the canvas are cut). Colour mapping and resampling
    are done beforehand with NumPy, so drawing is a copy: a matplotlib image costs a few
    milliseconds per draw, which adds up at many frames a second. Meant as an animated
    artist of a :class:`FigureView` (drawn with ``figure.draw_artist``); renderers without
    a pixel buffer (vector formats) draw nothing.
    """

    def __init__(self):
        super().__init__()
        self.blocks: list[tuple[np.ndarray, int, int]] = []

    def draw(self, renderer):
        if not self.get_visible() or not hasattr(renderer, "buffer_rgba"):
            return
        canvas = np.asarray(renderer.buffer_rgba())  # row 0 is the top of the figure
        height, width = canvas.shape[:2]
        for rgba, x, y in self.blocks:
            h, w = rgba.shape[:2]
            top = height - (y + h)
            r0, r1 = max(top, 0), min(top + h, height)
            c0, c1 = max(x, 0), min(x + w, width)
            if r0 < r1 and c0 < c1:
                flipped = rgba[::-1]
                canvas[r0:r1, c0:c1] = flipped[r0 - top : r1 - top, c0 - x : c1 - x]
        self.stale = False


class Player:
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
