"""Tests for nncourse.train: one loop for every batch size, history, early stopping,
schedules, divergence, progress output, bad inputs, and the digits acceptance run."""

import math

import numpy as np
import pytest

from nncourse import layers as L
from nncourse import losses, optim
from nncourse.data import Standardizer, load_digits, moons, train_val_test_split
from nncourse.regularization import L2
from nncourse.train import EarlyStopping, History, Trainer, TrainingDiverged


def mlp(seed=0, d_in=2, hidden=16, d_out=2, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return L.Sequential(
        L.Linear(d_in, hidden, rng=rng, dtype=dtype),
        L.Tanh(),
        L.Linear(hidden, d_out, rng=rng, dtype=dtype),
    )


@pytest.fixture(scope="module")
def moon_data():
    X, y = moons(120, noise=0.1, rng=0)
    return X[:90], y[:90], X[90:], y[90:]


def trainer(model, lr=0.1, opt=optim.SGD, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("rng", 0)
    return Trainer(model, losses.SoftmaxCrossEntropyLoss(), opt(model.parameters(), lr=lr), **kw)


def hand_loop(model, X, y, batch_size, epochs, lr, seed):
    """The loop of the notes written out: what the Trainer must do step for step."""
    loss_fn = losses.SoftmaxCrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    n = len(X)
    step_losses = []
    for _ in range(epochs):
        order = rng.permutation(n) if batch_size < n else np.arange(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            step_losses.append(loss_fn.forward(model.forward(X[idx]), y[idx]))
            opt.zero_grad()
            model.backward(loss_fn.backward())
            opt.step()
    return step_losses


@pytest.mark.parametrize("batch_size", [None, 90, 16, 1])
def test_every_batch_size_is_the_loop_of_the_notes(moon_data, batch_size):
    X, y, _, _ = moon_data
    a, b = mlp(), mlp()
    h = trainer(a, batch_size=batch_size, epochs=3).fit(X, y)
    bs = len(X) if batch_size is None else batch_size
    expected = hand_loop(b, X, y, bs, 3, 0.1, 0)
    assert len(h.step_loss) == 3 * math.ceil(len(X) / bs)
    np.testing.assert_allclose(h.step_loss, expected, rtol=1e-12)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-14)
    # train_loss is the size-weighted mean of the epoch's step losses
    per_epoch = len(h.step_loss) // 3
    sizes = [min(bs, len(X) - k * bs) for k in range(per_epoch)]
    assert h.train_loss[0] == pytest.approx(np.dot(h.step_loss[:per_epoch], sizes) / len(X))


def test_same_seed_same_history_other_seed_other_history(moon_data):
    X, y, Xv, yv = moon_data
    h1 = trainer(mlp(), batch_size=8, epochs=4, rng=3).fit(X, y, val=(Xv, yv))
    h2 = trainer(mlp(), batch_size=8, epochs=4, rng=3).fit(X, y, val=(Xv, yv))
    h3 = trainer(mlp(), batch_size=8, epochs=4, rng=4).fit(X, y, val=(Xv, yv))
    assert h1.step_loss == h2.step_loss and h1.val_acc == h2.val_acc
    assert h1.step_loss != h3.step_loss


def test_history_records_every_epoch_and_learns(moon_data):
    X, y, Xv, yv = moon_data
    h = trainer(mlp(), lr=0.5, batch_size=16, epochs=30).fit(X, y, val=(Xv, yv))
    assert isinstance(h, History) and h.epochs == 30
    for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert len(getattr(h, k)) == 30
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.val_acc[-1] > 0.8 and 0 <= min(h.train_acc) <= max(h.train_acc) <= 1
    assert h.best_epoch == int(np.argmin(h.val_loss)) and not h.stopped_early


def test_train_acc_matches_the_batches_seen(moon_data):
    X, y, _, _ = moon_data
    seen = []

    class Spy(losses.SoftmaxCrossEntropyLoss):
        def forward(self, scores, y):
            seen.append((scores.argmax(axis=1) == y).sum())
            return super().forward(scores, y)

    model = mlp()
    t = Trainer(
        model,
        Spy(),
        optim.SGD(model.parameters(), lr=0.1),
        batch_size=7,
        epochs=1,
        rng=0,
        progress=False,
    )
    h = t.fit(X, y)
    assert h.train_acc[0] == pytest.approx(sum(seen) / len(X))


def test_evaluate_uses_eval_mode_and_restores_the_mode(moon_data):
    X, y, Xv, yv = moon_data
    rng = np.random.default_rng(0)
    model = L.Sequential(
        L.Linear(2, 32, rng=rng), L.ReLU(), L.Dropout(0.5, rng=rng), L.Linear(32, 2, rng=rng)
    )
    t = trainer(model, epochs=1)
    model.train()
    r1, r2 = t.evaluate(Xv, yv), t.evaluate(Xv, yv)
    assert r1 == r2  # dropout off: deterministic
    assert model.training and model.layers[2].training
    model.eval()
    t.evaluate(Xv, yv)
    assert not model.training
    scores = model.forward(Xv.astype(np.float32))
    ref = losses.SoftmaxCrossEntropyLoss()
    assert r1["loss"] == pytest.approx(float(ref.forward(scores, yv)), rel=1e-6)
    assert r1["acc"] == pytest.approx(ref.accuracy(scores, yv))


def test_early_stopping_stops_after_patience_and_restores_best(moon_data):
    X, y, Xv, yv = moon_data
    snapshots = []
    # lr far too large for Adam on this net: val loss soon stops improving
    model = mlp(hidden=64)
    es = EarlyStopping(patience=3, monitor="val_loss")
    cb = lambda tr, epoch, logs: snapshots.append(tr.model.state_dict())
    t = trainer(
        model, lr=0.3, opt=optim.Adam, batch_size=8, epochs=200, early_stopping=es, callbacks=[cb]
    )
    h = t.fit(X, y, val=(Xv, yv))
    assert h.stopped_early
    assert h.epochs == h.best_epoch + 3 + 1  # patience epochs without improvement
    assert h.best_epoch == int(np.argmin(h.val_loss))
    best = snapshots[h.best_epoch]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, best[k])
    assert not np.array_equal(snapshots[-1]["0.W"], best["0.W"])
    assert t.evaluate(Xv, yv)["loss"] == pytest.approx(h.val_loss[h.best_epoch])


def test_early_stopping_on_accuracy_and_without_restore(moon_data):
    X, y, Xv, yv = moon_data
    model = mlp()
    es = EarlyStopping(patience=2, monitor="val_acc", min_delta=0.5, restore_best=False)
    h = trainer(model, batch_size=8, epochs=50, early_stopping=es).fit(X, y, val=(Xv, yv))
    # no epoch can beat the first by more than 0.5: stop after epoch 0 + patience
    assert h.best_epoch == 0 and h.epochs == 3 and h.stopped_early


def test_early_stopping_needs_a_validation_set(moon_data):
    X, y, _, _ = moon_data
    with pytest.raises(ValueError, match="val_loss.*validation"):
        trainer(mlp(), early_stopping=EarlyStopping()).fit(X, y)
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping(monitor="accuracy")


def test_scheduler_changes_the_learning_rate(moon_data):
    X, y, _, _ = moon_data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.8)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    t = Trainer(
        model,
        losses.SoftmaxCrossEntropyLoss(),
        opt,
        batch_size=30,
        epochs=6,
        scheduler=sched,
        progress=False,
        rng=0,
    )
    h = t.fit(X, y)
    np.testing.assert_allclose(h.lr, [0.8, 0.8, 0.4, 0.4, 0.2, 0.2])
    assert opt.lr == pytest.approx(0.1)


