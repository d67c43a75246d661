"""Plots for the course (matplotlib).

Every function takes ``ax=`` to draw into existing axes and never calls
``plt.show()``. Single-panel plots return their **Axes**:
:func:`decision_regions`, :func:`weight_images`, :func:`activation_plot`,
:func:`loss_surface`. Multi-panel plots return their **Figure**:
:func:`training_curves`, :func:`activation_histograms`.

Arrays may come from NumPy or CuPy; they are copied to the host with
``nncourse.backend.to_numpy`` at the edge.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from nncourse import backend
from nncourse.backend import to_numpy
from nncourse.layers import eval_mode

__all__ = [
    "decision_regions",
    "training_curves",
    "activation_histograms",
    "weight_images",
    "activation_plot",
    "loss_surface",
]

_CLASS_COLORS = plt.get_cmap("tab10").colors


def _new_axes(ax, **subplot_kw):
    if ax is None:
        _, ax = plt.subplots(**subplot_kw)
    return ax


# ----------------------------------------------------------------------------- decision regions


def _model_dtype(model):
    """dtype of a model's first parameter (so the grid matches float32 models)."""
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return getattr(p.data, "dtype", None)
    return None


def _predict_scores(model, points):
    """Call ``model.forward`` (in eval mode) or the callable ``model`` on (M, 2) points."""
    if hasattr(model, "forward"):
        dtype = _model_dtype(model)
        with eval_mode(model):  # dropout/batch norm must not make the picture random
            return model.forward(backend.asarray(points, dtype=dtype))
    if callable(model):
        return model(points)
    raise TypeError(
        "decision_regions: expected a callable (M, 2) -> scores/labels or a model with "
        f"forward(), got {type(model).__name__}"
    )


def _to_labels(out, m, classes):
    """Model output -> (M,) labels: argmax of (M, C) scores, threshold of (M,)/(M, 1)."""
    out = np.asarray(to_numpy(out))
    if out.ndim == 2 and out.shape[0] == m and out.shape[1] > 1:
        return out.argmax(axis=1)
    if out.size != m:
        raise ValueError(
            f"decision_regions: the model returned shape {out.shape} for {m} points; "
            f"expected ({m},), ({m}, 1) or ({m}, C)"
        )
    out = out.reshape(m)
    if out.dtype.kind in "iub" or (np.all(out == np.round(out)) and len(np.unique(out)) > 2):
        return out.astype(np.int64)  # already labels
    # One real score per point: positive means the larger of two classes.
    neg, pos = (classes[0], classes[-1]) if len(classes) == 2 else (0, 1)
    return np.where(out > 0, pos, neg)


