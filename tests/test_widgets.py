"""nncourse.widgets driven from code: set controls, click buttons, step, compare frames."""

import asyncio

import numpy as np
import pytest

from nncourse import layers as L
from nncourse import optim
from nncourse import widgets as wd
from nncourse.train import Trainer


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


# ----------------------------------------------------------------------------- playground


def test_playground_builds_the_network_without_training():
    pg = wd.playground(dataset="xor", hidden="8, 8", activation="tanh")
    shapes = [l.params["W"].shape for l in pg.model.layers if isinstance(l, L.Linear)]
    assert shapes == [(8, 2), (8, 8), (1, 8)]
    assert [type(l) for l in pg.model.layers[1::2]] == [L.Tanh, L.Tanh]
    assert isinstance(pg.trainer, Trainer)
    assert pg.trainer.model is pg.model
    assert pg.epoch == 0 and not pg.player.playing and pg.player.task is None
    assert pg.frame.startswith(b"\x89PNG") and pg.image.value == pg.frame
    assert len(pg.X_train) + len(pg.X_test) == 300


def test_playground_step_trains_and_changes_the_frame():
    pg = wd.playground(dataset="xor", seed=1)
    w0, frame0 = weights(pg.model), pg.frame
    pg.controls["lr"].value = 0.3
    pg.player.buttons["step"].click()
    assert pg.epoch == 1
    assert changed(w0, weights(pg.model))
    assert pg.frame != frame0
    assert len(pg.train_losses) == len(pg.test_losses) == 2
    pg.step(40)
    assert pg.train_losses[-1] < 0.5 * pg.train_losses[0]
    # the picture follows the model: the decision regions agree with the labels
    acc = ((pg.predict_proba(pg.X_test) > 0.5) == (pg.y_test.ravel() > 0.5)).mean()
    assert acc > 0.9


def test_playground_controls_rebuild_what_they_should():
    pg = wd.playground(seed=0)
    pg.step(2)
    # live hyper-parameters: no reset
    pg.controls["lr"].value = 0.1
    pg.controls["batch_size"].value = 25
    pg.controls["l2"].value = 1e-3
    assert pg.trainer.optimizer.lr == pytest.approx(0.1)
    assert pg.trainer.batch_size == 25 and pg.trainer.regularizer.strength == 1e-3
    assert pg.epoch == 2
    pg.controls["optimizer"].value = "Adam"
    assert isinstance(pg.trainer.optimizer, optim.Adam)
    assert pg.trainer.optimizer.lr == pytest.approx(0.1) and pg.epoch == 2
    w_before = weights(pg.model)
    pg.step()
    assert changed(w_before, weights(pg.model))  # the new optimiser is bound to the model
    # the structure: a new model
    pg.controls["hidden"].value = "4"
    shapes = [l.params["W"].shape for l in pg.model.layers if isinstance(l, L.Linear)]
    assert shapes == [(4, 2), (1, 4)] and pg.epoch == 0
    pg.controls["activation"].value = "relu"
    assert isinstance(pg.model.layers[1], L.ReLU)
    # the data
    X_before = pg.X_train.copy()
    pg.controls["dataset"].value = "circles"
    assert not np.array_equal(X_before, pg.X_train)
    pg.controls["train_ratio"].value = 0.8
    assert len(pg.X_train) == 240 and len(pg.X_test) == 60


def test_playground_bad_hidden_text_is_reported_not_raised():
    pg = wd.playground()
    model = pg.model
    pg.controls["hidden"].value = "8, x"
    assert "ValueError" in pg.status.value and "8, x" in pg.status.value
    assert pg.model is model


def test_playground_reset_button_and_every_dataset():
    for name in wd.DATASETS:
        pg = wd.playground(dataset=name, n_samples=80, resolution=20)
        frame = pg.frame
        pg.step(2)
        pg.render()
        assert pg.frame != frame, name
    pg.player.buttons["reset"].click()
    assert pg.epoch == 0 and len(pg.train_losses) == 1