def test_regularizer_adds_penalty_and_gradient(moon_data):
    X, y, _, _ = moon_data
    a, b = mlp(), mlp()
    reg = L2(0.01)
    h = trainer(a, batch_size=None, epochs=1, regularizer=reg).fit(X, y)
    loss_fn = losses.SoftmaxCrossEntropyLoss()
    expected = loss_fn.forward(b.forward(X), y) + reg.penalty(b)
    assert h.step_loss[0] == pytest.approx(expected, rel=1e-12)
    b.backward(loss_fn.backward())
    reg.backward(b)
    W0 = mlp().layers[0].params["W"]
    np.testing.assert_allclose(
        a.layers[0].params["W"], W0 - 0.1 * b.layers[0].grads["W"], rtol=1e-12
    )


def test_a_plain_update_rule_plugs_in(moon_data):
    X, y, _, _ = moon_data
    calls = []

    def my_sgd(params):
        calls.append(len(params))
        for p in params:
            p.data -= 0.1 * p.grad

    a, b = mlp(), mlp()
    t = Trainer(
        a, losses.SoftmaxCrossEntropyLoss(), my_sgd, batch_size=30, epochs=2, progress=False, rng=0
    )
    h = t.fit(X, y)
    assert calls == [4] * 6 and h.lr == []
    hand_loop(b, X, y, 30, 2, 0.1, 0)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12)


