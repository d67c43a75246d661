"""nncourse.widgets driven from code: set controls, click buttons, step, compare frames."""

import asyncio
import io

import matplotlib
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


def _png_rgb(png: bytes) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_frames_are_pngs_of_exactly_the_canvas():
    for view in (wd.playground(resolution=16), wd.dropout_explorer()):
        canvas = np.asarray(view.figure.canvas.buffer_rgba())
        assert view.frame.startswith(b"\x89PNG\r\n\x1a\n")
        assert np.array_equal(_png_rgb(view.frame), canvas[..., :3])
        assert np.allclose(view.frame_array(), canvas[..., :3] / 255.0)


def test_unit_heat_maps_are_the_layer_outputs_on_the_grid():
    pg = wd.playground(features=("x1", "x2", "x1 x2"), hidden="5, 3", resolution=24, seed=2)
    pg.step(3)
    pg.render()
    # the same numbers, computed directly from the weights in float64
    X = pg.grid.astype(np.float64)
    W1, W2, W3 = (l.params["W"].astype(np.float64) for l in pg.model.layers[::2])
    b1, b2, b3 = (l.params["b"].astype(np.float64) for l in pg.model.layers[::2])
    phi = np.c_[X[:, 0], X[:, 1], X[:, 0] * X[:, 1]]
    h1 = np.tanh(phi @ W1.T + b1)
    h2 = np.tanh(h1 @ W2.T + b2)
    score = h2 @ W3.T + b3
    res = pg.resolution
    for column, direct in zip(pg.unit_maps, [phi, h1, h2, score]):
        assert column.shape == (direct.shape[1], res, res)
        assert np.allclose(column, direct.T.reshape(-1, res, res), atol=1e-5)
    # a map is the plane seen from below: row i is y = grid y_i, column j is x = grid x_j
    g = np.unique(pg.grid[:, 0])
    assert np.allclose(pg.unit_map("x1")[5], g) and np.allclose(pg.unit_map("x2")[:, 7], g)
    assert np.allclose(pg.unit_map("h1.2"), h1[:, 1].reshape(res, res), atol=1e-5)
    assert np.allclose(pg.predict_proba(pg.grid), 1 / (1 + np.exp(-score.ravel())), atol=1e-5)

    # each tile is its unit's map in the RdBu colours (nearest grid cell per pixel), and the
    # tile is what the frame shows at that place
    frame = _png_rgb(pg.frame)
    rdbu = matplotlib.colormaps["RdBu"]
    s = pg.network.tile_size
    pick = ((np.arange(s) + 0.5) * res / s).astype(int)
    for name in ("x1 x2", "h1.2", "h2.3", "output"):
        values = pg.unit_map(name)[pick][:, pick]
        if name == "output":
            t = 1 / (1 + np.exp(-values))
        else:
            t = 0.5 + 0.5 * values / max(1.0, np.abs(pg.unit_map(name)).max())
        tile = pg.network.tile(name)
        assert np.array_equal(tile, rdbu(t, bytes=True)), name
        rgba, x, y = pg.network.tiles.blocks[pg.network._tile_of[name]]
        top = frame.shape[0] - y - s
        shown = frame[top : top + s, x : x + s][::-1]
        assert np.array_equal(shown, tile[..., :3]), name


def test_choosing_a_unit_shows_it_large_with_its_incoming_weights():
    pg = wd.playground(hidden="4, 3", seed=1)
    pg.step(2)
    pg.render()
    frame = pg.frame
    pg.controls["unit"].value = "h2.3"
    assert pg.frame != frame and pg.network.selected == "h2.3"
    sources, w, b = pg.incoming("h2.3")
    W2, b2 = pg.model.layers[2].params["W"], pg.model.layers[2].params["b"]
    assert sources == ["h1.1", "h1.2", "h1.3", "h1.4"]
    assert np.array_equal(w, W2[2]) and b == pytest.approx(float(b2[2]))
    info = pg.unit_info.value
    assert "h2.3" in info and all(f"{wi:+.3f}" in info for wi in w)
    # the large view is that unit's map: its corner pixels are the corner cells, coloured
    # as the decision surface is (RdBu at 75 % over white)
    values = pg.unit_map("h2.3")
    t = 0.5 + 0.5 * values / max(1.0, np.abs(values).max())
    rgba, _, _ = pg._surface.blocks[0]
    for (i, j), (pi, pj) in [((0, 0), (0, 0)), ((-1, -1), (-1, -1))]:
        rdbu = np.array(matplotlib.colormaps["RdBu"](t[i, j], bytes=True), dtype=float)
        expected = 0.75 * rdbu[:3] + 0.25 * 255
        assert np.abs(rgba[pi, pj, :3] - expected).max() <= 0.5
    assert "h2.3" in pg._title.get_text()
    # an input feature has no incoming weights; an unknown unit is an error in the status
    pg.choose_unit("x2")
    assert pg.incoming("x2") is None and "no incoming weights" in pg.unit_info.value
    with pytest.raises(ValueError, match="unknown unit"):
        pg.choose_unit("h9.1")
    # a new network keeps the choice when the unit still exists, else falls back to output
    pg.controls["unit"].value = "h2.3"
    pg.controls["hidden"].value = "4, 2"
    assert pg.controls["unit"].value == "output" and "h2.3" not in pg.controls["unit"].options