def test_playground_play_and_pause_run_in_the_event_loop():
    async def scenario():
        pg = wd.playground(max_fps=100)
        frames0 = pg.frames_rendered
        pg.player.buttons["play"].click()
        assert pg.player.playing
        await asyncio.sleep(0.6)  # the loop yields: this coroutine gets to run
        pg.player.buttons["pause"].click()
        assert not pg.player.playing
        epochs = pg.epoch
        await asyncio.sleep(0.15)
        return pg, frames0, epochs

    pg, frames0, epochs = asyncio.run(scenario())
    assert epochs >= 3 and pg.frames_rendered - frames0 >= 3
    assert pg.epoch == epochs  # paused means paused


def test_play_without_event_loop_does_not_start_anything():
    pg = wd.playground()
    pg.player.buttons["play"].click()
    assert pg.player.task is None and "event loop" in pg.status.value


def test_control_changes_are_debounced_in_an_event_loop():
    async def scenario():
        pg = wd.playground()
        calls = []
        original = pg._new_data

        def counting():
            calls.append(1)
            original()

        deb = pg._debounced[0]
        deb.fn = pg._guarded(counting)
        for noise in (0.05, 0.1, 0.15, 0.3):
            pg.controls["noise"].value = noise
        assert calls == [] and deb.pending
        await asyncio.sleep(deb.wait + 0.2)
        return pg, calls

    pg, calls = asyncio.run(scenario())
    assert calls == [1]
    X, _ = wd.DATASETS["xor"](300, 0.3, np.random.default_rng(0))
    assert np.allclose(np.sort(np.r_[pg.X_train, pg.X_test], axis=0), np.sort(X, axis=0), atol=1e-6)


# ----------------------------------------------------------------------------- activations