def test_callback_can_stop_training(moon_data):
    X, y, _, _ = moon_data
    seen = []

    def cb(tr, epoch, logs):
        seen.append((epoch, set(logs)))
        return epoch == 2

    h = trainer(mlp(), epochs=10, callbacks=[cb]).fit(X, y)
    assert h.epochs == 3 and h.stopped_early and [e for e, _ in seen] == [0, 1, 2]
    assert {"train_loss", "val_loss", "train_acc", "val_acc", "lr", "epoch"} <= seen[0][1]

    def cb2(tr, epoch, logs):
        tr.stop_training = epoch == 1

    assert trainer(mlp(), epochs=10, callbacks=[cb2]).fit(X, y).epochs == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("batch_size", [None, 10])
def test_divergence_with_a_huge_learning_rate(moon_data, batch_size):
    X, y, _, _ = moon_data
    rng = np.random.default_rng(0)
    model = L.Sequential(
        L.Linear(2, 50, rng=rng),
        L.ReLU(),
        L.Linear(50, 50, rng=rng),
        L.ReLU(),
        L.Linear(50, 2, rng=rng),
    )
    t = trainer(model, lr=1e6, batch_size=batch_size, epochs=200)
    after = []
    step = t.optimizer.step

    def spy_step():
        step()
        after.append(model.state_dict())

    t.optimizer.step = spy_step
    with pytest.raises(TrainingDiverged, match=r"epoch \d+, step \d+.*smaller learning rate"):
        t.fit(X * 100, y)
    state = model.state_dict()
    assert all(np.isfinite(v).all() for v in state.values())
    if all(np.isfinite(v).all() for v in after[-1].values()):  # the last weights were finite
        for k in state:
            np.testing.assert_array_equal(state[k], after[-1][k])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_puts_back_the_weights_before_a_broken_update(moon_data):
    X, y, _, _ = moon_data
    model, count, before = mlp(), [0], []

    def breaking_rule(params):
        count[0] += 1
        before.append(model.state_dict())
        for p in params:
            p.data -= 0.1 * p.grad
        if count[0] == 5:  # the 5th update overflows the weights
            params[2].data[0, 0] = np.inf  # the output layer: the scores overflow

    t = Trainer(
        model,
        losses.SoftmaxCrossEntropyLoss(),
        breaking_rule,
        batch_size=10,
        epochs=3,
        progress=False,
        rng=0,
    )
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 6\b") as e:
        t.fit(X, y)
    assert isinstance(e.value, FloatingPointError)
    state = model.state_dict()
    for k in state:  # the weights before the 5th update: the last finite ones
        np.testing.assert_array_equal(state[k], before[4][k])