def test_toggling_a_feature_changes_the_models_input_width():
    pg = wd.playground(dataset="xor", hidden="8", seed=0)
    assert pg.model.layers[0].params["W"].shape == (8, 2)
    pg.controls["x1 x2"].value = True
    assert pg.model.layers[0].params["W"].shape == (8, 3) and pg.epoch == 0
    assert pg.feature_map.names == ("x1", "x2", "x1 x2")
    assert np.allclose(pg.F_train[:, 2], pg.X_train[:, 0] * pg.X_train[:, 1])
    assert pg.network.columns[0] == ["x1", "x2", "x1 x2"]
    assert "x1 x2" in pg.controls["unit"].options
    pg.set(**{"x1": False, "x2": False, "sin x1": True})  # one new model for the three
    assert pg.feature_map.names == ("x1 x2", "sin x1")
    assert pg.model.layers[0].params["W"].shape == (8, 2)
    model = pg.model
    pg.set(**{"x1 x2": False, "sin x1": False})  # no feature left: refused, model kept
    assert "at least one feature" in pg.status.value and pg.model is model
    pg.set(**{"x1 x2": True, "sin x1": True})
    pg.controls["hidden"].value = "8, x"  # refused; a feature toggled now keeps map and model
    model = pg.model
    pg.controls["x1"].value = True
    assert "8, x" in pg.status.value and pg.model is model
    assert pg.feature_map.names == ("x1 x2", "sin x1")
    pg.render()  # still consistent


def test_the_xor_features_replace_the_hidden_layer():
    """01_perceptron's lesson, live: no hidden layer fails on XOR in (x1, x2) and
    succeeds on the single feature x1 x2."""

    def accuracy(features):
        pg = wd.playground(dataset="xor", hidden="", features=features, lr=0.3, seed=0)
        pg.step(30)
        return ((pg.predict_proba(pg.X_test) > 0.5) == (pg.y_test.ravel() > 0.5)).mean()

    assert accuracy(("x1", "x2")) < 0.75
    assert accuracy(("x1 x2",)) > 0.95


def test_network_view_on_off_and_blitted_frames_equal_full_draws():
    pg = wd.playground(seed=3)
    pg.step(2)
    pg.render()
    blitted = _png_rgb(pg.render())
    pg._background = None  # forces a full draw of the same state
    assert np.array_equal(_png_rgb(pg.render()), blitted)
    wide = blitted.shape[1]
    pg.controls["network"].value = False
    narrow = _png_rgb(pg.frame)
    assert narrow.shape[1] < wide and not pg.ax_net.get_visible()
    pg.step()
    pg.render()
    again = _png_rgb(pg.frame)
    pg._background = None
    assert np.array_equal(_png_rgb(pg.render()), again)
    pg.controls["network"].value = True
    assert _png_rgb(pg.frame).shape[1] == wide


def test_wide_layers_draw_their_first_units_and_say_how_many_more():
    pg = wd.playground(hidden="20", resolution=16)
    assert len(pg.network.columns[1]) == pg.network.max_units
    texts = [t.get_text() for t in pg.ax_net.texts]
    assert f"+{20 - pg.network.max_units} more" in texts
    assert len(pg.network.edge_index) == 2 * pg.network.max_units + pg.network.max_units


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


class _Swish(L._Activation):
    """x sigmoid(beta x): a stand-in for an activation added to the registry."""

    name = "swish"
    function = staticmethod(lambda x, beta=1.5: x / (1 + np.exp(-beta * x)))
    derivative = staticmethod(
        lambda x, beta=1.5: (s := 1 / (1 + np.exp(-beta * x))) + beta * x * s * (1 - s)
    )
    param_ranges = {"beta": (0.5, 4.0, 0.1)}

    def __init__(self, beta=1.5):
        super().__init__()
        self.beta = beta

    def _kwargs(self):
        return {"beta": self.beta}