def test_activation_explorer_shades_dead_and_saturated_regions():
    ex = wd.activation_explorer("relu", x_range=(-4.0, 4.0))
    v = ex.values
    assert np.all(v["dead"] == (v["x"] <= 0))
    assert not v["saturated"].any()
    frame = ex.frame
    ex.controls["function"].value = "leaky_relu"
    ex.controls["negative_slope"].value = 0.01
    v = ex.values
    assert not v["dead"].any() and np.all(v["saturated"] == (v["x"] <= 0))
    assert ex.frame != frame
    assert ex.controls["alpha"].disabled and not ex.controls["negative_slope"].disabled
    ex.controls["negative_slope"].value = 0.2
    assert not ex.values["saturated"].any()
    assert np.allclose(ex.values["g"][ex.values["x"] < 0], 0.2 * ex.values["x"][ex.values["x"] < 0])
    ex.controls["function"].value = "sigmoid"
    v = ex.values
    assert v["saturated"][0] and v["saturated"][-1] and not v["saturated"][len(v["x"]) // 2]
    ex.controls["function"].value = "elu"
    ex.controls["alpha"].value = 2.0
    assert ex.values["g"][0] == pytest.approx(2.0 * np.expm1(-4.0), rel=1e-6)


# ----------------------------------------------------------------------------- init


def test_init_explorer_reproduces_the_cs231n_experiment():
    ex = wd.init_explorer(depth=6, width=100, activation="tanh", init="small random (std 0.01)")
    assert len(ex.activations) == 6 and ex.activations[0].shape == (500, 100)
    assert ex.stds[-1] < 1e-6  # activations collapse to zero
    frame = ex.frame
    ex.controls["init"].value = "Xavier"
    assert ex.stds[-1] > 0.1
    assert ex.frame != frame
    ex.set(activation="relu", init="He")  # one update for both
    assert 0.3 < ex.stds[-1] < 3.0
    frames = ex.frames_rendered
    ex.controls["depth"].value = 3
    assert ex.frames_rendered == frames + 1
    assert len(ex.activations) == 3 and len(ex.figure.axes) == 4
    w = ex.model.layers[0].params["W"].copy()
    ex.controls["resample"].click()
    assert not np.array_equal(w, ex.model.layers[0].params["W"])


# ----------------------------------------------------------------------------- optimiser race


def test_optimizer_race_uses_the_library_optimisers():
    race = wd.optimizer_race("elongated quadratic")
    kinds = {n: type(r.optimizer) for n, r in race.racers.items()}
    assert kinds == {
        "SGD": optim.SGD,
        "Momentum": optim.SGD,
        "Nesterov": optim.SGD,
        "Adagrad": optim.Adagrad,
        "RMSprop": optim.RMSprop,
        "Adam": optim.Adam,
    }
    assert race.racers["Nesterov"].optimizer.defaults["nesterov"] is True
    frame = race.frame
    race.player.buttons["step"].click()
    assert race.steps == race.steps_per_frame and race.frame != frame
    race.step(300)
    f = wd.SURFACES["elongated quadratic"].f
    start = np.array(race._start())
    for name, path in race.paths.items():
        assert f(path[-1]) < 1e-2 * f(start), name
    # the SGD trajectory is plain gradient descent, step for step
    lr = race.racers["SGD"].optimizer.lr
    p = start.copy()
    for _ in range(3):
        p = p - lr * np.array([p[0], 20 * p[1]])
    assert np.allclose(race.paths["SGD"][3], p)


def test_optimizer_race_controls():
    race = wd.optimizer_race("rosenbrock")
    race.step(5)
    race.controls["lr_Adam"].value = 0.2
    assert race.racers["Adam"].optimizer.lr == pytest.approx(0.2) and race.steps == 5
    race.controls["start_x"].value = 0.5
    assert race.steps == 0 and np.allclose(race.paths["SGD"][0], [0.5, 2.5])
    race.controls["surface"].value = "saddle"
    assert race.controls["start_y"].value == pytest.approx(0.02)
    assert race.paths["Adam"][0][0] == pytest.approx(-2.0)
    race.controls["lr_SGD"].value = 3.0  # diverges on the saddle's quartic: flagged, not raised
    race.step(50)
    race.render()
    assert race.racers["SGD"].diverged and "diverged" in race.status.value


# ----------------------------------------------------------------------------- dropout / BN


def test_dropout_explorer_train_and_eval():
    ex = wd.dropout_explorer(p=0.5, batch_size=64)
    assert isinstance(ex.layer, L.Dropout) and ex.layer.training
    x, out = ex.x, ex.out
    kept = out != 0
    assert np.allclose(out[kept], 2.0 * x[kept], rtol=1e-6)  # inverted dropout scaling
    assert 0.35 < (kept.sum() / (x != 0).sum()) < 0.65
    frame = ex.frame
    ex.controls["resample"].click()
    assert not np.array_equal(out, ex.out) and ex.frame != frame
    ex.controls["mode"].value = "eval"
    assert not ex.layer.training and np.array_equal(ex.out, ex.x)
    ex.controls["batch_size"].value = 8
    assert ex.x.shape == (8, 64)
    ex.controls["mode"].value = "train"
    ex.controls["p"].value = 0.9
    assert ex.layer.p == 0.9 and (ex.out != 0).mean() < 0.3


def test_batchnorm_explorer_train_and_eval():
    ex = wd.batchnorm_explorer(batch_size=64)
    assert isinstance(ex.layer, L.BatchNorm1d)
    assert np.allclose(ex.out.mean(axis=0), 0, atol=1e-4)
    assert np.allclose(ex.out.std(axis=0), 1, atol=1e-2)
    ex.controls["mode"].value = "eval"
    ex.controls["reset"].click()  # a fresh layer: running stats (0, 1), so no normalisation
    assert np.allclose(ex.out, ex.x / np.sqrt(1 + 1e-5), atol=1e-4)
    frame = ex.frame
    ex.controls["momentum"].value = 0.5
    assert ex.layer.momentum == 0.5
    ex.controls["train10"].click()
    assert not ex.layer.training  # back in the selected mode
    assert np.allclose(ex.layer.running_mean, ex.MEAN, atol=0.5)
    assert abs(ex.out.mean(axis=0)).max() < 0.5 and ex.frame != frame