def test_progress_false_prints_nothing_and_true_shows_a_bar(moon_data, capsys):
    X, y, Xv, yv = moon_data
    trainer(mlp(), epochs=3, progress=False).fit(X, y, val=(Xv, yv))
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    trainer(mlp(), epochs=3, progress=True).fit(X, y, val=(Xv, yv))
    out = capsys.readouterr()
    assert "3/3" in out.err + out.out and "val_acc" in out.err + out.out


def test_history_plot_renders(moon_data, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    X, y, Xv, yv = moon_data
    h = trainer(mlp(), epochs=3).fit(X, y, val=(Xv, yv))
    fig = h.plot()
    fig.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    ax_loss = fig.axes[0]
    assert len(ax_loss.get_lines()) >= 2  # train and val loss
    assert h.best_epoch is not None
    marks = [ln for ln in ax_loss.get_lines() if list(ln.get_xdata()) == [h.best_epoch + 1] * 2]
    assert marks, "the best epoch is not marked"


@pytest.mark.parametrize(
    "X, y, val, match",
    [
        (
            np.zeros((5, 2)),
            np.zeros(4, int),
            None,
            r"Trainer.fit: expected targets of shape \(5,\)",
        ),
        (np.zeros((0, 2)), np.zeros(0, int), None, r"Trainer.fit: expected at least one example"),
        (np.zeros(5), np.zeros(5, int), None, r"Trainer.fit: expected X of shape \(N, D\)"),
        (np.zeros((5, 2, 1)), np.zeros(5, int), None, r"got an array of shape \(5, 2, 1\)"),
        (
            np.zeros((5, 2)),
            np.zeros(5, int),
            (np.zeros((3, 3)), np.zeros(3, int)),
            r"validation inputs of width 2.*\(3, 3\)",
        ),
        (
            np.zeros((5, 2)),
            np.zeros(5, int),
            (np.zeros((3, 2)), np.zeros(2, int)),
            r"targets of shape \(3,\)",
        ),
        (np.full((5, 2), np.nan), np.zeros(5, int), None, r"finite"),
    ],
)
def test_bad_inputs_get_clear_errors(X, y, val, match):
    with pytest.raises(ValueError, match=match):
        trainer(mlp(), epochs=1).fit(X, y, val=val)


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        trainer(mlp(), batch_size=0)
    with pytest.raises(ValueError, match="epochs"):
        trainer(mlp(), epochs=-1)
    with pytest.raises(TypeError, match="optimizer"):
        Trainer(mlp(), losses.MSELoss(), optimizer="adam")
    with pytest.raises(TypeError, match="val=\\(X_val, y_val\\)"):
        trainer(mlp(), epochs=1).fit(np.zeros((4, 2)), np.zeros(4, int), val=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="Trainer.evaluate"):
        trainer(mlp()).evaluate(np.zeros((3, 2)), np.zeros(2, int))


def test_regression_without_accuracy():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (64, 1))
    Y = np.sin(3 * X)
    model = mlp(d_in=1, d_out=1)
    t = Trainer(
        model,
        losses.MSELoss(),
        optim.Adam(model.parameters(), lr=0.02),
        batch_size=16,
        epochs=40,
        progress=False,
        rng=0,
    )
    h = t.fit(X, Y, val=(X, Y))
    assert h.train_acc == [] and h.val_acc == [] and len(h.val_loss) == 40
    assert h.val_loss[-1] < 0.5 * h.val_loss[0]
    assert t.evaluate(X, Y)["acc"] is None