def test_every_explorer_offers_the_activation_registry(monkeypatch):
    assert wd.ACTIVATION_LAYERS is L.ACTIVATIONS
    menus = [
        wd.activation_explorer().controls["function"],
        wd.playground(resolution=8).controls["activation"],
        wd.init_explorer(depth=1, width=10).controls["activation"],
    ]
    assert all(list(m.options) == list(L.ACTIVATIONS) for m in menus)
    # one class added to the registry is enough: menus, slider and range follow
    monkeypatch.setitem(L.ACTIVATIONS, "swish", _Swish)
    ex = wd.activation_explorer("swish", x_range=(-2.0, 2.0))
    assert "swish" in ex.controls["function"].options and ex.params() == {"beta": 1.5}
    beta = ex.controls["beta"]
    assert (beta.min, beta.max, beta.step, beta.disabled) == (0.5, 4.0, 0.1, False)
    beta.value = 3.0
    x = ex.values["x"]
    assert np.allclose(ex.values["g"], x / (1 + np.exp(-3.0 * x)))
    ex.controls["function"].value = "elu"
    assert beta.disabled and ex.params() == {"alpha": 1.0}
    pg = wd.playground(activation="swish", hidden="3", resolution=8)
    assert isinstance(pg.model.layers[1], _Swish)


def test_playground_initialiser_is_the_activation_classs_weight_init(monkeypatch):
    def largest_first_weight(activation):
        W = wd.mlp([2, 50, 1], activation=activation, rng=0).layers[0].params["W"]
        return float(np.abs(W).max())  # He: up to sqrt(6 / 2) = 1.7, Xavier: sqrt(6 / 52) = 0.34

    for name, cls in L.ACTIVATIONS.items():
        assert (largest_first_weight(name) > 0.5) == (cls.weight_init == "he_uniform"), name
    monkeypatch.setitem(L.ACTIVATIONS, "swish", _Swish)
    assert largest_first_weight("swish") < 0.5  # a new class: Xavier unless it says He
    monkeypatch.setattr(_Swish, "weight_init", "he_uniform")
    assert largest_first_weight("swish") > 0.5


def test_activation_sliders_take_the_selected_classs_ranges():
    ex = wd.activation_explorer("elu")
    alpha = ex.controls["alpha"]
    assert (alpha.min, alpha.max) == L.ELU.param_ranges["alpha"][:2]
    alpha.value = 2.5
    ex.controls["function"].value = "prelu"  # the same name, another class and range
    assert (alpha.min, alpha.max, alpha.step) == L.PReLU.param_ranges["alpha"]
    assert alpha.value == 0.25  # 2.5 is out of PReLU's range: the function's default
    assert np.allclose(
        ex.values["g"][ex.values["x"] < 0], 0.25 * ex.values["x"][ex.values["x"] < 0]
    )
    alpha.value = 0.5
    ex.controls["function"].value = "elu"
    assert alpha.value == 0.5 and (alpha.min, alpha.max) == L.ELU.param_ranges["alpha"][:2]


def test_playground_predicts_in_eval_mode_and_gives_every_layer_its_mode_back():
    pg = wd.playground(hidden="4, 4", resolution=8)
    pg.model.layers[1].eval()  # one layer frozen in eval mode inside a training model
    calls = []
    original = pg.model.layers[3].forward

    def spy(x):
        calls.append(pg.model.layers[3].training)
        return original(x)

    pg.model.layers[3].forward = spy
    pg.render()
    assert calls and not any(calls)  # the grid went through in eval mode
    assert pg.model.training and pg.model.layers[0].training and pg.model.layers[3].training
    assert not pg.model.layers[1].training  # and the frozen one stays frozen


def test_seeds_go_through_as_generator():
    with pytest.raises(ValueError, match="playground"):
        wd.playground(seed=-1)
    with pytest.raises(ValueError, match="mlp"):
        wd.mlp([2, 3, 1], rng=-2)
    a, b = (wd.playground(seed=5, resolution=8) for _ in range(2))
    assert np.array_equal(a.X_train, b.X_train)
    assert all(np.array_equal(p, q) for p, q in zip(weights(a.model), weights(b.model)))


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
