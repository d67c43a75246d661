"""The playground's network picture, as TensorFlow Playground draws it.

One column per layer: the input features, each hidden layer, the output. Every unit is a
small heat map of its own output over the input plane; an edge joins every unit to every
unit of the next layer, as wide as its weight is large, blue for a positive weight and red
for a negative one (the colours of the decision surface). The artists are made once per
network (:meth:`NetworkView.build`) and updated in place every frame
(:meth:`NetworkView.update`): the edges are one ``LineCollection`` whose widths and colours
are reset; the heat maps are coloured with a look-up table and copied onto the canvas as
pixel tiles (:class:`~nncourse.widgets.base.PixelBlocks`), since two dozen matplotlib
images would cost more than everything else in a frame.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from .base import PixelBlocks

CMAP = "RdBu"  # negative (or class 0) red, positive (or class 1) blue
_RGB = matplotlib.colormaps[CMAP]
_LUT = _RGB(np.arange(_RGB.N), bytes=True)  # (256, 4) uint8: matplotlib's own table
POSITIVE = np.array(_RGB(0.85))  # colour of an edge with a positive weight
NEGATIVE = np.array(_RGB(0.15))  # ... and with a negative one

GAP = 2.6  # distance between the left edges of two columns (a heat map is 1 x 1)
ROW = 1.25  # distance between two units of a column
FULL_WEIGHT = 1.5  # |w| drawn at the widest edge (larger weights are clipped)
MAX_TILE = 36  # pixels per heat map at most (a small network is not blown up)


def unit_name(layer: int, unit: int) -> str:
    """'h2.3': unit 3 of hidden layer 2 (both counted from 1)."""
    return f"h{layer}.{unit}"


def _lut(alpha: float) -> np.ndarray:
    """The 256-colour table of ``CMAP`` blended over white with opacity ``alpha``."""
    lut = _LUT.copy()
    lut[:, :3] = np.rint(alpha * _LUT[:, :3] + (1.0 - alpha) * 255).astype(np.uint8)
    return lut


def colours(t, alpha=1.0) -> np.ndarray:
    """RGBA uint8 colours of ``CMAP`` at positions ``t`` in [0, 1] (NaN: the middle, white),
    blended over a white background with opacity ``alpha`` (the result is opaque). With
    ``alpha=1`` these are exactly ``matplotlib.colormaps[CMAP](t, bytes=True)``."""
    t = np.nan_to_num(np.asarray(t, dtype=np.float64), nan=0.5)
    index = np.clip(t * _RGB.N, 0, _RGB.N - 1).astype(np.intp)  # matplotlib's binning
    return (_LUT if alpha >= 1.0 else _lut(alpha))[index]


def symmetric_limit(values) -> float:
    """Colour limit of a heat map: +-1, or +-max|v| where the unit's outputs exceed 1 (ReLU)."""
    finite = np.abs(values)[np.isfinite(values)]
    return max(1.0, float(finite.max())) if finite.size else 1.0


def nearest_cells(n_cells: int, n_pixels: int) -> np.ndarray:
    """For each of ``n_pixels`` pixels across, the index of the grid cell under its centre."""
    return ((np.arange(n_pixels) + 0.5) * n_cells / n_pixels).astype(np.intp)


def bilinear_weights(n_cells: int, n_pixels: int):
    """Linear interpolation between cell centres, for each of ``n_pixels`` pixels across:
    the two neighbouring cells ``(lo, hi)`` and the weight ``f`` of ``hi``."""
    u = np.clip((np.arange(n_pixels) + 0.5) * n_cells / n_pixels - 0.5, 0, n_cells - 1)
    lo = np.floor(u).astype(np.intp)
    return lo, np.minimum(lo + 1, n_cells - 1), u - lo


def resample_bilinear(values, rows, cols) -> np.ndarray:
    """An (r, r) grid resampled to pixels, bilinearly: ``rows``/``cols`` are
    :func:`bilinear_weights` for the pixel height and width."""
    (lo, hi, f), (clo, chi, cf) = rows, cols
    v = np.asarray(values, dtype=np.float64)
    v = v[lo] * (1 - f)[:, None] + v[hi] * f[:, None]
    return v[:, clo] * (1 - cf) + v[:, chi] * cf