def test_digits_mlp_with_adam_reaches_96_percent():
    """Acceptance: 64-64-10 MLP on the bundled digits, Adam; >= 96 % test accuracy.

    (bench/digits_training.py reports the time; about 0.3 s here.)"""
    X, y = load_digits()
    (Xtr, ytr), (Xv, yv), (Xte, yte) = train_val_test_split(
        X, y, val=0.15, test=0.2, rng=0, stratify=True
    )
    st = Standardizer().fit(Xtr)
    Xtr, Xv, Xte = st.transform(Xtr), st.transform(Xv), st.transform(Xte)
    rng = np.random.default_rng(0)
    model = L.Sequential(
        L.Linear(64, 64, init="he_uniform", rng=rng), L.ReLU(), L.Linear(64, 10, rng=rng)
    )
    t = Trainer(
        model,
        losses.SoftmaxCrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=3e-3),
        batch_size=32,
        epochs=40,
        rng=0,
        regularizer=L2(1e-3),
        progress=False,
    )
    h = t.fit(Xtr, ytr, val=(Xv, yv))
    assert h.val_acc[-1] >= 0.95
    assert t.evaluate(Xte, yte)["acc"] >= 0.96


# -- divergence by type, one strategy, the input_grad protocol (issue 14) -------------------


def test_divergence_is_detected_by_error_type_not_by_message_words(moon_data):
    from nncourse.validation import NonFiniteError

    X, y, _, _ = moon_data

    class Overflowing(losses.SoftmaxCrossEntropyLoss):
        calls = 0

        def forward(self, scores, y):
            Overflowing.calls += 1
            if Overflowing.calls == 3:
                raise NonFiniteError("scores went wild")  # no word 'finite' needed
            return super().forward(scores, y)

    model = mlp()
    t = Trainer(
        model,
        Overflowing(),
        optim.SGD(model.parameters(), lr=0.1),
        batch_size=30,
        epochs=2,
        progress=False,
        rng=0,
    )
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 3"):
        t.fit(X, y)

    class Picky(losses.SoftmaxCrossEntropyLoss):
        def forward(self, scores, y):  # a plain ValueError that mentions 'finite'
            raise ValueError("Picky: this loss is not finite-dimensional")

    model = mlp()
    t = Trainer(model, Picky(), optim.SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="finite-dimensional") as e:
        t.fit(X, y)
    assert not isinstance(e.value, TrainingDiverged)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_guard_on_a_device_puts_back_the_start_of_the_epoch(moon_data):
    """The GPU path of the divergence strategy, run on the host: losses are read once
    per epoch and the snapshot is the weights of the start of the epoch."""
    from nncourse.train import _DivergenceGuard

    model = mlp()
    t = trainer(model, epochs=3)
    params = list(model.parameters())
    guard = _DivergenceGuard(t, params, per_step=False)
    guard.check(0, 0, float("nan"))  # nothing is read per step on a device
    assert guard.end_epoch(0, [np.float64(1.0), np.float64(0.5)]) == [1.0, 0.5]
    start = model.state_dict()
    params[0].data[...] = np.inf  # the epoch's updates broke the weights
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 2 .*before epoch 2 were put back"):
        guard.end_epoch(1, [np.float64(0.4), np.float64(np.nan)])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, start[k])


def test_backward_without_input_grad_is_part_of_the_layer_protocol():
    x, dout = np.ones((4, 3)), np.ones((4, 2))
    for layer in (L.Linear(3, 2), L.Maxout(3, 2), L.Sequential(L.Linear(3, 2))):
        assert getattr(layer.backward, "can_skip_input_grad", False)
        layer.forward(x)
        assert layer.backward(dout, input_grad=False) is None
        assert all(np.any(p.grad != 0) for p in layer.parameters())

    class MyLinear(L.Linear):  # a student's override without input_grad
        def backward(self, dout):
            return super().backward(dout)

    model = L.Sequential(MyLinear(3, 2), L.Tanh())
    model.forward(x)
    assert model.backward(dout, input_grad=False).shape == (4, 3)  # works, dx computed
    X, y = moons(40, rng=1)
    net = L.Sequential(MyLinear(2, 4), L.Tanh(), L.Linear(4, 2))
    assert trainer(net, epochs=2).fit(X, y).epochs == 2
