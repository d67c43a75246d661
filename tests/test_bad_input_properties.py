"""Property-based sweep (hypothesis) of wrong calls over the public API (issue 13).

Every public constructor gets every argument replaced by values drawn from a pool
of wrong things (None, bools, strings, NaN, inf, negative numbers, lists, classes,
dtypes, complex numbers...). A small *kind* per argument (a size, a probability, a
finite number >= 0, a flag...) says which values are valid. The properties:

- a valid value is accepted;
- an invalid one raises TypeError or ValueError (never another type, never silently
  accepted) whose message starts with the callee's name.

Methods (forward/backward, loss.forward, optimiser step, load_state_dict, fit,
evaluate, transform...) get wrong arrays and the same rule, and in addition the
object's state (parameters, gradients, buffers, optimiser state and counters, fitted
attributes, random generators) must be unchanged afterwards, and the object must
still work. Examples are few per test and the run stays within seconds.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.layer_cases import KINDS, LAYER_CASES
from support.loss_cases import LOSS_CASES, OTHER_LOSSES
from support.optim_cases import OPTIM_CASES
from support.state import same

from nncourse import data, gradcheck, init, losses, optim, perceptron, regularization
from nncourse import layers as L
from nncourse.train import EarlyStopping, Trainer

# a complex array silently cast to real is a silent acceptance: make it an error here
pytestmark = pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")

SWEEP = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

# -- the pool of wrong (and a few right) values ----------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 6),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([math.nan, math.inf, -math.inf, -1e-3, 0.0, 0.5, 1.0, 2.5, np.float32(0.3)]),
    st.sampled_from([np.int64(3), np.bool_(True), -1, 0, 1]),
    st.text(max_size=3),
    st.complex_numbers(max_magnitude=2, allow_nan=False),
    st.sampled_from([[1, 2], (2, 3), {}, {"a": 1}, object(), np.float32, int, L.ReLU, len]),
    st.just(np.ones(2)),
)


def _params():
    return list(L.Linear(3, 2, rng=0).parameters())


# name -> (callee in messages, factory(**kwargs), {argument: kind}); the layers come from
# the layer family's case table (support.layer_cases), the other families are listed here
CONSTRUCTORS = {
    case.id: (case.cls.__name__, case.construct, case.arguments)
    for case in LAYER_CASES
    if case.arguments
}
CONSTRUCTORS |= {
    case.id: (case.id, lambda case=case, **k: case.make(_params(), **k), case.arguments)
    for case in OPTIM_CASES
}
CONSTRUCTORS |= {
    case.id: (case.id, lambda case=case, **k: case.cls(**k), case.arguments)
    for case in LOSS_CASES
    if case.arguments
}
CONSTRUCTORS |= {
    cls.__name__: (cls.__name__, lambda cls=cls, **k: cls(**k), arguments)
    for cls, arguments in OTHER_LOSSES.items()
}
CONSTRUCTORS |= {
    "Adam.betas": (
        "Adam",
        lambda **k: optim.Adam(_params(), betas=(k.get("beta1", 0.9), k.get("beta2", 0.999))),
        {"beta1": "unit_open", "beta2": "unit_open"},
    ),
    "StepLR": (
        "StepLR",
        lambda **k: optim.StepLR(optim.SGD(_params(), lr=0.1), **{"step_size": 2, **k}),
        {"step_size": "size", "gamma": "pos"},
    ),
    "ExponentialLR": (
        "ExponentialLR",
        lambda **k: optim.ExponentialLR(optim.SGD(_params(), lr=0.1), **{"gamma": 0.5, **k}),
        {"gamma": "pos"},
    ),
    "InverseTimeLR": (
        "InverseTimeLR",
        lambda **k: optim.InverseTimeLR(optim.SGD(_params(), lr=0.1), **{"tau": 2, **k}),
        {"tau": "pos"},
    ),
    "L2": ("L2", lambda **k: regularization.L2(**{"strength": 0.1, **k}), {"strength": "nonneg"}),
    "L1": ("L1", lambda **k: regularization.L1(**{"strength": 0.1, **k}), {"strength": "nonneg"}),
    "EarlyStopping": (
        "EarlyStopping",
        lambda **k: EarlyStopping(**k),
        {"patience": "size", "min_delta": "nonneg", "restore_best": "flag"},
    ),
    "Trainer": (
        "Trainer",
        lambda **k: Trainer(L.Linear(3, 2), losses.MSELoss(), optim.SGD(_params(), lr=0.1), **k),
        {
            "batch_size": "size_or_none",
            "epochs": "count",
            "shuffle": "flag",
            "rng": "rng",
            "progress": "flag",
            "drop_last": "flag",
        },
    ),
    "Perceptron": (
        "Perceptron",
        lambda **k: perceptron.Perceptron(**k),
        {"max_epochs": "size", "lr": "pos"},
    ),
    "Adaline": (
        "Adaline",
        lambda **k: perceptron.Adaline(**k),
        {"lr": "pos", "epochs": "size", "shuffle": "flag", "rng": "rng"},
    ),
    "Standardizer": ("Standardizer", lambda **k: data.Standardizer(**k), {"eps": "nonneg"}),
    "PCAWhitening": (
        "PCAWhitening",
        lambda **k: data.PCAWhitening(**k),
        {"n_components": "size_or_none", "eps": "pos"},
    ),
    "ZCAWhitening": ("ZCAWhitening", lambda **k: data.ZCAWhitening(**k), {"eps": "pos"}),
    "init.xavier_uniform": (
        "init.xavier_uniform",
        lambda **k: init.xavier_uniform((3, 2), **k),
        {"gain": "f32_nonneg", "rng": "rng"},
    ),
    "init.normal": (
        "init.normal",
        lambda **k: init.normal((3, 2), **k),
        {"std": "f32_nonneg", "mean": "f32", "rng": "rng"},
    ),
    "init.uniform": (
        "init.uniform",
        lambda **k: init.uniform((3, 2), **{"low": -1e9, "high": 1e9, **k}),
        {"low": "below_1e9", "high": "above_-1e9", "rng": "rng"},
    ),
    "init.constant": ("init.constant", lambda **k: init.constant((3, 2), **k), {"value": "f32"}),
    "moons": (
        "moons",
        lambda **k: data.moons(**{"n_samples": 10, **k}),
        {"n_samples": "size", "noise": "nonneg", "rng": "rng"},
    ),
    "circles": (
        "circles",
        lambda **k: data.circles(**{"n_samples": 10, **k}),
        {"n_samples": "size", "noise": "nonneg", "factor": "open_unit"},
    ),
    "spirals": (
        "spirals",
        lambda **k: data.spirals(**{"n_samples": 10, **k}),
        {"n_samples": "size", "noise": "nonneg"},
    ),
    "xor": ("xor", lambda **k: data.xor(**{"n_samples": 8, **k}), {"n_samples": "size"}),
    "check_layer": (
        "check_layer",
        lambda **k: gradcheck.check_layer(L.Tanh(), np.ones((2, 2)), **k),
        {"h": "pos", "tol": "pos", "atol": "nonneg", "max_entries": "size", "rng": "rng"},
    ),
}
CASES = [(name, arg) for name, (_, _, args) in CONSTRUCTORS.items() for arg in args]


def outcome(call):
    """None when the call went through, else the raised exception."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001  (the property is about which exceptions)
        return exc
    return None