class NetworkView:
    """The network drawn in ``ax``: heat maps per unit, weighted edges, one highlighted unit.

    ``columns``: per column (features, hidden layers, output) the list of unit names
    drawn; ``tiles``: the :class:`PixelBlocks` holding one (s, s, 4) RGBA tile per drawn
    unit (``tile(name)``); ``edges``: the ``LineCollection``, one segment per drawn
    weight, in the order of the rows (layer, to, from) of ``edge_index``. At most
    ``max_units`` units of a layer are drawn (the rest are counted in a note).
    """

    def __init__(self, ax, max_units=12):
        self.ax = ax
        self.max_units = int(max_units)
        self.columns: list[list[str]] = []
        self.tiles = PixelBlocks()
        self.tile_size = 1
        self.edges = self._highlight = None
        self.edge_index = np.zeros((0, 3), dtype=int)
        self.selected = None
        self._artists: list = []  # everything build() made, removed by the next build()
        self._boxes: dict[str, tuple[float, float]] = {}  # unit -> (x0, y0) of its map
        self._tile_of: dict[str, int] = {}  # unit -> its index in tiles.blocks
        self._content = (0.0, 1.0, 0.0, 1.0)  # data box of the drawing (x0, x1, y0, y1)
        ax.set_axis_off()

    # -- structure -------------------------------------------------------------------
    def build(self, feature_names, hidden_sizes, activation=""):
        """New artists for a network on ``feature_names`` with ``hidden_sizes`` hidden units
        per layer and one output unit (the old artists are removed)."""
        for artist in self._artists:
            artist.remove()
        self._artists, self._boxes = [], {}
        ax, m = self.ax, self.max_units
        sizes = [len(feature_names), *hidden_sizes, 1]
        self.columns = [list(feature_names)[:m]]
        self.columns += [
            [unit_name(i + 1, j + 1) for j in range(min(n, m))] for i, n in enumerate(hidden_sizes)
        ]
        self.columns.append(["output"])
        tall = max(len(c) for c in self.columns)
        text = {"fontsize": 7, "ha": "center"}
        for col, names in enumerate(self.columns):
            x0 = col * GAP
            top = (len(names) - 1) / 2 * ROW
            for i, name in enumerate(names):
                y0 = top - i * ROW - 0.5
                self._boxes[name] = (x0, y0)
                if col == 0:  # the feature's name to its left
                    self._text(x0 - 0.15, y0 + 0.5, name, ha="right", va="center", fontsize=7)
            if col == 0:
                title = "features"
            elif col == len(self.columns) - 1:
                title = "output"
            else:
                title = f"layer {col}" + (f"\n{activation}" if activation else "")
            self._text(x0 + 0.5, (tall - 1) / 2 * ROW + 0.75, title, va="bottom", **text)
            if sizes[col] > len(names):
                note = f"+{sizes[col] - len(names)} more"
                self._text(x0 + 0.5, -(tall - 1) / 2 * ROW - 0.75, note, va="top", **text)
        segments, index = [], []
        for layer in range(len(self.columns) - 1):
            for j, dst in enumerate(self.columns[layer + 1]):
                for i, src in enumerate(self.columns[layer]):
                    (xa, ya), (xb, yb) = self._boxes[src], self._boxes[dst]
                    segments.append(((xa + 1, ya + 0.5), (xb, yb + 0.5)))
                    index.append((layer, j, i))
        self.edge_index = np.array(index, dtype=int).reshape(-1, 3)
        self.edges = LineCollection(segments, linewidths=0.5, colors=[POSITIVE], zorder=1)
        ax.add_collection(self.edges)
        self._highlight = Rectangle((0, 0), 1.3, 1.3, fill=False, lw=1.5, ec="black", zorder=1.5)
        ax.add_patch(self._highlight)
        self._artists += [self.edges, self._highlight]
        half = (tall - 1) / 2 * ROW + 0.5  # from the middle row to the tallest column's edge
        # room for the feature names on the left, the titles above and "+N more" below
        self._content = (-1.6, (len(self.columns) - 1) * GAP + 1.2, -half - 0.9, half + 1.4)
        self.place()
        self.select(self.selected if self.selected in self._boxes else "output")

    def place(self):
        """Fit the drawing into the axes box at equal scale in x and y, and put each unit's
        tile on its pixels. Call after the figure size or the axes position changed."""
        ax = self.ax
        x0, x1, y0, y1 = self._content
        box = ax.get_position().transformed(ax.figure.transFigure)  # in pixels
        scale = min(box.width / (x1 - x0), box.height / (y1 - y0), MAX_TILE)  # px per unit
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, box.width / scale / 2, box.height / scale / 2
        ax.set_xlim(cx - hw, cx + hw)
        ax.set_ylim(cy - hh, cy + hh)
        self.tile_size = s = max(1, round(scale))
        blank = np.zeros((s, s, 4), dtype=np.uint8)
        self.tiles.blocks, self._tile_of = [], {}
        for name, (bx, by) in self._boxes.items():
            px, py = ax.transData.transform((bx, by))
            self._tile_of[name] = len(self.tiles.blocks)
            self.tiles.blocks.append((blank.copy(), round(px), round(py)))

    def _text(self, x, y, s, **kw):
        self._artists.append(self.ax.text(x, y, s, **kw))

    def select(self, name):
        """Frame the unit ``name`` (and bring out its incoming edges at the next update)."""
        self.selected = name
        box = self._boxes.get(name)
        self._highlight.set_visible(box is not None)
        if box is not None:
            self._highlight.set_xy((box[0] - 0.15, box[1] - 0.15))

    def tile(self, name) -> np.ndarray:
        """The (s, s, 4) RGBA tile of unit ``name`` (row 0 at the bottom)."""
        return self.tiles.blocks[self._tile_of[name]][0]

    # -- every frame -----------------------------------------------------------------
    def update(self, maps, weights):
        """``maps[c]``: (units, r, r) outputs of column c over the plane (the output column
        as P(class 1)); ``weights[l]``: the (out, in) weight matrix of Linear layer l."""
        last = len(self.columns) - 1
        for col, names in enumerate(self.columns):
            values = np.asarray(maps[col][: len(names)], dtype=float)
            pick = nearest_cells(values.shape[-1], self.tile_size)
            small = values[:, pick][:, :, pick]
            if col == last:  # a probability: 0 red, 1 blue
                t = small
            else:  # symmetric around 0, one scale per unit
                lims = np.array([symmetric_limit(v) for v in values])
                t = 0.5 + 0.5 * small / lims[:, None, None]
            for name, block in zip(names, colours(t)):
                self.tile(name)[...] = block
        layer, j, i = self.edge_index.T
        # the drawn block of each weight matrix, row by row: the order build() made the edges
        w = np.concatenate(
            [
                np.asarray(weights[l])[: len(self.columns[l + 1]), : len(self.columns[l])].ravel()
                for l in range(last)
            ]
        ).astype(float)
        strength = np.nan_to_num(np.minimum(np.abs(w) / FULL_WEIGHT, 1.0))
        colors = np.where((w >= 0)[:, None], POSITIVE, NEGATIVE)
        colors[:, 3] = 0.35 + 0.65 * strength
        target = self._incoming_of(self.selected)
        if target is not None:  # a hidden unit chosen: its incoming edges stand out
            mine = (layer == target[0]) & (j == target[1])
            colors[~mine, 3] *= 0.25
        self.edges.set_linewidths(0.3 + 2.7 * strength)
        self.edges.set_colors(colors)

    def _incoming_of(self, name):
        """(layer, unit) of the Linear weights into hidden unit ``name``; None otherwise."""
        for col, names in enumerate(self.columns[1:-1], start=1):
            if name in names:
                return col - 1, names.index(name)
        return None

    def animated(self) -> list:
        """The artists that change every frame, in drawing order (edges under the tiles)."""
        return [self.edges, self.tiles]
