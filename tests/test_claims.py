"""What the prose of a notebook or deck says an experiment shows is what the experiment shows.

Every claim below ties a sentence of a markdown cell (``text``: a phrase that must occur in
exactly one markdown cell of the notebook, the cell the claim protects) to the code cell that
runs the experiment (``code``: a phrase that must occur in exactly one code cell). The
notebook's own code cells run top to bottom in a fresh process, as shipped (same data, seeds
and defaults), and right after the experiment's cell the claim's check reads the variables it
left behind. A change of data, seed, defaults or a dependency that flips the outcome fails
here instead of silently contradicting the text; so does an edit of the sentence (update the
claim with it).

    python tests/test_claims.py NOTEBOOK RESULT.json    # what the tests run in a subprocess

Model answers that quote numbers are claims like any other (their ``text`` is a phrase of
the answer cell).

Adding one: write ``@claim(NOTEBOOK, code=..., text=...)`` over a function ``check(ns)`` that
asserts, on the notebook's variables ``ns``, what the sentence says (with the tolerance the
sentence implies: "about 0.05" is not "0.0534"). When an experiment keeps only its last run
in a variable, let the cell keep every run in a dict (``curves[name] = h``) rather than
repeating the experiment here. A claim that needs a run the notebook does not make (a variant
a model answer reports) builds it from the notebook's own functions. Each notebook runs once
per test session, in a fresh process, however many claims it has.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Claim:
    name: str
    notebook: str  # path relative to the repository root
    code: str  # phrase of the one code cell that runs the experiment
    text: str  # phrase of the one markdown cell whose statement is protected
    check: Callable[[dict], None]


CLAIMS: dict[str, Claim] = {}


def claim(notebook: str, code: str, text: str):
    """Register the decorated ``check(ns)`` for the sentence ``text`` of ``notebook``."""

    def register(fn):
        kind = "deck" if notebook.startswith("slides/") else "nb"
        name = f"{kind}{Path(notebook).stem[:2]}:{fn.__name__}"
        if name in CLAIMS:
            raise ValueError(f"claim {name} registered twice")
        CLAIMS[name] = Claim(name, notebook, code, text, fn)
        return fn

    return register


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s)


def locate(cells, claim_: Claim) -> tuple[int, int]:
    """(index of the experiment's code cell, index of the protected markdown cell)."""
    found = {}
    for kind, phrase in (("code", claim_.code), ("markdown", claim_.text)):
        hits = [
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == kind and _squash(phrase) in _squash(c["source"])
        ]
        if len(hits) != 1:
            raise LookupError(
                f"{claim_.name}: expected the phrase {phrase!r} in exactly one {kind} cell of "
                f"{claim_.notebook}, found it in {len(hits)} ({hits})"
            )
        found[kind] = hits[0]
    return found["code"], found["markdown"]


# ----------------------------------------------------------------- running a notebook


def _run_notebook(notebook: str) -> dict:
    """Child process: run the code cells, check every claim right after its cell."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    path = ROOT / notebook
    nb = nbformat.read(path, as_version=4)
    mine = [c for c in CLAIMS.values() if c.notebook == notebook]
    results, after = {}, {}
    for c in mine:
        try:
            code_i, _ = locate(nb.cells, c)
        except LookupError as err:
            results[c.name] = str(err)
            continue
        after.setdefault(code_i, []).append(c)
    os.chdir(path.parent)
    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None  # `%matplotlib inline` outside a kernel
    shell.run_cell("import matplotlib.pyplot as _plt; _plt.show = lambda *a, **k: None")
    last = max(after, default=-1)
    for i, cell in enumerate(nb.cells[: last + 1]):
        if cell.cell_type != "code":
            continue
        res = shell.run_cell(cell.source, store_history=False, silent=True)
        err = res.error_before_exec or res.error_in_exec
        if err is not None:
            msg = f"cell {i} of {notebook} raised {type(err).__name__}: {err}"
            for c in (c for k, cs in after.items() if k >= i for c in cs):
                results.setdefault(c.name, msg)
            break
        shell.run_cell("import matplotlib.pyplot as _plt; _plt.close('all')", silent=True)
        for c in after.get(i, []):
            try:
                c.check(shell.user_ns)
                results[c.name] = None
            except Exception as err:  # noqa: BLE001 - reported to the parent as text
                results[c.name] = f"{type(err).__name__}: {err}\n" + "".join(
                    traceback.format_tb(err.__traceback__)[-2:]
                )
    InteractiveShell.clear_instance()
    return results


@functools.cache
def results_of(notebook: str) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        env["MPLBACKEND"] = "Agg"
        proc = subprocess.run(
            [sys.executable, __file__, notebook, str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        if proc.returncode != 0 or not out.exists():
            raise AssertionError(
                f"running {notebook} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            )
        return json.loads(out.read_text())


# ------------------------------------------------------------------------- helpers


def near(value, target, rel=0.0, abs_=0.0, what="value"):
    value = float(value)
    ok = math.isclose(value, target, rel_tol=rel, abs_tol=abs_)
    assert ok, f"{what} is {value:.6g}, the text says about {target:g}"


def argmin(seq):
    return int(np.nanargmin(np.asarray(seq, dtype=float)))


NB = {
    n: f"notebooks/{n}/{n}.ipynb"
    for n in (
        "01_perceptron",
        "02_neurons",
        "03_mlp",
        "04_backprop",
        "05_optimization",
        "06_initialization",
        "07_regularization",
        "08_batchnorm",
        "09_capstone",
        "10_beyond",
    )
}


def DECK(stem):
    return f"slides/{stem}.ipynb"


# ============================================================================ claims
# Grouped by notebook, in cell order. The docstring of each check restates the claim.

# ----------------------------------------------------------------------- 01_perceptron
N01 = NB["01_perceptron"]


@claim(N01, "margins = [0.4, 0.2, 0.1, 0.05, 0.025]", "by a factor of\nroughly ten or more here")
def mistake_bound(ns):
    """q_bound: mistakes and bounds grow as the margin shrinks; the mistakes stay below the
    bound by a factor of about ten or more; the max-margin bound is the tighter one."""
    res, margins = ns["res"], ns["margins"]
    means = np.array([res[res[:, 0] == m].mean(axis=0) for m in margins])
    assert np.all(np.diff(means[:, 1]) > 0) and np.all(np.diff(means[:, 3]) > 0), means
    ratio = means[:, 3] / means[:, 1]
    assert ratio.min() > 8 and np.median(ratio) > 15, f"bound / mistakes: {ratio}"
    assert np.all(means[:, 3] <= means[:, 2] * (1 + 1e-6)), "max-margin bound looser on average"
    looser = res[res[:, 3] > res[:, 2]]
    assert len(looser) == 1 and looser[0, 0] == min(margins), f"looser max-margin bounds: {looser}"


@claim(N01, "path_p, path_a = [], []", "near, not at, the least-squares solution (here about 0.03")
def adaline_settles(ns):
    """The perceptron's boundary keeps jumping; the delta rule's end-of-epoch weights settle,
    about 0.03 away from the least-squares solution."""
    pp, pa = np.array(ns["path_p"]), np.array(ns["path_a"])
    last_moves_p = np.linalg.norm(np.diff(pp[20:], axis=0), axis=1)
    last_moves_a = np.linalg.norm(np.diff(pa[20:], axis=0), axis=1)
    assert last_moves_p.min() > 0.05, f"perceptron moves {last_moves_p}"
    assert last_moves_a.max() < 1e-3, f"delta rule moves {last_moves_a}"
    X, y = ns["X_ov"], ns["y_ov"]
    ls = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    gap = np.abs(pa[-1] - ls).max()
    assert 0.015 < gap < 0.05, f"end-of-epoch weights {gap:.3f} from least squares"


# -------------------------------------------------------------------------- 02_neurons
N02 = NB["02_neurons"]


@claim(N02, "def hidden_grad_norms(", "Dead\nunits get exactly zero")
def dead_and_leaky(ns):
    """Shifted biases kill units: their weights get exactly zero gradient with ReLU, a small
    non-zero one with leaky ReLU; q_saturation: sigma'(0)/sigma'(8) about 750."""
    relu, leaky = ns["relu"], ns["leaky_relu"]
    act = ns["Activation"]
    dead, norms = ns["hidden_grad_norms"](act(relu, ns["relu_grad"], "r"), 1.0)
    assert dead.sum() >= 3 and np.all(norms[dead] == 0.0), (dead.sum(), norms[dead])
    dead_l, norms_l = ns["hidden_grad_norms"](
        act(lambda a: leaky(a, 0.1), lambda a: ns["leaky_relu_grad"](a, 0.1), "l"), 1.0
    )
    assert np.array_equal(dead, dead_l) and np.all(norms_l[dead] > 0), norms_l[dead]
    ratio = ns["sigmoid_grad"](0.0) / ns["sigmoid_grad"](8.0)
    near(ratio, 750, abs_=10, what="sigma'(0) / sigma'(8)")


# ------------------------------------------------------------------------------- 03_mlp
N03 = NB["03_mlp"]


@claim(N03, "results = {h: [xor_net_trained(", "the 2-8-1 network succeeds much more reliably")
def xor_training(ns):
    """Gradient descent does not solve XOR with 2 hidden units from every start; with 8 it
    does from (nearly) all."""
    solved = {h: sum(acc > 0.95 for _, acc in runs) for h, runs in ns["results"].items()}
    assert solved[2] < 8 and solved[8] >= 9 and solved[8] - solved[2] >= 3, solved


@claim(N03, "final_mse = {}", "4 units end with a\nlarger error than 2")
def width_not_monotone(ns):
    """16 units fit both curves best, 1 unit worst; on the step, 4 units end worse than 2."""
    mse = ns["final_mse"]
    for kind in ("sine", "step"):
        by_width = {h: mse[kind, h] for h in (1, 2, 4, 16)}
        assert min(by_width, key=by_width.get) == 16, (kind, by_width)
        assert max(by_width, key=by_width.get) == 1, (kind, by_width)
    assert mse["step", 4] > mse["step", 2], (mse["step", 4], mse["step", 2])


@claim(N03, "deep = [count_regions(", "$2^{k}$ linear pieces")
def depth_doubles(ns):
    """k layers of 2 units: 2^k regions; one layer of 2k units: 2k + 1."""
    k = np.asarray(ns["depths"])
    assert list(ns["deep"]) == list(2**k) and list(ns["shallow"]) == list(2 * k + 1)


@claim(N03, "def stack_grad_norms(residual)", "from about\n0.05 at the last block to about 10")
def residual_gradients(ns):
    """q_residual and the text above the plot: the plain stack's gradient shrinks by a roughly
    constant factor per block; the residual one grows from about 0.05 to about 10."""
    plain, res = np.array(ns["stack_grad_norms"](False)), np.array(ns["stack_grad_norms"](True))
    steps = plain[:-1] / plain[1:]
    blocks = np.arange(len(plain))
    slope, icept = np.polyfit(blocks, np.log(plain), 1)
    r2 = 1 - np.var(np.log(plain) - (slope * blocks + icept)) / np.var(np.log(plain))
    assert np.all(steps < 1) and r2 > 0.98, f"not geometric: factors {steps}, R^2 {r2:.3f}"
    near(res[-1], 0.05, abs_=0.01, what="residual gradient at the last block")
    assert 8 < res[0] < 13, f"residual gradient at the first block {res[0]:.2f}"


# ------------------------------------------------------------------------ 04_backprop
N04 = NB["04_backprop"]


@claim(
    N04, "sig_net, ce = to_sequential(", "makes the sigmoid network's lower layers learn far more"
)
def sigmoid_vanishing(ns):
    """The sigmoid net's first-layer gradient is orders of magnitude below its last layer's;
    the ReLU net's is not."""
    relu = [np.abs(g).mean() for g in ns["dW_relu"]]
    sig = [np.abs(lin.grads["W"]).mean() for lin in ns["sig_net"].layers[::2]]
    assert sig[0] / sig[-1] < 1e-3 and relu[0] / relu[-1] > 0.05, (sig, relu)


@claim(N04, "one_sided = [abs(", "$\\sim 10^{-12}$ near $h = 10^{-5}$")
def centred_difference(ns):
    """Centred: best error about 1e-12 near h = 1e-5; rounding takes over for smaller h; the
    one-sided difference never gets as close."""
    hs, centred, one = np.asarray(ns["hs"]), np.asarray(ns["centred"]), np.asarray(ns["one_sided"])
    best = int(np.argmin(centred))
    assert 1e-6 <= hs[best] <= 3e-5 and 1e-14 < centred[best] < 1e-11, (hs[best], centred[best])
    assert centred[0] > 1e3 * centred[best], "no rounding error at the smallest h"
    assert one.min() > 100 * centred.min()


@claim(N04, 'print("final validation accuracy:"', "Aim for at least 95 %")
def digits_accuracy(ns):
    """The reference network of your own layers reaches 95% validation accuracy."""
    assert ns["digits_history"].val_acc[-1] >= 0.95


# ----------------------------------------------------------------------- 05_optimization
N05 = NB["05_optimization"]


@claim(N05, "g_seq = np.random.default_rng(3)", "carry $1 - 0.9^{10} \\approx 65\\%$ of the weight")
def momentum_running_average(ns):
    """torch's velocity is the notes' running average divided by 1 - mu; the last 10 of the
    weights (1 - mu) mu^(t - s) sum to 1 - 0.9^10 = 0.65."""
    assert np.abs(ns["b_seq"] - ns["m_seq"] / (1 - ns["mu"])).max() < 1e-12
    assert np.isclose(ns["weights"] @ ns["g_seq"], ns["m_seq"][-1])
    near(ns["weights"][-10:].sum(), 0.65, abs_=0.005, what="weight of the last 10 gradients")


@claim(N05, 'f"too large ({1.05 * limit:.3f})"', "slightly above the limit")
def learning_rates(ns):
    """Too small: slow; good: converges; 1.05 x 2/lambda_max: the steep coordinate
    oscillates with growing amplitude."""
    grad, f = ns["grad_q"], ns["f_q"]
    paths = {lr: ns["gradient_descent"](grad, [-2.0, 1.0], lr, 25) for lr in ns["runs"].values()}
    small, good, large = (paths[lr] for lr in ns["runs"].values())
    assert f(good[-1:])[0] < 1e-3 * f(small[-1:])[0] and f(small[-1:])[0] > 1.0
    steep = large[:, 1]
    assert np.all(np.sign(steep[1:]) != np.sign(steep[:-1])) and abs(steep[-1]) > abs(steep[0])


@claim(N05, "kappas = [1, 3, 10, 30, 100, 300]", "about $\\kappa/2 \\cdot \\ln(1/\\text{tol})$")
def newton_versus_gd(ns):
    """Newton: one step at every condition number; gradient descent with the best constant
    rate: about kappa/2 ln(1/tol) steps; the digits net has 4810 parameters."""
    assert ns["newton_steps"] == [1] * len(ns["kappas"])
    for kappa, steps in zip(ns["kappas"], ns["gd_steps"]):
        if kappa >= 10:
            near(steps, kappa / 2 * math.log(1e6), rel=0.15, what=f"GD steps at kappa {kappa}")


@claim(N05, "def make_net(seed=0):", "$P = 4\\,810$ parameters")
def newton_cost(ns):
    """The digits net has 4810 parameters: 23 million Hessian entries, 185 MB, 4e10 flops."""
    p = sum(prm.data.size for prm in ns["make_net"]().parameters())
    assert p == 4810 and abs(p**2 * 8 / 1e6 - 185) < 1 and abs(p**3 / 3 / 4e10 - 1) < 0.1


@claim(N05, "f_plateau = lambda W", "stays flat (above 0.9) for about 50 steps")
def plateau(ns):
    """The loss stays above 0.9 for about 50 steps, then drops to 0 within a handful."""
    loss = ns["f_plateau"](ns["path"])
    flat, done = int(np.argmax(loss < 0.9)), int(np.argmax(loss < 1e-3))
    assert 40 <= flat <= 65 and done - flat <= 8 and loss[-1] < 1e-3, (flat, done)


@claim(N05, "hist, seconds = {}, {}", "the per-example run makes by far the most progress")
def batch_sizes(ns):
    """q_batch_size: per epoch the per-example run makes the most progress, full batch the
    least; per epoch of wall-clock time the per-example run is the slowest."""
    acc = {k: h.val_acc[-1] for k, h in ns["hist"].items()}
    assert acc["per example"] > acc["mini-batch 32"] > acc["full batch"], acc
    sec = ns["seconds"]
    assert sec["per example"] > 3 * max(sec["full batch"], sec["mini-batch 32"]), sec
    # noisiest per update: the step-to-step change of the batch loss
    noise = {k: float(np.std(np.diff(h.step_loss))) for k, h in ns["hist"].items()}
    assert noise["per example"] > noise["mini-batch 32"] > noise["full batch"], noise


@claim(N05, "factor = (1 - 0.9**t_steps)", "about 6.6 near $t = 12$")
def adam_bias_correction(ns):
    """q_adaptive: without the correction the step is 3.2 times larger at t = 1, 6.6 near
    t = 12, 1.26 at t = 1000, above 1 throughout."""
    f, t = ns["factor"], ns["t_steps"]
    near(f[0], 3.16, abs_=0.01, what="factor at t = 1")
    near(f.max(), 6.57, abs_=0.01, what="largest factor")
    assert t[f.argmax()] == 12 and abs(f[999] - 1.26) < 0.005 and f.min() >= 1


@claim(N05, "mean_sq = {}", "at about $\\alpha\\sigma^2/(2-\\alpha) \\approx 0.05$")
def robbins_monro(ns):
    """q_robbins_monro: constant step: E[w^2] ~ 0.05; inverse time: keeps decreasing; the
    1/t^2 schedule sums to about 0.55 and stalls near 5 e^-0.55."""
    names = list(ns["mean_sq"])
    const, inv, sq = (ns["mean_sq"][n] for n in names)
    assert 0.025 < const[500:].mean() < 0.08, const[500:].mean()
    assert inv[2000] < inv[1000] < inv[500] < inv[100] and inv[2000] < 0.005, inv[[100, 2000]]
    alphas = list(ns["schedules_rm"].values())[2]
    near(alphas.sum(), 0.55, abs_=0.01, what="sum of the 1/t^2 steps")
    near(np.sqrt(sq[-1]), 5 * math.exp(-0.55), rel=0.1, what="where the 1/t^2 schedule stalls")


# ------------------------------------------------------------------------- 09_capstone
N09 = NB["09_capstone"]


def _capstone_variant(ns, standardize=True, bn=True, p=0.2, depth=1, seed=0):
    """The reference design of build_and_train with one thing changed (q_report's table)."""
    nn = ns["nn"]
    rng = np.random.default_rng(seed)
    X_train, y_train = ns["X_train"], ns["y_train"]
    layers = [ns["Standardize"].fit(X_train)] if standardize else []
    n_in = X_train.shape[1]
    for _ in range(depth):
        layers.append(nn.Linear(n_in, 256, init="he_normal", rng=rng, dtype=np.float64))
        layers += [nn.BatchNorm1d(256, dtype=np.float64)] if bn else []
        layers.append(nn.ReLU())
        layers += [nn.Dropout(p, rng=rng)] if p else []
        n_in = 256
    layers.append(nn.Linear(n_in, 10, init="xavier_uniform", rng=rng, dtype=np.float64))
    model = nn.Sequential(*layers)
    ns["Trainer"](
        model,
        ns["losses"].SoftmaxCrossEntropyLoss(),
        ns["optim"].Adam(model.parameters(), lr=1e-3),
        batch_size=64,
        epochs=40,
        rng=rng,
        regularizer=ns["L2"](1e-4),
        early_stopping=ns["EarlyStopping"](patience=8, monitor="val_loss"),
        progress=False,
        drop_last=True,
    ).fit(X_train, y_train, val=(ns["X_val"], ns["y_val"]))
    return float(np.mean(ns["predict"](model, ns["X_val"]) == ns["y_val"]))


@claim(N09, "capstone_model = globals().get(", "Early\nstopping never triggered")
def capstone_report(ns):
    """q_report (Diagnosis) and q_errors: the reference design ends with training and
    validation losses about 0.07, early stopping never triggers (best epoch = last), and the
    5 validation errors are 2->8, 3->5, 4->7, 5->9, 8->7."""
    model = ns["capstone_model"]
    h = model.history
    assert h.epochs == 40 and h.best_epoch == 39, (h.epochs, h.best_epoch)
    assert abs(h.train_loss[-1] - 0.07) < 0.015 and abs(h.val_loss[-1] - 0.07) < 0.015
    C = ns["C"]
    errors = sorted((int(i), int(j)) for i, j in np.argwhere(C - np.diag(np.diag(C)) > 0))
    assert errors == [(2, 8), (3, 5), (4, 7), (5, 9), (8, 7)], errors
    assert int(C.sum() - np.trace(C)) == 5
    near(np.trace(C) / C.sum(), 0.981, abs_=0.001, what="validation accuracy")


@claim(N09, "capstone_model = globals().get(", "without batch norm and dropout 0.981")
def capstone_variants(ns):
    """q_report (Evidence): the variants' validation accuracies and the spread over seeds."""
    got = {
        "design": _capstone_variant(ns),
        "no bn, no dropout": _capstone_variant(ns, bn=False, p=0),
        "dropout 0.5": _capstone_variant(ns, p=0.5),
        "raw pixels": _capstone_variant(ns, standardize=False),
        "two layers": _capstone_variant(ns, depth=2),
    }
    want = [0.981, 0.981, 0.981, 0.989, 0.989]
    for (name, acc), target in zip(got.items(), want):
        near(acc, target, abs_=0.0015, what=name)
    seeds = [_capstone_variant(ns, seed=s) for s in range(4)]
    near(min(seeds), 0.974, abs_=0.0015, what="worst seed")
    near(max(seeds), 0.989, abs_=0.0015, what="best seed")


# ------------------------------------------------------------------- 06_initialization
N06 = NB["06_initialization"]


@claim(N06, "symmetry = {}", "why does the constant one train a little")
def symmetry(ns):
    """q_symmetry: zeros stay at chance with one unit; the small constant keeps one unit and
    learns a little (about 30%); random weights give 32 distinct units."""
    sym = ns["symmetry"]
    assert sym["zeros"][0] == 1 and sym["zeros"][1] <= 0.12, sym["zeros"]
    units, acc = sym["constant 0.01"]
    assert units == 1, f"the constant net has {units} distinct units"
    assert 0.22 <= acc <= 0.38, f"constant net: validation accuracy {acc:.3f}, the answer says ~30%"
    assert sym["small random"][0] == 32 and sym["small random"][1] > 0.9, sym["small random"]
    x = ns["Xtr01"]
    near(0.1 * x.sum(axis=1).mean(), 2.0, abs_=0.2, what="pre-activation of constant 0.1")
    # "with 0.1 ... the network does not learn at all": the same run with the constant 0.1
    net = ns["tanh_net"](lambda shape, rng=None, dtype=np.float32: np.full(shape, 0.1, dtype))
    h = ns["Trainer"](
        net,
        ns["SoftmaxCrossEntropyLoss"](),
        ns["optim"].SGD(net.parameters(), lr=0.1, momentum=0.9),
        batch_size=64,
        epochs=5,
        rng=0,
        progress=False,
    ).fit(x, ns["ytr"], val=(ns["Xva01"], ns["yva"]))
    assert max(h.val_acc) <= 0.12 and min(h.train_loss) > math.log(10) - 0.05, h.val_acc


@claim(N06, "bias_runs = {}", "the same few percent of units per layer are inactive")
def small_positive_bias(ns):
    """With He weights, biases 0 and 0.01 leave the same units inactive at initialisation (a
    few percent per layer) and end at about the same training loss."""
    (dead0, h0), (dead1, h1) = ns["bias_runs"][0.0], ns["bias_runs"][0.01]
    assert np.array_equal(dead0, dead1) and 0 < dead0.max() < 0.15, (dead0, dead1)
    assert abs(h0.train_loss[-1] - h1.train_loss[-1]) < 0.03, (h0.train_loss[-1], h1.train_loss[-1])


@claim(N06, "X_deep = np.random.default_rng(1)", "$\\sqrt{500}\\cdot 0.01 \\approx 0.22$")
def tanh_histograms(ns):
    """std 0.01: the spread shrinks by about 0.22 per layer and collapses; std 1: saturated."""
    acts = ns["layer_activations"](ns["deep_net"](ns["gaussian"](0.01)), ns["X_deep"])
    spread = [float(a.std()) for a in acts]
    ratios = np.array(spread[1:5]) / np.array(spread[:4])
    assert np.all(np.abs(ratios - 0.22) < 0.02), f"per-layer factors {ratios}"
    assert spread[-1] < 1e-5, f"last layer spread {spread[-1]:.2e}"
    acts = ns["layer_activations"](ns["deep_net"](ns["gaussian"](1.0)), ns["X_deep"])
    assert all(np.mean(np.abs(a) > 0.9) > 0.9 for a in acts), "std 1: tanh units not saturated"


@claim(N06, "curves = {}", "the spread of the activations shrinks by about $\\sqrt2$")
def he_versus_xavier(ns):
    """q_he: ReLU activations shrink by about sqrt 2 per layer with Xavier, stay with He; He
    trains fastest, ReLU/Xavier more slowly; N(0, 0.01^2) stays at ln 10."""
    relu = ns["ReLU"]
    for fn, lo, hi in ((ns["xavier_normal"], 0.6, 0.8), (ns["he_normal"], 0.9, 1.1)):
        acts = ns["layer_activations"](ns["deep_net"](fn, activation=relu), ns["X_deep"])
        rms = np.array([np.sqrt(np.mean(a.astype(np.float64) ** 2)) for a in acts])
        factor = (rms[-1] / rms[0]) ** (1 / (len(rms) - 1))
        assert lo < factor < hi, f"{fn.__name__}: per-layer factor {factor:.3f}"
    c = ns["curves"]
    he, xa = np.array(c["ReLU, He"].train_loss), np.array(c["ReLU, Xavier"].train_loss)
    assert np.all(he < xa), f"He {he} not below Xavier {xa} at every epoch"
    for name in ("tanh, N(0, 0.01^2)", "ReLU, N(0, 0.01^2)"):
        loss = c[name].train_loss
        assert abs(min(loss) - math.log(10)) < 0.01, f"{name}: loss {min(loss):.3f}"


@claim(N06, "grad_norms = {}", "$10^{-9}$ to $10^{-10}$ between the last and the first")
def vanishing_gradients(ns):
    """q_vanishing: sigmoid ratio 1e-9..1e-10; ReLU/Xavier flat but a few 1e-3 against about
    1.5 with He, and much smaller than with 8 layers; tanh/Xavier and ReLU/He flat."""
    g = ns["grad_norms"]
    sig = g["sigmoid, Xavier"]
    assert 1e-11 <= sig[0] / sig[-1] <= 1e-8, f"sigmoid first/last {sig[0] / sig[-1]:.1e}"
    per_layer = (sig[-1] / sig[0]) ** (1 / (len(sig) - 1))
    assert 3 < per_layer < 5.5, f"the gradient shrinks by {per_layer:.2f} per layer, not about 4"
    for name in ("tanh, Xavier", "ReLU, He", "ReLU, Xavier"):
        assert 0.3 < g[name][0] / g[name][-1] < 3, f"{name} profile not flat: {g[name]}"
    assert 1e-3 < g["ReLU, Xavier"].mean() < 1e-2, g["ReLU, Xavier"]
    assert 1.0 < g["ReLU, He"].mean() < 2.0, g["ReLU, He"]
    net8 = ns["digits_net"](ns["xavier_normal"], ns["ReLU"], depth=8)
    g8 = ns["layer_gradient_norms"](net8, ns["Xtr01"][:256], ns["ytr"][:256])
    assert g8.mean() > 5 * g["ReLU, Xavier"].mean(), (g8.mean(), g["ReLU, Xavier"].mean())


# ------------------------------------------------------------------ 07_regularization
N07 = NB["07_regularization"]

SPLIT_07 = 'print("train", X_train.shape, "validation", X_val.shape)'


@claim(N07, SPLIT_07, "measure generalisation on 359 validation digits")
def validation_set_size(ns):
    """The validation set the notebook names (the sentence and the section on dropout's cost
    quote the same count)."""
    assert len(ns["X_val"]) == len(ns["y_val"]) == 359, ns["X_val"].shape


@claim(N07, SPLIT_07, "but with 359 validation digits the differences")
def validation_set_size_in_the_comparison(ns):
    """The comparison of regularisers quotes the same validation set (one digit is 1/359)."""
    assert len(ns["X_val"]) == 359, ns["X_val"].shape


@claim(N07, "small, h_small = train_digits(", "training and validation\nlosses stay high together")
def underfit_and_overfit(ns):
    """2 units: both losses stay high; 128-128: training loss near 0 within a few epochs,
    validation loss far above it."""
    small, big = ns["h_small"], ns["h_big"]
    assert min(small.train_loss) > 1.0 and min(small.val_loss) > 1.0, (
        f"2-unit net reached train {min(small.train_loss):.3f}, val {min(small.val_loss):.3f}"
    )
    assert big.train_loss[5] < 0.1, f"128-128 train loss {big.train_loss[5]:.3f} at epoch 5"
    assert big.train_loss[-1] < 1e-2 and big.val_loss[-1] > 10 * big.train_loss[-1] + 0.1
    assert argmin(big.val_loss) < len(big.val_loss) // 2, "validation loss kept improving"


@claim(N07, "widths = [1, 2, 4, 8, 32, 128]", "the best validation error sits in between")
def capacity_sweep(ns):
    """The best validation error is at an intermediate width, not at either end."""
    val = ns["val_err"]
    best = argmin(val)
    assert 0 < best < len(val) - 1, f"best validation error at width {ns['widths'][best]}: {val}"
    assert ns["train_err"][-1] <= ns["train_err"][0], "training error does not fall with width"


@claim(N07, "est_S2.append(", "on log-log axes its slope is about $-0.75$")
def risk_decomposition(ns):
    """q_risk: approximation error 0.022, Bayes risk 0.30, left boundary -1.85, estimation
    slope about -0.75, two-sided 0.079 vs 0.068 (estimation) and 0.079 vs 0.090 (excess) at
    n = 10, and a gap that grows with n."""
    approx = ns["risk_S"] - ns["bayes_risk"]
    near(approx, 0.022, abs_=0.001, what="approximation error")
    near(ns["bayes_risk"], 0.30, abs_=0.01, what="Bayes risk")
    est, est2 = np.array(ns["est_S"]), np.array(ns["est_S2"])
    slope = np.polyfit(np.log(ns["sizes"]), np.log(est), 1)[0]
    near(slope, -0.75, abs_=0.05, what="log-log slope of the estimation error")
    assert np.all(np.diff(est) < 0), f"estimation error does not shrink with n: {est}"
    near(est2[0], 0.079, abs_=0.0006, what="two-sided estimation error at n = 10")
    near(est[0], 0.068, abs_=0.0006, what="threshold estimation error at n = 10")
    near(approx + est[0], 0.090, abs_=0.0006, what="threshold excess risk at n = 10")
    assert np.all(est2 > est), "the two-sided class is not worse in estimation at every n"
    gap = approx + est - est2
    assert np.all(gap > 0) and np.all(np.diff(gap) > 0), f"gap does not grow with n: {gap}"
    left = ns["grid"][np.argmax(ns["f_star"] == 0)]
    near(left, -1.85, abs_=0.006, what="left boundary of the Bayes classifier")


@claim(N07, "rng_r = np.random.default_rng(1)", "reaches the noise\nvariance $0.09$")
def bayes_regression(ns):
    """E[Y|X] reaches the noise variance 0.09; a shift of 0.1 costs 0.01 more; the best
    constant costs Var(sin X) = 1/2 - sin(6)/12 ~ 0.52 more."""
    r = ns["sq_risk"]
    near(r["E[Y | X = x] = sin x"], 0.09, abs_=0.002, what="risk of E[Y|X]")
    near(r["sin x + 0.1"] - r["E[Y | X = x] = sin x"], 0.01, abs_=0.001, what="cost of the shift")
    var_sin = 0.5 - math.sin(6.0) / 12
    near(
        r["the best constant"] - r["E[Y | X = x] = sin x"],
        var_sin,
        abs_=0.01,
        what="cost of a constant",
    )
    near(var_sin, 0.52, abs_=0.005, what="Var(sin X)")


@claim(N07, "members = []", "lower than that of **every** member")
def ensemble(ns):
    """The ensemble's validation cross-entropy is below every member's; its accuracy is at
    least the members' mean."""
    ce = ns["val_cross_entropy"](ns["ensemble"])
    assert ce < min(ns["member_ce"]), (ce, ns["member_ce"])
    assert ns["ensemble_acc"] >= np.mean(ns["member_acc"]), (ns["ensemble_acc"], ns["member_acc"])


@claim(N07, "lambdas = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]", "a penalty does **not** buy validation")
def l2_sweep(ns):
    """Weights shrink steadily with lambda; validation accuracy is highest at lambda = 0 and
    falls with lambda; at 0.1 the network predicts a single class (chance level)."""
    acc, norms = ns["acc_va"], ns["norms"]
    assert np.all(np.diff(norms) < 0), f"weight norms {norms} do not fall with lambda"
    assert np.all(np.diff(acc) <= 0), f"validation accuracies {acc} do not fall with lambda"
    assert acc[-1] <= 0.12, f"lambda 0.1 validation accuracy {acc[-1]:.3f}, not chance level"


@claim(N07, "m_l1, _ = train_digits(", "L1 makes weights sparse.")
def l1_sparser(ns):
    """L1 leaves more first-layer weights near 0 than L2."""
    frac = [float(np.mean(np.abs(m[0].params["W"]) < 1e-2)) for m in (ns["m_l2"], ns["m_l1"])]
    assert frac[1] > frac[0] + 0.1, f"|w| < 0.01: L2 {frac[0]:.2f}, L1 {frac[1]:.2f}"


@claim(N07, "es = EarlyStopping(patience=5", "finds the same epochs")
def early_stopping_replay(ns):
    """The replay finds the Trainer's best epoch and its last (stopping) epoch."""
    h = ns["h_es"]
    best, stop = ns["early_stopping_epochs"](h.val_loss, 5)
    assert (best, stop) == (h.best_epoch, h.epochs - 1), (best, stop, h.best_epoch, h.epochs)
    assert h.epochs < 60, "early stopping never stopped"


@claim(
    N07,
    "drop_rng = np.random.default_rng(123)",
    "the gap between training and validation loss shrinks",
)
def dropout_gap(ns):
    """With dropout the training loss does not collapse and the train/validation gap shrinks."""
    big, do = ns["h_big"], ns["h_do"]
    assert do.train_loss[-1] > 20 * big.train_loss[-1], (do.train_loss[-1], big.train_loss[-1])
    gap = [h.val_loss[-1] - h.train_loss[-1] for h in (big, do)]
    assert gap[1] < gap[0], f"gap without {gap[0]:.3f}, with dropout {gap[1]:.3f}"


# ------------------------------------------------------------------------ 08_batchnorm
N08 = NB["08_batchnorm"]


@claim(N08, "t_simple = min(timeit.repeat(", "no factor of 2 either way")
def bn_backward_speed(ns):
    """q_speed: no consistent winner, the ratio within about a factor 2 either way (a timing:
    checked loosely, the machine may be loaded)."""
    ratio = ns["t_graph"] / ns["t_simple"]
    assert 0.4 < ratio < 2.5, f"graph / closed form = {ratio:.2f}"


@claim(N08, 'results[("lr", bn_on)]', "far less sensitive to the scale of the initial weights")
def bn_sweeps(ns):
    """Section 4 and q_why_bn: with BN every learning rate and weight scale trains; without,
    lr 0.5 and 1.0 get stuck near ln 10 (not diverged), std 0.01 stays at ln 10 and std 1.0
    diverges; with BN the three weight scales still end at different losses."""
    r, final = ns["results"], ns["final_loss"]
    lrs = ns["lrs"]
    with_bn = [final(h) for h in r[("lr", True)]]
    assert max(with_bn[1:]) < 0.5, f"BN losses over lrs {lrs}: {with_bn}"
    plain = r[("lr", False)]
    for lr, h in zip(lrs, plain):
        if lr >= 0.5:
            assert h is not None and np.isfinite(h.train_loss[-1]), f"lr {lr} diverged"
            assert abs(h.train_loss[-1] - math.log(10)) < 0.3, f"lr {lr}: {h.train_loss[-1]:.3f}"
    plain_scale = r[("scale", False)]
    assert abs(final(plain_scale[0]) - math.log(10)) < 0.01, "std 0.01 without BN learns"
    assert plain_scale[-1] is None, "std 1.0 without BN did not diverge"
    bn_scale = [final(h) for h in r[("scale", True)]]
    assert max(bn_scale) < 1.2, f"BN over weight scales: {bn_scale}"
    assert max(bn_scale) > 2 * min(bn_scale), f"BN made the scales equivalent: {bn_scale}"


@claim(N08, 'results[("lr", bn_on)]', "40-80% of the units of the")
def dead_relus(ns):
    """q_why_bn: at lr 0.5 and 1.0 the plain net ends with 40-80% dead units in its upper
    layers (dead on every training example)."""
    for lr in (0.5, 1.0):
        model = ns["deep_net"](False)
        with np.errstate(all="ignore"):
            ns["run"](model, lr)
        x, dead = ns["X_train"], []
        for layer in model.layers:
            x = layer.forward(x)
            if type(layer).__name__ == "ReLU":
                dead.append(float(np.mean(np.all(x == 0, axis=0))))
        upper = dead[len(dead) // 2 :]
        assert 0.4 <= min(upper) and max(upper) <= 0.85, f"lr {lr}: dead fractions {dead}"


@claim(N08, "acc_b1 = np.mean(", "(about 10% accuracy)")
def bn_pitfall(ns):
    """q_pitfall: eval mode keeps the trained accuracy, batches of 8 drop it, batches of 1
    predict one class (about 10%)."""
    assert ns["acc_eval"] > 0.9 and ns["acc_eval"] - ns["acc_b8"] > 0.05
    assert abs(ns["acc_b1"] - 0.1) < 0.03
    preds = ns["predict_with_batch_stats"](ns["model"], ns["X_val"], 1)
    assert len(np.unique(preds)) == 1


# --------------------------------------------------------------------------- 10_beyond
N10 = NB["10_beyond"]


@claim(N10, "tanh_norms = {}", "$0.5^{40} \\approx 10^{-12}$")
def bptt_norms(ns):
    """q_bptt: the linear net follows s^(T-t) (0.5^40 ~ 1e-12); tanh vanishes faster at every
    scale, needs s above 1 to keep the gradient, and still explodes at large s."""
    Q, g, T = ns["Q"], ns["g"], ns["T"]
    assert np.allclose(Q.T @ Q, np.eye(len(Q))), "Q is not orthogonal"
    for s in ns["scales"]:
        lin = ns["linear_bptt_norms"](s * Q, g, T)
        assert np.isclose(lin[0] / lin[T], s**T, rtol=1e-6)
        tanh = ns["tanh_norms"][s]
        assert tanh[0] / tanh[T] < lin[0] / lin[T], f"s = {s}: tanh does not vanish faster"
    ratio = {s: n[0] / n[T] for s, n in ns["tanh_norms"].items()}
    assert ratio[1.0] < 0.1 and ratio[0.9] < ratio[1.0], ratio
    assert 0.1 < ratio[1.1] < 10 and ratio[1.5] > 10 and ratio[3.0] > ratio[1.5], ratio
    assert np.linalg.det(Q) > 0, "the comment says det Q = +1 (a rotation) for this seed"


@claim(
    N10, "image = data.load_digits(return_images=True)", "3 of the 9\npooled values do not change"
)
def conv2d_and_pooling(ns):
    """The tied dense matrix equals the sliding kernel; 10 against 2 340 parameters; the
    shifted digit shifts the map exactly, no map value stays, 3 of 9 pooled values stay."""
    M, image, y, ys = ns["M_edge"], ns["image"], ns["y_conv"], ns["y_shift"]
    assert np.abs(M @ image.ravel() - y.ravel()).max() < 1e-12
    assert len(np.unique(M[M != 0])) <= 9 and M.size + M.shape[0] == 2340
    assert np.abs(ys[:, 1:] - y[:, :-1]).max() < 1e-12 and not np.any(ys == y)
    pool = ns["max_pool"]
    assert int(np.sum(pool(ys) == pool(y))) == 3


# ------------------------------------------------------------------------------- decks


@claim(
    DECK("01_perceptron"), "p = Perceptron(max_epochs=100).fit(X, y)", "The mistakes fall to zero"
)
def deck01_separable(ns):
    """The perceptron ends with an epoch without mistakes on the separable data."""
    p = ns["p"]
    assert p.converged and p.mistakes_per_epoch[-1] == 0 and p.mistakes_per_epoch[0] > 0


@claim(
    DECK("01_perceptron"), "bound = novikoff_bound(X, y)", "The bound holds, and is usually loose"
)
def deck01_bound(ns):
    """Updates made <= (R / gamma)^2, by a wide margin here."""
    assert ns["p"].n_updates <= ns["bound"] / 5, (ns["p"].n_updates, ns["bound"])


@claim(
    DECK("01_perceptron"),
    "px = Perceptron(max_epochs=20)",
    "the rule never stops, the weights cycle",
)
def deck01_xor(ns):
    """On XOR every epoch has mistakes and the accuracy stays near chance."""
    px = ns["px"]
    assert not px.converged and min(px.mistakes_per_epoch) > 0
    assert px.score(ns["Xx"], ns["yx"]) < 0.7


@claim(DECK("02_neurons"), 'print("p - onehot:"', "The two printed lines agree")
def deck02_softmax_gradient(ns):
    """The library's backward equals p - onehot(y)."""
    F, scores = ns["F"], ns["scores"]
    loss = ns["loss"]
    assert np.allclose(loss.backward(), F.softmax(scores) - np.eye(3)[[1]])


@claim(DECK("02_neurons"), "hinge = MulticlassHingeLoss()", "Zero once the true score wins by")
def deck02_hinge(ns):
    """The hinge loss is 0 for the class that wins by 1.5 > 1, positive for the other."""
    hinge, scores = ns["hinge"], ns["scores"]
    assert hinge.forward(scores, np.array([0])) == 0 < hinge.forward(scores, np.array([1]))


@claim(DECK("03_mlp"), "history = fit(net, Xx, yx)", "so that a line separates the classes")
def deck03_xor(ns):
    """The 2-8-2 tanh net fits XOR."""
    assert ns["history"].train_acc[-1] > 0.95


@claim(DECK("03_mlp"), "accs = {}", "More units, more linear pieces, more flexible boundaries")
def deck03_width(ns):
    """Training accuracy grows with the width 1, 3, 32."""
    acc = [ns["accs"][w] for w in (1, 3, 32)]
    assert acc[0] < acc[1] < acc[2], acc


@claim(
    DECK("04_backprop_flowgraph"), "dW, db, dX = A_bar.T @ X", "each gradient has the shape of its"
)
def deck04_shapes(ns):
    """dW, db, dX have the shapes of W, b, X."""
    assert ns["dW"].shape == ns["W"].value.shape and ns["db"].shape == ns["b"].value.shape
    assert ns["dX"].shape == ns["X"].shape


@claim(DECK("04_backprop_gradcheck"), "errors = {}", "The sweet spot is near\nh = 1e-5")
def deck04_step_size(ns):
    """float64: best relative error near h = 1e-5 (1e-7..1e-4), about 1e-12; float32 never
    gets below about 1e-6."""
    hs, err = ns["hs"], ns["errors"]
    best = hs[int(np.argmin(err["float64"]))]
    assert 1e-7 <= best <= 1e-4 and min(err["float64"]) < 1e-10, (best, min(err["float64"]))
    assert min(err["float32"]) > 1e-6, min(err["float32"])


@claim(DECK("04_backprop_gradcheck"), "class BrokenTanh(Tanh)", "everything below the broken tanh")
def deck04_broken_tanh(ns):
    """The rows below the broken tanh fail (input, first layer), the rows above pass."""
    rows = {r.name: r for r in ns["report"].rows}
    assert not ns["report"].passed
    assert all(not rows[n].passed for n in ("input", "0.W", "0.b")), rows
    assert all(rows[n].passed and rows[n].rel_error < 1e-8 for n in ("2.W", "2.b")), rows


@claim(
    DECK("05_optimization"),
    "for lr in (0.02, 0.1, 0.19)",
    "stable iff $\\eta < 2 / \\lambda_{\\max}(H)$",
)
def deck05_learning_rates(ns):
    """lr 0.19 < 0.2 still converges while oscillating; 0.02 is the slowest."""
    paths = ns["paths"]
    end = {k: float(np.linalg.norm(p[-1])) for k, p in paths.items()}
    steep = paths["lr=0.19"][:, 1]
    assert np.all(np.sign(steep[1:]) != np.sign(steep[:-1])) and abs(steep[-1]) < abs(steep[0])
    assert end["lr=0.02"] > end["lr=0.1"], end


@claim(DECK("05_optimization"), "race = {", "Momentum overshoots, then settles")
def deck05_race(ns):
    """Momentum crosses the minimum along the valley and ends near it; Adam's and RMSprop's
    first steps are equal in both coordinates."""
    paths = ns["paths"]
    mom = paths["momentum 0.9"]
    assert mom[:, 0].max() > 0.1 and np.linalg.norm(mom[-1]) < 0.5, mom[-1]
    for name in ("Adam", "RMSprop"):
        step = np.abs(paths[name][1] - paths[name][0])
        assert np.isclose(step[0], step[1], rtol=1e-3), (name, step)


@claim(
    DECK("07_regularization"),
    "h_plain = fit(plain)",
    "The validation loss turns up after a few dozen",
)
def deck07_overfit(ns):
    """The validation loss reaches its minimum after a few dozen epochs, then rises."""
    val = np.array(ns["h_plain"].val_loss)
    best = int(np.argmin(val))
    assert 20 <= best <= 60 and val[-1] > 1.3 * val[best], (best, val[best], val[-1])


@claim(
    DECK("07_regularization"),
    "for ax, lam in zip(axes, [0.0, 1e-3, 1e-2])",
    "Larger strength, smaller weights",
)
def deck07_l2(ns):
    """The weights shrink as the L2 strength grows (the deck's net, fitted again)."""
    norms = []
    for lam in (0.0, 1e-3, 1e-2):
        model = ns["net"]()
        ns["fit"](model, regularizer=ns["L2"](lam) if lam else None)
        norms.append(
            sum(float((p.data**2).sum()) for p in model.parameters() if p.name.endswith("W"))
        )
    assert norms[0] > norms[1] > norms[2], norms


@claim(DECK("07_regularization"), "h_drop = fit(dropped)", "no co-adaptation")
def deck07_dropout(ns):
    """Dropout ends with a lower validation loss than the plain net; early stopping stopped."""
    assert ns["h_drop"].val_loss[-1] < ns["h_plain"].val_loss[-1]
    assert ns["h_es"].epochs < 100


@claim(DECK("06_initialization"), 'layer_outputs("he_normal"', "10 layers of 500 tanh units")
def deck06_histograms(ns):
    """Small weights collapse the activations, std 1 saturates tanh, Xavier keeps tanh alive,
    He keeps ReLU's spread, Xavier with ReLU halves the variance per layer."""
    out = ns["layer_outputs"]
    params = inspect.signature(out).parameters
    assert params["width"].default == 500 and params["depth"].default == 10
    assert float(np.abs(out(ns["small"])[-1]).max()) < 1e-3
    assert all(np.mean(np.abs(h) > 0.9) > 0.9 for h in out(ns["big"]))
    rms = [float(np.sqrt(np.mean(h**2))) for h in out("xavier_uniform", act=ns["ReLU"])]
    per_layer = (rms[-1] / rms[0]) ** (2 / (len(rms) - 1))
    assert 0.4 < per_layer < 0.6, f"variance factor per layer {per_layer:.2f}, not about 1/2"
    rms = [float(np.sqrt(np.mean(h**2))) for h in out("he_normal", act=ns["ReLU"])]
    assert 0.5 < rms[-1] / rms[0] < 2, rms


@claim(DECK("08_batchnorm"), "lrs = [0.01, 0.1, 0.3, 1.0, 3.0]", "Without BN only the rates 0.1")
def deck08_lr_sweep(ns):
    """Without BN only 0.1 and 0.3 train well, 0.01 slow, 1.0 stuck, 3.0 diverges; with BN
    every rate ends below 0.3."""
    plain, bn = ns["final"]["no BN"], ns["final"]["BN"]
    assert max(plain[1:3]) < 0.2, plain
    assert plain[0] > 0.4 and plain[3] > 0.4 and np.isnan(plain[4]), plain
    assert np.all(np.isfinite(bn)) and max(bn) < 0.3, bn


@claim(DECK("10_beyond"), "def gradient_norms(", "at 1.5 it still explodes")
def deck10_bptt(ns):
    """tanh: faster vanishing below 1, no growth at 1.1, about 50x at 1.5 against about 1e5
    for the linear recurrence."""
    gn, tanh = ns["gradient_norms"], ns["tanh"]
    lin = {s: (lambda n: n[0] / n[-1])(gn(s, lambda a: a)) for s in (0.9, 1.5)}
    th = {s: (lambda n: n[0] / n[-1])(gn(s, tanh)) for s in (0.9, 1.1, 1.5)}
    assert th[0.9] < lin[0.9], (th, lin)
    assert th[1.1] < 1.0, th
    assert 20 < th[1.5] < 150 and 3e4 < lin[1.5] < 3e5, (th, lin)


# ------------------------------------------------------------------------------ tests

import pytest  # noqa: E402


def test_every_claim_locates_its_cells():
    import nbformat

    problems = []
    for c in CLAIMS.values():
        nb = nbformat.read(ROOT / c.notebook, as_version=4)
        try:
            locate(nb.cells, c)
        except LookupError as err:
            problems.append(str(err))
    assert not problems, "\n".join(problems)


def test_claims_cover_every_notebook_and_deck():
    covered = {c.notebook for c in CLAIMS.values()}
    wanted = set(NB.values()) | {
        str(p.relative_to(ROOT)) for p in sorted((ROOT / "slides").glob("*.ipynb"))
    }
    assert not wanted - covered, f"no claim protects {sorted(wanted - covered)}"


# The notes' notation (a = pre-activation, h = activation, W^(k) maps h^(k-1) to a^(k)):
# formulas of the older notation (z pre-activation, a activation, W^(k) from layer k to k+1).
OLD_NOTATION = [
    r"z\^\{\(k",
    r"a\^\{\(k\)\}\s*=\s*[fg]\(z",
    r"\\partial L\s*/\s*\\partial z\^",
    r"W\^\{\(k\)\}\s*a\^\{\(k\)\}",
]


def test_notation_is_the_notes_everywhere():
    """Every notebook and deck writes layers in the notes' notation, stated on the start page."""
    import nbformat

    start = "".join(nbformat.read(ROOT / "notebooks/index.ipynb", as_version=4).cells[0].source)
    for formula in (r"a^{(k)} = W^{(k)} h^{(k-1)} + b^{(k)}", r"h^{(k)} = g(a^{(k)})"):
        assert formula in start, f"the start page does not state {formula}"
    paths = [ROOT / p for p in NB.values()] + sorted((ROOT / "slides").glob("*.ipynb"))
    found = []
    for path in paths:
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "markdown":
                continue
            found += [
                f"{path.relative_to(ROOT)} cell {i}: {m.group(0)!r}"
                for pattern in OLD_NOTATION
                for m in re.finditer(pattern, cell.source)
            ]
    assert not found, "the older notation is back:\n" + "\n".join(found)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claim(name):
    c = CLAIMS[name]
    outcome = results_of(c.notebook).get(name, "the claim was never checked")
    if outcome is not None:
        import nbformat

        nb = nbformat.read(ROOT / c.notebook, as_version=4)
        try:
            code_i, text_i = locate(nb.cells, c)
            where = f"markdown cell {text_i} (experiment in code cell {code_i})"
        except LookupError:
            where = "?"
        pytest.fail(f"{c.notebook} {where}, {c.text!r}:\n{outcome}")


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(_run_notebook(sys.argv[1])))
