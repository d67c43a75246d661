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


def argmax(seq):
    return int(np.nanargmax(np.asarray(seq, dtype=float)))


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


# ------------------------------------------------------------------------------- decks


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