def assert_ours(exc, callee):
    assert isinstance(exc, (TypeError, ValueError)), f"{type(exc).__name__}: {exc}"
    assert str(exc).startswith(callee), f"message does not name {callee}: {exc}"


@pytest.mark.parametrize("name, arg", CASES, ids=[f"{n}-{a}" for n, a in CASES])
@settings(max_examples=12, deadline=None, derandomize=True)
@given(value=SCALARS)
def test_every_constructor_argument_is_checked(name, arg, value):
    callee, factory, args = CONSTRUCTORS[name]
    if name == "PCAWhitening" and arg == "n_components" and KINDS["size"](value):
        value = 1  # a valid count, whatever the data later (fit checks it against D)
    exc = outcome(lambda: factory(**{arg: value}))
    valid = KINDS[args[arg]](value)
    if valid is None:  # either outcome is right, but an error must still be ours
        if exc is not None:
            assert_ours(exc, callee)
    elif valid:
        assert exc is None, f"{callee}({arg}={value!r}) rejected a valid value: {exc}"
    else:
        assert exc is not None, f"{callee}({arg}={value!r}) was accepted silently"
        assert_ours(exc, callee)


# -- methods: wrong arrays, state unchanged and still usable -------------------------------

ARRAYS = st.one_of(
    st.sampled_from(
        [
            None,
            "x",
            3.0,
            [[1.0, 2.0, 3.0]],
            [[1.0, 2.0], [3.0]],  # ragged
            np.ones(3),
            np.ones((2, 4)),
            np.ones((2, 3, 1)),
            np.ones((0, 3)),
            np.ones((2, 3), dtype=complex),
            np.array([["a", "b", "c"], ["d", "e", "f"]]),
            np.full((2, 3), np.nan),
            np.array([[1.0, np.inf, 0.0], [0.0, 0.0, 0.0]]),
            np.ones((2, 3), dtype=object),
            np.ones((1, 3)),
            np.ones((2, 3)),
            np.ones((4, 3), dtype=np.int64),
            np.ones((3, 3), dtype=bool),
        ]
    ),
    st.integers(1, 4).map(lambda n: np.random.default_rng(n).standard_normal((n, 3))),
)


