"""Issue 13: wrong calls end in our ValueError/TypeError *before* anything changes.

Each test makes one of the wrong calls students make, checks the error type and that
the message names the callee, and checks that the object is exactly as it was (and
still works). The property-based sweep over the whole API is test_bad_input_properties.py.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from support.optim_cases import OPTIM_CASES
from support.state import same

from nncourse import data, gradcheck, init, losses, optim, perceptron, regularization, train
from nncourse import graph as G
from nncourse import layers as L
from nncourse.data import PCAWhitening
from nncourse.gradcheck import check_layer
from nncourse.train import Trainer, TrainingDiverged
from nncourse.validation import NonFiniteError


def snapshot(*objs):
    """Every array reachable from params/buffers/optimiser state, deep-copied."""
    return copy.deepcopy(
        [
            (
                getattr(o, "state_dict", lambda: None)(),
                [s for s in getattr(o, "state", [])] if isinstance(o, optim.Optimizer) else None,
            )
            for o in objs
        ]
    )


def mlp(seed=0, bn=False):
    r = np.random.default_rng(seed)
    mid = [L.BatchNorm1d(8)] if bn else []
    return L.Sequential(L.Linear(2, 8, rng=r), *mid, L.ReLU(), L.Linear(8, 3, rng=r))


class Param:
    """A minimal parameter object (data, grad, name)."""

    def __init__(self, data, grad=None, name="p"):
        self.data, self.grad, self.name = data, grad, name


# -- optimisers: all gradients checked before any update ---------------------------------


BAD_GRADS = [
    (np.ones(5), ValueError, r"gradient of parameter 'b' has shape \(5,\), expected \(4,\)"),
    ("0.1", TypeError, r"gradient of parameter 'b' as an array.*got '0.1' \(str\)"),
    (np.ones(4, complex), TypeError, r"gradient of parameter 'b' with a real dtype.*complex"),
    ([1.0, 2.0, 3.0, 4.0], TypeError, r"gradient of parameter 'b' as an array.*got \[1.0"),
]


@pytest.mark.parametrize("bad, exc, pattern", BAD_GRADS)
@pytest.mark.parametrize("case", OPTIM_CASES, ids=lambda c: c.id)
def test_optimiser_step_checks_every_gradient_before_updating_any(case, bad, exc, pattern):
    a = Param(np.ones((2, 3)), np.full((2, 3), 0.5), name="W")
    b = Param(np.ones(4), np.ones(4), name="b")
    opt = case.make([a, b], **case.busy)  # every state buffer in use
    opt.step()  # a real step first: the state then has buffers and counters
    before = copy.deepcopy((a.data, b.data, opt.state))
    b.grad = bad
    with pytest.raises(exc, match=type(opt).__name__ + r"\.step: .*" + pattern):
        opt.step()
    assert same(before, (a.data, b.data, opt.state))  # 'W' (first) was not updated
    b.grad = np.ones(4)
    opt.step()  # still usable
    assert not np.array_equal(a.data, before[0])
    if "step" in opt.state[0]:  # SGD keeps no step counter
        assert opt.state[0]["step"] == opt.state[1]["step"] == 2


# -- Trainer.fit: everything checked before the first step ----------------------------------


def blobs(n=40, seed=0):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, 2)).astype(np.float32), r.integers(0, 3, n)


def make_trainer(model, **kw):
    kw.setdefault("epochs", 2)
    kw.setdefault("batch_size", 8)
    kw.setdefault("progress", False)
    kw.setdefault("rng", 0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    return Trainer(model, losses.SoftmaxCrossEntropyLoss(), opt, **kw)


def fit_fails(model, exc, pattern, *args, trainer_kw=None, **fit_kw):
    t = make_trainer(model, **(trainer_kw or {}))
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(exc, match=pattern):
        t.fit(*args, **fit_kw)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before), "weights changed"
    return t


def test_fit_label_out_of_range_in_the_last_batch_fails_before_training():
    X, y = blobs()
    y[-1] = 3  # only the last batch would see it
    fit_fails(mlp(), ValueError, r"Trainer.fit: .*labels in \[0, 2\].*0 to 3", X, y)


def test_fit_bad_validation_set_fails_before_training():
    X, y = blobs()
    Xv, yv = blobs(10, seed=1)
    yv[3] = -1
    fit_fails(mlp(), ValueError, r"Trainer.fit: .*val.*labels in \[0, 2\]", X, y, val=(Xv, yv))
    fit_fails(mlp(), ValueError, r"validation inputs of width 2", X, y, val=(Xv[:, :1], yv))
    fit_fails(mlp(), TypeError, r"val=\(X_val, y_val\)", X, y, val=Xv)


@pytest.mark.parametrize(
    "kw, exc, pattern",
    [
        (dict(scheduler="x"), TypeError, r"Trainer: expected scheduler .*step\(\).*got 'x'"),
        (dict(callbacks=[1]), TypeError, r"Trainer: expected callbacks .*callback 0 is 1"),
        (dict(callbacks=1), TypeError, r"Trainer: expected callbacks as a list"),
        (dict(regularizer=0.1), TypeError, r"Trainer: expected regularizer with penalty"),
        (dict(batch_size=True), TypeError, r"Trainer: .*batch_size.*got True \(bool\)"),
        (dict(shuffle="yes"), TypeError, r"Trainer: expected shuffle=True or False"),
        (dict(rng=-1), ValueError, r"Trainer: expected .*int seed >= 0.*-1"),
    ],
)
def test_trainer_rejects_bad_components(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make_trainer(mlp(), **kw)


def test_fit_rechecks_components_set_after_construction():
    X, y = blobs()
    model = mlp()
    t = make_trainer(model)
    t.scheduler = "x"
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(TypeError, match=r"Trainer.fit: expected scheduler"):
        t.fit(X, y)
    t.scheduler, t.callbacks = None, (1,)
    with pytest.raises(TypeError, match=r"Trainer.fit: expected callbacks"):
        t.fit(X, y)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_fit_batchnorm_last_batch_of_one_fails_before_training():
    X, y = blobs(41)  # 41 = 5 * 8 + 1
    t = fit_fails(
        mlp(bn=True), ValueError, r"Trainer.fit: .*N=41 and batch_size=8.*drop_last=True", X, y
    )
    t.drop_last = True
    assert t.fit(X, y).epochs == 2  # the advice works
    make_trainer(mlp(), epochs=1).fit(X, y)  # no BatchNorm: a batch of one is fine


def test_fit_nan_targets_name_the_targets_not_the_learning_rate():
    model = L.Sequential(L.Linear(2, 1, rng=0))
    X = np.ones((8, 2), np.float32)
    t = np.ones((8, 1), np.float32)
    t[5] = np.nan
    opt = optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, losses.MSELoss(), opt, epochs=1, progress=False)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(NonFiniteError, match=r"Trainer.fit: expected finite targets") as e:
        trainer.fit(X, t)
    assert not isinstance(e.value, TrainingDiverged) and "learning rate" not in str(e.value)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_evaluate_rejects_a_non_positive_batch_size():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"Trainer.evaluate: expected a positive int batch_size"):
        make_trainer(mlp()).evaluate(X, y, batch_size=-1)  # returned loss 0, accuracy 0


# -- losses --------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [losses.MSELoss(), losses.BCEWithLogitsLoss()], ids=repr)
def test_real_valued_losses_reject_nan_targets(loss):
    s = np.zeros((3, 1))
    with pytest.raises(NonFiniteError, match=rf"{type(loss).__name__}.*expected finite targets"):
        loss.forward(s, np.array([[0.0], [np.nan], [1.0]]))
    assert loss.cache is None  # nothing was computed


# -- state loading: the whole dict is checked, then assigned --------------------------------


def test_layer_load_state_dict_checks_everything_first_and_does_not_broadcast():
    bn = L.BatchNorm1d(3)
    good = bn.state_dict()
    new_gamma = np.full(3, 7.0, np.float32)  # a valid entry, checked before the bad one
    for bad, exc, pattern in [
        ({**good, "running_var": np.ones(4)}, ValueError, r"'running_var' of shape \(3,\)"),
        ({k: v for k, v in good.items() if k != "beta"}, ValueError, r"missing \['beta'\]"),
        ({**good, "gamma": 2.0}, TypeError, r"'gamma' as an array of shape \(3,\), got 2.0"),
        ({**good, "gamma": np.float64(2.0)}, ValueError, r"'gamma' of shape \(3,\), got shape"),
        ({**good, "extra": np.ones(3)}, ValueError, r"unexpected \['extra'\]"),
        ({**good, "beta": np.full(3, np.nan)}, NonFiniteError, r"expected finite saved values"),
        ([1, 2], TypeError, r"expected a dict"),
    ]:
        if isinstance(bad, dict) and hasattr(bad.get("gamma"), "shape") and bad["gamma"].ndim:
            bad["gamma"] = new_gamma
        with pytest.raises(exc, match=r"BatchNorm1d.load_state_dict: .*" + pattern):
            bn.load_state_dict(bad)
        assert same(bn.state_dict(), good)  # gamma (checked first) was not overwritten


def test_sequential_load_state_dict_is_all_or_nothing():
    model = mlp(bn=True)
    good = model.state_dict()
    bad = {k: v + 1 for k, v in good.items()}
    bad["3.W"] = np.ones((2, 2))  # the last layer's entry is wrong
    with pytest.raises(ValueError, match=r"Sequential.load_state_dict: expected '3.W' of shape"):
        model.load_state_dict(bad)
    assert same(model.state_dict(), good)
    with pytest.raises(ValueError, match=r"Sequential.load_state_dict: unexpected keys \['7.W'\]"):
        model.load_state_dict({**good, "7.W": np.ones(2)})
    model.load_state_dict({k: v + 1 for k, v in good.items()})
    assert np.array_equal(model.state_dict()["0.W"], good["0.W"] + 1)


def test_optimiser_and_schedule_load_state_dict_check_before_assigning():
    p = Param(np.ones(3), np.ones(3))
    opt = optim.Adam([p])
    opt.step()
    good = opt.state_dict()
    before = copy.deepcopy((opt.defaults, opt.state))
    bad = copy.deepcopy(good)
    bad["state"][0]["exp_avg"] = "zeros"
    with pytest.raises(TypeError, match=r"Adam.load_state_dict: expected state 'exp_avg'"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(good)
    bad["state"][0]["step"] = -1
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: .*step count"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(good)
    bad["state"] = {5: {}}
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: .*index in 0..0, got 5"):
        opt.load_state_dict(bad)
    assert same(before, (opt.defaults, opt.state))
    sched = optim.StepLR(optim.SGD([Param(np.ones(2))], lr=0.1), step_size=2)
    bad_states = [
        {"base_lr": "x", "last_epoch": 1},
        {"base_lr": 0.1},
        {"base_lr": 0.1, "last_epoch": -2},
    ]
    for bad_state in bad_states:
        with pytest.raises((TypeError, ValueError), match=r"StepLR.load_state_dict"):
            sched.load_state_dict(bad_state)
        assert sched.last_epoch == 0 and sched.base_lr == 0.1 and sched.optimizer.lr == 0.1


# -- construction ---------------------------------------------------------------------------


def test_sequential_rejects_a_class_instead_of_an_instance():
    with pytest.raises(TypeError, match=r"Sequential: layer 1 is the class ReLU.*ReLU\(\)"):
        L.Sequential(L.Linear(3, 4), L.ReLU, L.Linear(4, 2))


def test_pca_whitening_n_components_zero_is_rejected_and_leaves_it_unfitted():
    with pytest.raises(ValueError, match=r"PCAWhitening: expected a positive int n_components"):
        PCAWhitening(n_components=0)
    pca = PCAWhitening(n_components=5)
    X = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(ValueError, match=r"PCAWhitening.fit: expected n_components in 1..3"):
        pca.fit(X)
    assert pca.mean_ is None and pca.eigenvalues_ is None and pca.eigenvectors_ is None
    pca.n_components = 2
    assert pca.fit(X).transform(X).shape == (20, 2)


def test_check_layer_h_zero_and_max_entries_zero():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"check_layer: expected a finite step h > 0, got 0"):
        check_layer(L.Tanh(), x, h=0)
    with pytest.raises(ValueError, match=r"check_layer: expected a positive int max_entries"):
        check_layer(L.Tanh(), x, max_entries=0)


# -- the flow graph ---------------------------------------------------------------------------


def test_graph_softmax_ce_rejects_label_minus_one():
    s = G.Weight(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy: expected labels in \[0, 2\]"):
        G.forward(G.SoftmaxCrossEntropy(s, np.array([0, -1])))
    with pytest.raises(TypeError, match=r"SoftmaxCrossEntropy: expected integer class labels"):
        G.forward(G.SoftmaxCrossEntropy(s, np.array([0.0, 1.0])))


def test_graph_add_and_matmul_shape_mismatch_messages():
    a, b = G.Weight(np.ones((2, 3))), G.Weight(np.ones((4,)))
    pattern = r"Add\(\).fprop: expected operands that broadcast.*\(2, 3\) and \(4,\)"
    with pytest.raises(ValueError, match=pattern):
        G.forward(a + b)
    pattern = r"MatMul\(\).fprop: .*same K, got shapes \(2, 3\) and \(2, 3\)"
    with pytest.raises(ValueError, match=pattern):
        G.forward(a @ G.Weight(np.ones((2, 3))))


# -- more wrong calls found by trying the whole public API (beyond the examples) ----


def _fitted_perceptron():
    return perceptron.Perceptron().fit(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1, -1]))


MORE = [
    # layers and models
    (lambda: L.Linear(3, 2).train("yes"), TypeError, r"Linear.train: expected mode=True or False"),
    (lambda: L.Linear(3, 2).astype(int), TypeError, r"Linear.astype: expected a float dtype"),
    (lambda: L.Linear(3, 2).to(np.ones(2)), TypeError, r"Linear.to: expected 'numpy' or 'cupy'"),
    (lambda: list(L.Linear(3, 2).parameters(0)), TypeError, r"Linear.parameters: .*str prefix"),
    (lambda: L.Linear(3, 2).backward([[1.0, 2.0]]), ValueError, r"backward\(\) called before"),
    (
        lambda: L.Tanh().forward(np.ones((2, 2))) is None or L.Tanh().backward("x"),
        ValueError,
        r"Tanh\(\): backward\(\) called before",
    ),
    (
        lambda: L.Sequential(L.Linear(3, 4), L.Linear(5, 2))(np.ones((2, 3))),
        ValueError,
        r"Sequential: layer 1 rejected its input: Linear",
    ),
    (
        lambda: L.Sequential(L.Linear(3, 4), L.BatchNorm1d(4))(np.ones((1, 3))),
        ValueError,
        r"Sequential: layer 1 .*at least 2 examples",
    ),
    # init and data
    (
        lambda: init.constant((2, 2), value=1e300),
        ValueError,
        r"init.constant: the values overflow float32",
    ),
    # one resolver for init= (Linear, Maxout, init.get): a class or a list is the wrong kind
    (lambda: init.get(L.ReLU), TypeError, r"init.get: expected init one of \[.*the class ReLU"),
    (lambda: init.get([1]), TypeError, r"init.get: expected init one of \[.*got \[1\]"),
    (lambda: L.Linear(3, 2, init=L.ReLU), TypeError, r"Linear: expected init one of \["),
    (lambda: L.Maxout(3, 2, init=[1]), TypeError, r"Maxout: expected init one of \["),
    (
        lambda: data.Standardizer().fit(np.ones((3, 2), complex)),
        TypeError,
        r"Standardizer.fit: .*real numeric dtype, got dtype complex",
    ),
    (
        lambda: data.Standardizer().fit(np.ones((3, 2))).transform(np.full((2, 2), np.nan)),
        NonFiniteError,
        r"Standardizer.transform: expected finite X",
    ),
    (
        lambda: data.Standardizer().fit([[1.0, 2.0], [3.0]]),
        TypeError,
        r"Standardizer.fit: expected X as a numeric array",
    ),
    (
        lambda: data.one_hot(np.array([0, 1]), num_classes=2.5),
        TypeError,
        r"one_hot: .*num_classes",
    ),
    (
        lambda: data.one_hot(np.array([0, 1]), dtype="x"),
        TypeError,
        r"one_hot: expected y as an array of labels and a numeric dtype",
    ),
    (
        lambda: data.one_hot(np.array([0, 1]), dtype=object),
        TypeError,
        r"one_hot: expected a numeric dtype",
    ),
    (
        lambda: data.train_val_test_split(np.ones((9, 2)), np.arange(9), stratify="yes"),
        TypeError,
        r"train_val_test_split: expected stratify=True or False",
    ),
    (
        lambda: data.load_digits(return_images="yes"),
        TypeError,
        r"load_digits: expected return_images=True or False",
    ),
    (
        lambda: data.linearly_separable(10, return_params=1),
        TypeError,
        r"linearly_separable: expected return_params=True or False",
    ),
    (
        lambda: data.blobs(10, centers="x"),
        TypeError,
        r"blobs: expected centers as an int or an array",
    ),
    (
        lambda: data.blobs(10, cluster_std=1j),
        TypeError,
        r"blobs: expected cluster_std as a number",
    ),
    (
        lambda: data.regression_1d(10, x_range=3),
        TypeError,
        r"regression_1d: expected x_range as a pair",
    ),
    (
        lambda: data.regression_1d(10, kind=["sine"]),
        ValueError,
        r"regression_1d: kind must be one of",
    ),
    (
        lambda: data.moons(10, labels=np.array(["01"])),
        ValueError,
        r"moons: labels must be '01' or 'pm1'",
    ),
    (lambda: data.load_mnist(None), TypeError, r"load_mnist: expected path as a folder name"),
    (lambda: data.load_mnist(".", dtype="x"), TypeError, r"load_mnist: expected a numeric dtype"),
    # regularizers, losses, optimisers, trainer
    (
        lambda: regularization.L2(0.1).penalty(L.Linear),
        TypeError,
        r"L2.penalty: expected a model or layer with parameters\(\), got the class Linear",
    ),
    (
        lambda: regularization.L1(0.1).backward(None),
        TypeError,
        r"L1.backward: expected a model or layer",
    ),
    (
        lambda: losses.MSELoss().forward(np.zeros((2, 2)), [[1.0, 2.0], [3.0]]),
        TypeError,
        r"MSELoss\(\): expected y as an array",
    ),
    (
        lambda: losses.SoftmaxCrossEntropyLoss().accuracy(np.zeros(3), np.zeros(3, int)),
        ValueError,
        r"SoftmaxCrossEntropyLoss\(\): expected scores of shape \(N, C\)",
    ),
    (
        lambda: optim.SGD(L.Linear(3, 2).parameters(), lr=0.1).load_state_dict(np.ones(2)),
        TypeError,
        r"SGD.load_state_dict: expected a dict",
    ),
    (
        lambda: Trainer(L.Sequential, losses.MSELoss(), lambda ps: None),
        TypeError,
        r"Trainer: expected a model .*got the class Sequential",
    ),
    (
        lambda: Trainer(L.Linear(3, 2), losses.MSELoss, lambda ps: None),
        TypeError,
        r"Trainer: expected a loss object .*got the class MSELoss",
    ),
    # gradient checking
    (
        lambda: gradcheck.check_layer(L.Tanh, np.ones((2, 2))),
        TypeError,
        r"check_layer: expected a layer or model with forward\(\) and backward\(\), got the class",
    ),
    (
        lambda: gradcheck.check_layer(L.Tanh(), np.ones(3)),
        ValueError,
        r"check_layer: expected x \(a batch\) as a 2-D array",
    ),
    (
        lambda: gradcheck.check_layer(L.Tanh(), np.ones((2, 2)), dout="x"),
        TypeError,
        r"check_layer: expected dout as a real array",
    ),
    (
        lambda: gradcheck.check_model(
            L.Linear(2, 1), losses.MSELoss(), np.ones((2, 2)), np.ones((2, 1)), regularizers=0.1
        ),
        TypeError,
        r"check_model: expected regularizers as a list",
    ),
    (
        lambda: gradcheck.check_model(
            L.Linear(2, 1), losses.MSELoss(), np.ones((2, 2)), np.ones((3, 1))
        ),
        ValueError,
        r"check_model: expected 2 targets for 2 inputs, got 3",
    ),
    (
        lambda: gradcheck.rel_error(np.ones(2, complex), np.ones(2)),
        TypeError,
        r"rel_error: expected two real arrays",
    ),
    (
        lambda: gradcheck.numerical_gradient(None, np.ones(2)),
        TypeError,
        r"numerical_gradient: expected a function f\(x\)",
    ),
    # perceptron
    (
        lambda: perceptron.Perceptron().fit(np.ones((2, 2), complex), np.array([1, -1])),
        TypeError,
        r"Perceptron.fit: expected X of a real numeric dtype",
    ),
    (
        lambda: perceptron.Perceptron().fit(np.ones((2, 2)), [[1], [1, 2]]),
        TypeError,
        r"Perceptron.fit: expected labels y as a numeric array",
    ),
    (
        lambda: _fitted_perceptron().score(np.ones((2, 2)), np.array([1, 0])),
        ValueError,
        r"Perceptron.score: expected labels in \{-1, \+1\}",
    ),
    (
        lambda: perceptron.novikoff_bound(np.ones((2, 2)), np.array([1, -1]), w_star="w"),
        TypeError,
        r"novikoff_bound: expected w_star as a numeric array",
    ),
    # the flow graph
    (
        lambda: G.Input("x"),
        TypeError,
        r"Input: expected a number or a real array as value, got 'x' \(str\)",
    ),
    (lambda: G.Log("x"), TypeError, r"Log: expected nodes, numbers or real arrays as operands"),
    (lambda: G.Sum(G.Input(np.ones(2)), axis="0"), TypeError, r"Sum: expected an int axis"),
    (
        lambda: G.forward(G.Sum(G.Input(np.ones(2)), axis=3)),
        ValueError,
        r"Sum\(\).fprop: expected axis in \[-1, 0\]",
    ),
    (
        lambda: G.forward(G.Log(G.Input(np.array([1.0, -1.0])))),
        ValueError,
        r"Log\(\).fprop: expected positive values",
    ),
    (lambda: G.forward(None), TypeError, r"forward: expected a Node"),
    (lambda: G.backward(3.0), TypeError, r"backward: expected a Node"),
    (
        lambda: G.from_sequential(L.Sequential(L.Linear(3, 2)), [1, 2, 3], np.array([0])),
        TypeError,
        r"from_sequential: expected x as an array",
    ),
    (
        lambda: G.from_sequential("model", np.ones((1, 3)), np.array([0])),
        TypeError,
        r"from_sequential: expected a Sequential or a layer",
    ),
]


@pytest.mark.parametrize("call, exc, pattern", MORE, ids=[p for _, _, p in MORE])
def test_more_wrong_calls_get_our_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# -- the remaining holes of the fuzz run (issue 33): refused before anything changes -------


def test_early_stopping_on_accuracy_with_a_regression_loss_fails_before_training():
    model = L.Sequential(L.Linear(2, 1, rng=0))
    opt = optim.Adam(model.parameters())
    es = train.EarlyStopping(monitor="val_acc", patience=1)
    t = Trainer(model, losses.MSELoss(), opt, epochs=3, progress=False, early_stopping=es, rng=0)
    X, target = np.ones((8, 2), np.float32), np.zeros((8, 1), np.float32)
    before = snapshot(model, opt)
    with pytest.raises(ValueError, match=r"Trainer.fit: .*monitors 'val_acc' but the loss MSELoss"):
        t.fit(X, target, val=(X, target))
    assert same(before, snapshot(model, opt)) and opt.state == [{}, {}]
    assert t.history is None and es.best_epoch is None and es.wait == 0
    es = t.early_stopping = train.EarlyStopping(monitor="train_acc")
    with pytest.raises(ValueError, match=r"monitors 'train_acc' .*monitor 'train_loss'"):
        t.fit(X, target)
    assert same(before, snapshot(model, opt))
    t.early_stopping = train.EarlyStopping(monitor="val_loss", patience=1)
    assert t.fit(X, target, val=(X, target)).epochs >= 1  # the advice works


@pytest.mark.parametrize(
    "f, exc, pattern",
    [
        (lambda v: v * 2.0, ValueError, r"numerical_gradient: expected f\(x\) to return a scalar"),
        (lambda v: "loss", TypeError, r"numerical_gradient: .*a real number, got 'loss' \(str\)"),
        (lambda v: 1 + 2j, TypeError, r"numerical_gradient: .*a real number, got \(1\+2j\)"),
        (lambda v: None, TypeError, r"numerical_gradient: .*a real number, got None"),
        (lambda v: v.astype(complex).sum(), TypeError, r"numerical_gradient: .*a real number"),
    ],
)
def test_numerical_gradient_of_a_non_scalar_function(f, exc, pattern):
    x = np.array([1.0, -2.0, 3.0])
    with pytest.raises(exc, match=pattern):
        gradcheck.numerical_gradient(f, x)
    assert x.tolist() == [1.0, -2.0, 3.0]  # the perturbed entry was put back
    # a scalar of any real kind is fine: a float, a NumPy scalar, a 1-entry array
    for g in (lambda v: float(v.sum()), lambda v: v.sum(), lambda v: v.sum(keepdims=True)):
        np.testing.assert_allclose(gradcheck.numerical_gradient(g, x), 1.0, rtol=1e-8)


@pytest.mark.parametrize(
    "dtype, pattern",
    [("foo", r"got 'foo' \(str\)"), (None, r"got None"), (np.int64, r"got dtype int64")],
)
def test_check_layer_with_a_dtype_that_is_not_a_float(dtype, pattern):
    layer = L.Linear(3, 2, rng=0)
    before = snapshot(layer)
    with pytest.raises(TypeError, match=r"check_layer: expected a float dtype .*" + pattern):
        check_layer(layer, np.ones((2, 3)), dtype=dtype)
    assert same(before, snapshot(layer)) and layer.dtype == np.float32


@pytest.mark.parametrize(
    "kw, exc, pattern",
    [
        (dict(max_iter="10"), TypeError, r"positive int max_iter, got '10' \(str\)"),
        (dict(max_iter=0), ValueError, r"positive int max_iter, got 0"),
        (dict(max_iter=2.5), TypeError, r"positive int max_iter, got 2.5"),
        (dict(tol=-1e-3), ValueError, r"tol >= 0, got -0.001"),
        (dict(tol=float("nan")), ValueError, r"tol >= 0, got nan"),
        (dict(tol="small"), TypeError, r"real number tol .*got 'small'"),
    ],
)
def test_novikoff_bound_checks_max_iter_and_tol(kw, exc, pattern):
    X, y = np.array([[1.0, 0.5], [-1.0, -0.5]]), np.array([1, -1])
    with pytest.raises(exc, match=r"novikoff_bound: expected .*" + pattern):
        perceptron.novikoff_bound(X, y, **kw)
    with pytest.raises(exc, match=r"novikoff_bound: "):  # checked even when unused
        perceptron.novikoff_bound(X, y, w_star=(np.array([1.0, 0.0]), 0.0), **kw)
    assert X.tolist() == [[1.0, 0.5], [-1.0, -0.5]] and y.tolist() == [1, -1]
    assert perceptron.novikoff_bound(X, y, max_iter=5, tol=0.0) > 0


def test_read_idx_of_a_missing_file_or_a_folder(tmp_path):
    missing = tmp_path / "train-images-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError, match=r"read_idx: expected an IDX file .*does not exist"):
        data.read_idx(missing)
    with pytest.raises(FileNotFoundError, match=rf"read_idx: .*{tmp_path.name} is a folder"):
        data.read_idx(tmp_path)
    with pytest.raises(TypeError, match=r"read_idx: expected path as a file name.*got None"):
        data.read_idx(None)
    assert list(tmp_path.iterdir()) == []  # nothing was created


@pytest.mark.parametrize("cls", [case.cls for case in OPTIM_CASES])
def test_weight_decay_before_any_backward_is_refused(cls):
    model = mlp(bn=True)
    opt = cls(model.parameters(), lr=0.1, weight_decay=0.01)
    before = snapshot(model, opt)
    with pytest.raises(
        ValueError,
        match=rf"{cls.__name__}.step: expected gradients from a "
        r"backward pass, got all zeros .*weight_decay=0.01",
    ):
        opt.step()
    assert same(before, snapshot(model, opt)) and not any(opt.state)
    cls(model.parameters(), lr=0.1).step()  # no decay: a step on zero gradients changes nothing
    assert same(before[0], snapshot(model)[0])
    X, yb = blobs(8)
    scores = model.forward(X)
    loss = losses.SoftmaxCrossEntropyLoss()
    loss.forward(scores, yb)
    model.backward(loss.backward())
    opt.step()  # after a backward pass: the step (decay included) is taken
    assert not same(before[0], snapshot(model)[0])
    model.zero_grad()
    opt.step()  # zero gradients after the first step are the student's choice (pure decay)