def decision_regions(
    model,
    X,
    y=None,
    ax=None,
    resolution=200,
    padding=0.5,
    alpha=0.35,
    show_points=True,
):
    """Colour the plane by a model's predicted class and scatter the data on top.

    ``model`` is a callable mapping points (M, 2) to scores or labels, or an
    object with ``forward`` (an nncourse model, put in eval mode for the call).
    Outputs (M, C) with C > 1 are reduced by argmax; (M,) or (M, 1) integer
    outputs are taken as labels, real ones are thresholded at 0 (positive ->
    the larger of the two classes in ``y``, e.g. +1 for {-1, +1}).

    X (N, 2), y (N,) labels or None. The grid has ``resolution`` x
    ``resolution`` cells spanning the data +- ``padding``; its predicted labels
    are the array of the first collection of the returned **Axes**
    (``ax.collections[0].get_array()``).
    """
    X = np.asarray(to_numpy(X), dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"decision_regions: expected X of shape (N, 2), N >= 1, got {X.shape}")
    y = None if y is None else np.asarray(to_numpy(y)).reshape(-1)
    if y is not None and len(y) != len(X):
        raise ValueError(f"decision_regions: X has {len(X)} points but y has {len(y)} labels")
    ax = _new_axes(ax)

    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.c_[xx.ravel(), yy.ravel()]
    classes = np.unique(y) if y is not None else np.array([0, 1])
    pred = _to_labels(_predict_scores(model, grid), len(grid), classes)

    # One colour per class seen in the labels or the predictions, in sorted order.
    all_classes = np.union1d(classes, np.unique(pred))
    index = np.searchsorted(all_classes, pred).reshape(xx.shape)
    k = len(all_classes)
    colors = [_CLASS_COLORS[i % len(_CLASS_COLORS)] for i in range(k)]
    cmap = ListedColormap(colors)
    ax.pcolormesh(xx, yy, index, cmap=cmap, vmin=-0.5, vmax=k - 0.5, alpha=alpha, shading="auto")
    if show_points:
        point_colors = None if y is None else np.searchsorted(all_classes, y)
        ax.scatter(
            X[:, 0],
            X[:, 1],
            c="k" if y is None else point_colors,
            cmap=None if y is None else cmap,
            vmin=None if y is None else -0.5,
            vmax=None if y is None else k - 0.5,
            s=15,
            edgecolors="k",
            linewidths=0.5,
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


# ----------------------------------------------------------------------------- training curves


def _series(history, name):
    value = history[name] if isinstance(history, dict) else getattr(history, name, None)
    return [] if value is None else [float(v) for v in value]


def training_curves(history, ax=None):
    """Loss and accuracy per epoch, training and validation, from a ``History``.

    ``history`` has ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``
    (lists, one value per epoch; any may be empty) as attributes or dict keys.
    With ``ax=None`` loss and accuracy get two side-by-side axes; pass a pair
    of axes to choose them, or one Axes to draw loss on it and accuracy on a
    twin y axis. Returns the **Figure**.
    """
    if ax is None:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    elif isinstance(ax, (list, tuple, np.ndarray)):
        if len(ax) != 2:
            raise ValueError(f"training_curves: ax must be one Axes or two, got {len(ax)}")
        ax_loss, ax_acc = ax
        fig = ax_loss.figure
    else:
        ax_loss, ax_acc, fig = ax, None, ax.figure

    series = {name: _series(history, name) for name in ("train_loss", "val_loss")}
    series |= {name: _series(history, name) for name in ("train_acc", "val_acc")}
    if not series["train_loss"] and not series["val_loss"]:
        raise ValueError("training_curves: history has no train_loss or val_loss values")
    has_acc = bool(series["train_acc"] or series["val_acc"])
    if ax_acc is None and has_acc:
        ax_acc = ax_loss.twinx()

    def plot(target, kind, ylabel):
        for split, style in (("train", "-"), ("val", "--")):
            values = series[f"{split}_{kind}"]
            if values:
                epochs = np.arange(1, len(values) + 1)
                target.plot(epochs, values, style, marker=".", label=f"{split} {kind}")
        target.set_xlabel("epoch")
        target.set_ylabel(ylabel)

    plot(ax_loss, "loss", "loss")
    if has_acc:
        plot(ax_acc, "acc", "accuracy")
    elif ax_acc is not None:
        ax_acc.text(0.5, 0.5, "no accuracy recorded", ha="center", va="center")
        ax_acc.set_axis_off()
    best = history.get("best_epoch") if isinstance(history, dict) else None
    best = getattr(history, "best_epoch", best)
    if best is not None:  # 0-based epoch index (History.best_epoch): mark it
        for a in (ax_loss, ax_acc if has_acc else None):
            if a is not None:
                a.axvline(best + 1, color="grey", linestyle=":", linewidth=1)
    for a in (ax_loss, ax_acc):
        if a is not None and a.get_lines():
            a.legend(loc="best", fontsize="small")
    return fig


# ------------------------------------------------------------------------- activation statistics


def activation_histograms(activations, ax=None, title="activations", bins=30, hist_range=None):
    """The CS231n activation-statistics figure: one histogram per layer, plus mean/std.

    ``activations`` is a list of arrays (named "layer 1", "layer 2", ...) or a
    dict name -> array; each array is flattened. The top panel plots the mean
    and std per layer; below, one histogram per layer (its title gives mean and
    std). All histograms share one value range (``hist_range=None``: the overall
    min and max) so layers can be compared. Use it for gradients too, with
    ``title="gradients"``.

    ``ax``: None (a new figure), or a sequence of ``L + 1`` axes: first the
    mean/std panel, then one per layer. Returns the **Figure**.
    """
    if isinstance(activations, dict):
        names, arrays = list(activations), list(activations.values())
    else:
        arrays = list(activations)
        names = [f"layer {i + 1}" for i in range(len(arrays))]
    if not arrays:
        raise ValueError("activation_histograms: no activations given")
    arrays = [np.asarray(to_numpy(a), dtype=np.float64).ravel() for a in arrays]
    n = len(arrays)

    if ax is None:
        fig = plt.figure(figsize=(max(6.0, 2.2 * n), 5.0), layout="constrained")
        grid = fig.add_gridspec(2, n)
        ax_stats = fig.add_subplot(grid[0, :])
        ax_hists = [fig.add_subplot(grid[1, i]) for i in range(n)]
    else:
        axes = list(ax)
        if len(axes) != n + 1:
            raise ValueError(
                f"activation_histograms: expected {n + 1} axes (stats + one per layer), "
                f"got {len(axes)}"
            )
        ax_stats, ax_hists = axes[0], axes[1:]
        fig = ax_stats.figure

    means = [a.mean() if a.size else np.nan for a in arrays]
    stds = [a.std() if a.size else np.nan for a in arrays]
    if hist_range is None:
        finite = np.concatenate([a[np.isfinite(a)] for a in arrays])
        hist_range = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        if hist_range[0] == hist_range[1]:
            hist_range = (hist_range[0] - 0.5, hist_range[1] + 0.5)

    positions = np.arange(1, n + 1)
    ax_stats.plot(positions, means, "o-", label="mean")
    ax_stats.plot(positions, stds, "s-", label="std")
    ax_stats.set_xticks(positions, names)
    ax_stats.set_title(f"{title}: mean and std per layer")
    ax_stats.legend(loc="best", fontsize="small")
    for a_hist, name, values, m, s in zip(ax_hists, names, arrays, means, stds):
        a_hist.hist(values[np.isfinite(values)], bins=bins, range=hist_range)
        a_hist.set_title(f"{name}\nmean {m:.3g}, std {s:.3g}", fontsize="small")
        a_hist.set_yticks([])
    return fig


# ----------------------------------------------------------------------------- weights as images


def weight_images(W, shape=(8, 8), ax=None, ncols=None, cmap="gray", normalize="tile"):
    """Show each row of a weight matrix W (out, in) as a ``shape`` image, in a grid.

    ``W`` is an array (out, in) with ``in == shape[0] * shape[1]``, or a layer
    whose ``params['W']`` is one (e.g. the first ``Linear`` of a digits
    model). The tiles are packed into one mosaic image with a 1-pixel gap,
    ``ncols`` per row (default: about square). ``normalize="tile"`` scales each
    tile to its own min..max (shows each unit's pattern), ``"global"`` uses one
    scale for all. Returns the **Axes** (its single image is the mosaic).
    """
    if hasattr(W, "params") and "W" in getattr(W, "params", {}):
        W = W.params["W"]
    W = np.asarray(to_numpy(W), dtype=np.float64)
    h, w = shape
    if W.ndim != 2 or W.shape[1] != h * w or W.shape[0] == 0:
        raise ValueError(
            f"weight_images: expected W of shape (out, {h * w}) for {h}x{w} tiles, got {W.shape}"
        )
    if normalize not in ("tile", "global"):
        raise ValueError(f"weight_images: normalize must be 'tile' or 'global', got {normalize!r}")
    n = W.shape[0]
    ncols = int(np.ceil(np.sqrt(n))) if ncols is None else int(ncols)
    nrows = int(np.ceil(n / ncols))

    if normalize == "tile":
        lo = W.min(axis=1, keepdims=True)
        span = W.max(axis=1, keepdims=True) - lo
    else:
        lo, span = W.min(), W.max() - W.min()
    tiles = (W - lo) / np.where(span > 0, span, 1.0)

    mosaic = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)  # NaN = gap
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        mosaic[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tile.reshape(h, w)

    ax = _new_axes(ax)
    colormap = plt.get_cmap(cmap).with_extremes(bad="white")
    ax.imshow(mosaic, cmap=colormap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{n} weight vectors as {h}x{w} images")
    return ax


# ----------------------------------------------------------------------------- activation function


def _values_and_slopes(f, df, x):
    """f(x) and f'(x) as float64 host vectors, for a function or an activation layer: a
    layer takes a column (N, 1) and, without ``df``, its own backward with dL/dout = 1 is
    f'(x); a function without ``df`` gets central differences."""

    def evaluate(fn):
        return np.asarray(to_numpy(fn(backend.asarray(x))), dtype=np.float64).reshape(-1)

    if callable(getattr(f, "forward", None)) and callable(getattr(f, "backward", None)):
        column = backend.asarray(x[:, None])
        fx = np.asarray(to_numpy(f.forward(column)), dtype=np.float64).reshape(-1)
        if df is None:
            ones = backend.xp.ones_like(column)
            return fx, np.asarray(to_numpy(f.backward(ones)), dtype=np.float64).reshape(-1)
        return fx, evaluate(df)
    if df is None:
        h = 1e-5
        return evaluate(f), (evaluate(lambda t: f(t + h)) - evaluate(lambda t: f(t - h))) / (2 * h)
    return evaluate(f), evaluate(df)


def activation_plot(
    f,
    df=None,
    x_range=(-5.0, 5.0),
    ax=None,
    shade_saturated=True,
    threshold=0.05,
    num=501,
    name=None,
):
    """Plot an activation function ``f`` and its derivative ``df`` on ``x_range``.

    ``f`` and ``df`` map a 1-D array to an array of the same size, or ``f`` is an
    nncourse activation layer (``Sigmoid()``, ``LeakyReLU(0.1)``...): it is fed a
    column of inputs, and with ``df=None`` its own ``backward`` gives f'. For a plain
    function, ``df=None`` uses central differences.
    With ``shade_saturated``, regions where ``|f'(x)| < threshold`` (saturated
    or dead: gradients vanish there) are shaded grey. Returns the **Axes**
    (lines: f, then f').
    """
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"activation_plot: x_range must be (low, high), low < high, got {x_range}")
    x = np.linspace(lo, hi, num)
    fx, dfx = _values_and_slopes(f, df, x)
    if fx.shape != x.shape or dfx.shape != x.shape:
        raise ValueError(
            f"activation_plot: f and df must return {x.shape[0]} values for {x.shape[0]} inputs, "
            f"got {fx.shape} and {dfx.shape}"
        )
    label = name or getattr(f, "__name__", type(f).__name__)
    label = "f" if label == "<lambda>" else label
    ax = _new_axes(ax)
    ax.plot(x, fx, label=f"{label}(x)")
    ax.plot(x, dfx, "--", label=f"{label}'(x)")
    if shade_saturated:
        saturated = np.abs(dfx) < threshold
        if saturated.any():
            ax.fill_between(
                x,
                0,
                1,
                where=saturated,
                transform=ax.get_xaxis_transform(),
                color="grey",
                alpha=0.2,
                label=f"|f'| < {threshold:g}",
            )
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("x")
    ax.legend(loc="best", fontsize="small")
    return ax


# ----------------------------------------------------------------------------- loss surface


def loss_surface(
    f, xlim, ylim, trajectories=None, ax=None, levels=30, resolution=200, filled=False
):
    """Contours of a 2-D loss with optimiser trajectories on top.

    ``f`` maps points (M, 2) to losses (M,), e.g.
    ``lambda p: p[:, 0] ** 2 + 10 * p[:, 1] ** 2``. ``trajectories`` is a dict
    name -> array (T, 2) of parameter values, one line (with markers) per
    entry, labelled in a legend. ``levels`` is a number of contour levels or
    their values. Returns the **Axes**.
    """
    x0, x1 = (float(v) for v in xlim)
    y0, y1 = (float(v) for v in ylim)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"loss_surface: need xlim and ylim as (low, high), got {xlim}, {ylim}")
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    z = np.asarray(to_numpy(f(np.c_[xx.ravel(), yy.ravel()])), dtype=np.float64)
    if z.size != xx.size:
        raise ValueError(
            f"loss_surface: f must return one loss per point ({xx.size},), got shape {z.shape}"
        )
    ax = _new_axes(ax)
    contour = ax.contourf if filled else ax.contour
    contour(xx, yy, z.reshape(xx.shape), levels=levels, cmap="viridis")
    for name, path in (trajectories or {}).items():
        path = np.asarray(to_numpy(np.asarray(path)), dtype=np.float64)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(
                f"loss_surface: trajectory {name!r} must have shape (T, 2), got {path.shape}"
            )
        ax.plot(path[:, 0], path[:, 1], "o-", ms=3, lw=1.5, label=str(name))
    if trajectories:
        ax.legend(loc="best", fontsize="small")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    return ax