def valid_batch(x, width=3, min_rows=1):
    return (
        isinstance(x, np.ndarray)
        and x.ndim == 2
        and x.shape[1] == width
        and x.shape[0] >= min_rows
        and x.dtype.kind in "fiub"
        and bool(np.isfinite(x.astype(float)).all())
    )


def state_of(obj):
    """A deep copy of everything a wrong call must not change."""
    out = {}
    for m in L.modules(obj):
        d = {"params": m.params, "grads": m.grads, "training": m.training}
        for b in getattr(m, "_buffers", ()):
            d[b] = getattr(m, b)
        if isinstance(getattr(m, "rng", None), np.random.Generator):
            d["rng"] = m.rng.bit_generator.state
        out[id(m)] = d
    return copy.deepcopy(out)


LAYERS = {case.id: (lambda case=case: case.build(3)) for case in LAYER_CASES}  # width 3
WIDTH_BOUND = {case.id for case in LAYER_CASES if case.width_bound}
NEEDS_TWO = {case.id for case in LAYER_CASES if case.min_batch > 1}  # batch statistics
CALLEE = {case.id: case.cls.__name__ for case in LAYER_CASES}


def works(layer):
    out = layer.forward(np.random.default_rng(9).standard_normal((5, 3)))
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == (5, 3) and np.isfinite(dx).all()


@SWEEP
@given(name=st.sampled_from(sorted(LAYERS)), x=ARRAYS)
def test_layer_forward_rejects_bad_batches_without_changing_the_layer(name, x):
    layer = LAYERS[name]()
    before = state_of(layer)
    exc = outcome(lambda: layer.forward(x))
    width_ok = name not in WIDTH_BOUND or (getattr(x, "ndim", 0) == 2 and x.shape[1] == 3)
    if (
        valid_batch(
            x,
            getattr(x, "shape", (0, 3))[-1] if name not in WIDTH_BOUND else 3,
            2 if name in NEEDS_TWO else 1,
        )
        and width_ok
    ):
        assert exc is None, exc
    elif exc is not None or getattr(x, "shape", (1,))[0] != 0:
        assert exc is not None, f"{name}.forward accepted {x!r}"
        assert_ours(exc, CALLEE[name])
        assert same(before, state_of(layer))
    works(layer)


DOUTS = st.sampled_from(
    [
        None,
        "g",
        [[1.0, 1.0]],
        np.ones(2),
        np.ones((5, 1)),
        np.ones((4, 2)),
        np.ones((5, 2), complex),
    ]
)


@SWEEP
@given(name=st.sampled_from(sorted(LAYERS)), dout=DOUTS)
def test_layer_backward_rejects_bad_gradients_without_changing_grads(name, dout):
    layer = LAYERS[name]()
    out = layer.forward(np.random.default_rng(3).standard_normal((5, 3)))
    if isinstance(dout, np.ndarray) and dout.shape == (5, 2) and out.shape != (5, 2):
        dout = dout[:, :1]
    before = state_of(layer)
    exc = outcome(lambda: layer.backward(dout))
    assert exc is not None, f"{name}.backward accepted {dout!r} for output {out.shape}"
    assert_ours(exc, CALLEE[name])
    assert same(before, state_of(layer))
    works(layer)


# the loss family's cases, each with zero scores (N=4) and valid targets for them
LOSSES = {
    case.id: (
        case.cls,
        np.zeros((4, case.width(3))),
        case.targets(4, case.width(3), np.random.default_rng(0)),
    )
    for case in LOSS_CASES
}
TARGETS = st.sampled_from(
    [
        None,
        "y",
        np.ones(3),
        np.ones((4, 5)),
        np.full((4, 2), np.nan),
        np.array([0, 1, 2, 3]),
        np.array([0, 1, -1, 2]),
        np.array([0.0, 1.0, 2.0, 0.0]),
        np.array(["a", "b", "c", "d"]),
        np.ones((4, 1), dtype=complex),
        [[1.0, 2.0], [3.0]],
    ]
)


@SWEEP
@given(name=st.sampled_from(sorted(LOSSES)), y=TARGETS, bad_scores=st.booleans())
def test_losses_reject_bad_targets_and_scores_before_caching(name, y, bad_scores):
    cls, scores, good_y = LOSSES[name]
    loss = cls()
    loss.forward(scores, good_y)
    cache = copy.deepcopy(loss.cache)
    if bad_scores:
        y, scores = good_y, y
    exc = outcome(lambda: loss.forward(scores, y))
    if exc is None:  # only a valid pair may pass: it must compute a finite loss
        assert np.isfinite(loss.forward(scores, y))
        return
    assert_ours(exc, name)
    assert same(cache, loss.cache)
    loss.backward()  # the previous forward's cache still serves


GRADS = st.sampled_from(
    [
        np.ones(4),
        "g",
        [1.0, 2.0],
        np.ones((2, 3), complex),
        np.ones((3, 2)),
        1.0,
        np.ones((2, 3, 1)),
    ]
)
OPTS = {case.id: lambda ps, case=case: case.make(ps, **case.busy) for case in OPTIM_CASES}


@SWEEP
@given(name=st.sampled_from(sorted(OPTS)), grad=GRADS, which=st.integers(0, 1))
def test_optimisers_reject_any_bad_gradient_before_any_update(name, grad, which):
    model = L.Linear(3, 2, rng=0)
    opt = OPTS[name](list(model.parameters()))
    model.forward(np.ones((4, 3)))
    model.backward(np.ones((4, 2)))
    opt.step()
    before = copy.deepcopy((model.params, opt.state))
    key = ("W", "b")[which]
    good = model.grads[key]
    model.grads[key] = grad
    exc = outcome(opt.step)
    assert_ours(exc, f"{name}.step")
    assert same(before, (model.params, opt.state))
    model.grads[key] = good
    opt.step()
    assert not same(before[0], model.params)


def corrupt(state, how, key):
    state = dict(state)
    if how == "drop":
        del state[key]
    elif how == "scalar":
        state[key] = 1.0
    elif how == "shape":
        state[key] = np.ones(state[key].size + 1)
    elif how == "nan":
        state[key] = np.full_like(state[key], np.nan)
    elif how == "list":
        state[key] = state[key].tolist()
    elif how == "extra":
        state["zz." + key] = state[key]
    elif how == "string":
        state[key] = np.full(state[key].shape, "a")
    return state


@SWEEP
@given(
    name=st.sampled_from(["Linear", "BatchNorm1d", "PReLU", "Maxout", "Sequential"]),
    how=st.sampled_from(["drop", "scalar", "shape", "nan", "list", "extra", "string"]),
    pick=st.integers(0, 20),
)
def test_load_state_dict_is_all_or_nothing(name, how, pick):
    layer = LAYERS[name]()
    saved = {k: v + 1 for k, v in layer.state_dict().items()}  # valid, different values
    keys = sorted(saved)
    bad = corrupt(saved, how, keys[pick % len(keys)])
    before = state_of(layer)
    exc = outcome(lambda: layer.load_state_dict(bad))
    assert_ours(exc, f"{type(layer).__name__}.load_state_dict")
    assert same(before, state_of(layer))
    layer.load_state_dict(saved)
    assert same(saved, layer.state_dict())


def fit_setup():
    r = np.random.default_rng(0)
    model = L.Sequential(L.Linear(3, 4, rng=r), L.ReLU(), L.Linear(4, 3, rng=r))
    opt = optim.Adam(model.parameters())
    t = Trainer(
        model, losses.SoftmaxCrossEntropyLoss(), opt, batch_size=4, epochs=1, rng=0, progress=False
    )
    X = r.standard_normal((10, 3)).astype(np.float32)
    return model, opt, t, X, r.integers(0, 3, 10)


@SWEEP
@given(bad=ARRAYS, target=st.booleans(), on_val=st.booleans())
def test_fit_rejects_bad_data_before_the_first_step(bad, target, on_val):
    model, opt, t, X, y = fit_setup()
    before = copy.deepcopy((model.state_dict(), opt.state))
    if target:
        args = (X, y, (X[:3], bad)) if on_val else (X, bad, None)
    else:
        args = (X, y, (bad, y[:3])) if on_val else (bad, y, None)
    exc = outcome(lambda: t.fit(args[0], args[1], val=args[2]))
    if exc is None:  # a valid replacement (e.g. a (10, 3) float X) may train
        return
    assert_ours(exc, "Trainer.fit")
    assert same(before, (model.state_dict(), opt.state))
    assert t.fit(X, y).epochs == 1


@SWEEP
@given(bad=ARRAYS)
def test_fitted_preprocessors_and_perceptron_keep_their_state(bad):
    X = np.random.default_rng(1).standard_normal((8, 3))
    for obj in (data.Standardizer(), data.PCAWhitening(2), data.ZCAWhitening()):
        exc = outcome(lambda obj=obj: obj.fit(bad))
        if exc is None:
            continue
        assert_ours(exc, f"{type(obj).__name__}.fit")
        assert obj.mean_ is None, "half-fitted"
        obj.fit(X)
        fitted = copy.deepcopy(vars(obj))
        exc = outcome(lambda obj=obj: obj.transform(bad))
        if exc is not None:
            assert_ours(exc, f"{type(obj).__name__}.transform")
        assert same(fitted, vars(obj))
    p = perceptron.Perceptron(max_epochs=3)
    exc = outcome(lambda: p.fit(bad, np.ones(len(bad)) if hasattr(bad, "__len__") else 1))
    if exc is not None:
        assert_ours(exc, "Perceptron.fit")
        assert p.w is None


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "4", None])
def test_evaluate_checks_batch_size(batch_size):
    model, _, t, X, y = fit_setup()
    exc = outcome(lambda: t.evaluate(X, y, batch_size=batch_size))
    assert_ours(exc, "Trainer.evaluate")
