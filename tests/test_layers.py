"""Layers: gradients against finite differences, closed forms, moves, bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from support.layer_cases import BY_ID, LAYER_CASES, WRONG_CALLS, layer_cases, make_bn

from nncourse import gradcheck
from nncourse import layers as layers_module
from nncourse.backend import to_numpy
from nncourse.layers import (
    ACTIVATIONS,
    BatchNorm1d,
    Dropout,
    LeakyReLU,
    Linear,
    Maxout,
    Parameter,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    eval_mode,
)

SHAPES = [(2, 1), (3, 5), (7, 4), (5, 9)]  # (N, D), including D = 1 and N = 2


def away_from_kinks(x):
    """Move entries off the points where ReLU/LeakyReLU (0) and HardTanh (+-1) have kinks."""
    x = x.copy()
    for kink in (-1.0, 0.0, 1.0):
        near = np.abs(x - kink) < 0.05
        x[near] = kink + 0.3
    return x


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
def test_layer_gradients_match_finite_differences(xp, case, shape, mode):
    shape = (max(shape[0], case.gradcheck_rows), shape[1])
    layer = case.build(shape[1])
    layer.train(mode == "train")
    x = away_from_kinks(np.random.default_rng(hash(shape) % 2**32).standard_normal(shape) * 1.5)
    report = gradcheck.check_layer(layer, xp.asarray(x), tol=case.tol)
    assert report.passed, str(report)
    assert {r.name for r in report.rows} == {"input"} | set(layer.params) | {
        p.name for p in layer.parameters()
    }


def test_gradcheck_catches_a_wrong_layer_backward():
    class BadSigmoid(Sigmoid):
        def backward(self, dout):
            s = self._need_cache()
            return dout * s  # forgot the (1 - s)

    x = np.random.default_rng(0).standard_normal((4, 3))
    assert not gradcheck.check_layer(BadSigmoid(), x).passed


# -- closed forms -------------------------------------------------------------------


def test_sigmoid_and_tanh_derivatives_closed_form(xp):
    x = np.linspace(-6, 6, 25).reshape(5, 5)
    s = 1 / (1 + np.exp(-x))
    sig = Sigmoid().astype(np.float64)
    np.testing.assert_allclose(to_numpy(sig(xp.asarray(x))), s, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(sig.backward(xp.ones((5, 5)))), s * (1 - s), rtol=1e-12)
    tanh = Tanh()
    tanh(xp.asarray(x))
    np.testing.assert_allclose(
        to_numpy(tanh.backward(xp.ones((5, 5)))), 1 - np.tanh(x) ** 2, rtol=1e-9, atol=1e-15
    )


def test_sigmoid_layer_is_finite_and_exact_at_large_inputs(xp):
    x = xp.asarray([[-1e3, -50.0, 0.0, 50.0, 1e3]], dtype=xp.float64)
    with np.errstate(over="raise"):
        out = to_numpy(Sigmoid()(x))
    assert np.all(np.isfinite(out))
    assert out[0, 4] == 1.0 and out[0, 0] == 0.0 and out[0, 2] == 0.5


def test_prelu_closed_form_and_torch_shapes(xp):
    x = np.array([[-2.0, 3.0, 0.0], [1.5, -0.5, -4.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    shared = PReLU().astype(np.float64)  # one slope, 0.25
    assert shared.params["alpha"].shape == (1,) and set(shared.params) == {"alpha"}
    out = to_numpy(shared(xp.asarray(x)))
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.25 * x))
    dx = to_numpy(shared.backward(xp.asarray(dout)))
    np.testing.assert_allclose(dx, dout * np.where(x > 0, 1.0, 0.25))
    # dL/dalpha = sum of dout * x where x <= 0: 1*-2 + 3*0 + 5*-0.5 + 6*-4
    np.testing.assert_allclose(to_numpy(shared.grads["alpha"]), [-2.0 - 2.5 - 24.0])
    per = PReLU(3, init=0.1).astype(np.float64)
    per.params["alpha"][...] = xp.asarray([0.1, 0.2, 0.3])
    np.testing.assert_allclose(
        to_numpy(per(xp.asarray(x))), np.where(x > 0, x, np.array([0.1, 0.2, 0.3]) * x)
    )
    per.backward(xp.asarray(dout))
    np.testing.assert_allclose(to_numpy(per.grads["alpha"]), [-2.0, -2.5, -24.0])
    with pytest.raises(ValueError, match=r"PReLU.*expected input of shape \(N, 3\)"):
        per(xp.ones((2, 4)))


def test_maxout_closed_form_and_pieces_one_is_linear(xp):
    m = Maxout(3, 2, pieces=3, rng=0).astype(np.float64)
    assert m.params["W"].shape == (6, 3) and m.params["b"].shape == (6,)
    m.params["b"][...] = xp.asarray(np.arange(6.0) / 10)
    x = np.random.default_rng(1).standard_normal((4, 3))
    W, b = to_numpy(m.params["W"]), to_numpy(m.params["b"])
    z = (x @ W.T + b).reshape(4, 2, 3)
    expected = np.array([[max(z[n, j]) for j in range(2)] for n in range(4)])
    np.testing.assert_allclose(to_numpy(m(xp.asarray(x))), expected, rtol=1e-12)
    dout = np.random.default_rng(2).standard_normal((4, 2))
    dx = to_numpy(m.backward(xp.asarray(dout)))
    dz = np.zeros((4, 2, 3))
    for n in range(4):
        for j in range(2):
            dz[n, j, np.argmax(z[n, j])] = dout[n, j]  # only the winning piece
    dz = dz.reshape(4, 6)
    np.testing.assert_allclose(to_numpy(m.grads["W"]), dz.T @ x, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(m.grads["b"]), dz.sum(0), rtol=1e-12)
    np.testing.assert_allclose(dx, dz @ W, rtol=1e-12)
    one = Maxout(3, 2, pieces=1, rng=4)
    lin = Linear(3, 2, rng=4)
    np.testing.assert_array_equal(to_numpy(one.params["W"]), to_numpy(lin.params["W"]))
    np.testing.assert_allclose(to_numpy(one(xp.asarray(x))), to_numpy(lin(xp.asarray(x))))
    assert repr(m) == "Maxout(in_features=3, out_features=2, pieces=3)"


def test_activation_registry_is_the_single_source():
    assert list(ACTIVATIONS)[:8] == [
        "relu", "tanh", "sigmoid", "leaky_relu", "elu", "softsign", "hardtanh", "identity"
    ]  # fmt: skip
    for name, cls in ACTIVATIONS.items():
        assert cls.name == name
        layer = cls()
        assert isinstance(cls.param_ranges, dict)
        x = np.linspace(-2.95, 3.05, 12).reshape(3, 4)  # off the kinks
        kwargs = {k: v for k, v in layer._kwargs().items()}
        # the layer computes exactly its registered function, and backward its derivative
        np.testing.assert_allclose(layer(x), cls.function(x, **kwargs), rtol=1e-6)
        np.testing.assert_allclose(
            layer.backward(np.ones_like(x)), cls.derivative(x, **kwargs), rtol=1e-6
        )
        for p, (lo, hi, step) in cls.param_ranges.items():
            assert lo < hi and 0 < step <= hi - lo, (name, p)
        assert set(cls.param_ranges) == set(cls.hyper_parameters()), name
        assert cls.weight_init in ("he_uniform", "xavier_uniform"), name
    assert ACTIVATIONS["prelu"] is PReLU
    # the ReLU family keeps the variance with He's scaling, the others with Xavier's
    he = {name for name, cls in ACTIVATIONS.items() if cls.weight_init == "he_uniform"}
    assert he == {"relu", "leaky_relu", "elu", "prelu"}


def test_a_new_activation_is_one_class_statement(monkeypatch):
    monkeypatch.setattr("nncourse.layers.ACTIVATIONS", dict(ACTIVATIONS))  # undone after
    from nncourse import layers

    class Swish(layers._Activation, name="swish"):
        function = staticmethod(lambda x, beta=1.0: x / (1 + np.exp(-beta * x)))
        derivative = staticmethod(
            lambda x, beta=1.0: (s := 1 / (1 + np.exp(-beta * x))) + beta * x * s * (1 - s)
        )
        param_ranges = {"beta": (0.5, 4.0, 0.1)}

    assert layers.ACTIVATIONS["swish"] is Swish and Swish.name == "swish"
    assert Swish.hyper_parameters() == {"beta": 1.0} and Swish.weight_init == "xavier_uniform"
    assert list(layers.ACTIVATIONS)[-1] == "swish"  # after the library's own
    # the layer family's case table covers it with no row of its own
    case = {c.id: c for c in layer_cases()}["Swish"]
    assert case.arguments == {"beta": "real"} and isinstance(case.build(3), Swish)
    first = Swish

    class Swish(layers._Activation, name="swish"):  # noqa: F811  (a notebook cell run again)
        pass

    assert layers.ACTIVATIONS["swish"] is Swish is not first

    class BrokenTanh(Tanh):  # a student's variant: no name=, not registered
        pass

    assert BrokenTanh.name == "tanh" and layers.ACTIVATIONS["tanh"] is Tanh
    with pytest.raises(ValueError, match=r"Relu2: the activation name 'relu' is taken by ReLU"):

        class Relu2(layers._Activation, name="relu"):
            pass

    with pytest.raises(TypeError, match=r"Bad: expected name= a registry key.*got 3"):

        class Bad(layers._Activation, name=3):
            pass

    assert set(layers.ACTIVATIONS) == set(ACTIVATIONS) | {"swish"}


def test_eval_mode_restores_every_layer_own_mode():
    frozen = BatchNorm1d(2).eval()  # a student froze this one
    model = Sequential(Linear(2, 2), Dropout(0.5), Sequential(frozen, Dropout(0.2)))
    with eval_mode(model) as m:
        assert m is model
        assert not any(layer.training for layer in (model, model[1], model[2], model[2][1]))
    assert model.training and model[1].training and model[2][1].training
    assert not frozen.training
    model.eval()
    with pytest.raises(RuntimeError):
        with eval_mode(model):
            raise RuntimeError("inside")
    assert not model.training and not model[1].training

    class Bare:  # a student's minimal layer: forward/backward only, no training flag
        def forward(self, x):
            return x

        def backward(self, dout):
            return dout

    bare = Bare()
    model = Sequential(Linear(2, 2), bare)
    with eval_mode(model):
        assert bare.training is False  # Sequential.eval() tells it
    assert not hasattr(bare, "training") and model.training


def test_linear_forward_is_x_WT_plus_b(xp):
    lin = Linear(3, 2, rng=0)
    lin.params["b"][...] = xp.asarray([0.5, -1.0])
    x = np.arange(6.0).reshape(2, 3)
    W, b = to_numpy(lin.params["W"]), to_numpy(lin.params["b"])
    np.testing.assert_allclose(to_numpy(lin(xp.asarray(x))), x @ W.T + b, rtol=1e-6)
    assert W.shape == (2, 3) and b.shape == (2,)


def test_batchnorm_eval_is_the_affine_map_with_running_stats(xp):
    bn = make_bn(4).astype(np.float64).eval()
    x = np.random.default_rng(1).standard_normal((6, 4))
    g, b = to_numpy(bn.params["gamma"]), to_numpy(bn.params["beta"])
    rm, rv = to_numpy(bn.running_mean), to_numpy(bn.running_var)
    expected = g * (x - rm) / np.sqrt(rv + bn.eps) + b
    np.testing.assert_allclose(to_numpy(bn(xp.asarray(x))), expected, rtol=1e-12)
    # eval does not touch the running statistics
    np.testing.assert_array_equal(to_numpy(bn.running_mean), rm)
    # a single example is fine in eval mode and gives the same row
    np.testing.assert_allclose(to_numpy(bn(xp.asarray(x[:1]))), expected[:1], rtol=1e-12)


def test_batchnorm_train_normalises_and_updates_running_stats_by_hand(xp):
    bn = BatchNorm1d(3, momentum=0.2).astype(np.float64)
    x = np.random.default_rng(2).standard_normal((5, 3)) * 3 + 1
    out = to_numpy(bn(xp.asarray(x)))
    mu, var_biased = x.mean(0), x.var(0)  # ddof=0 for normalising
    np.testing.assert_allclose(out, (x - mu) / np.sqrt(var_biased + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(bn.running_mean), 0.8 * 0 + 0.2 * mu, rtol=1e-12)
    np.testing.assert_allclose(
        to_numpy(bn.running_var), 0.8 * 1 + 0.2 * x.var(0, ddof=1), rtol=1e-12
    )


def test_dropout_expected_value_and_eval_identity(xp):
    x = xp.asarray(np.full((200, 50), 2.0))
    drop = Dropout(0.3, rng=0)
    outs = np.stack([to_numpy(drop(x)) for _ in range(40)])
    assert abs(outs.mean() - 2.0) < 0.02  # inverted dropout keeps the expectation
    kept = outs != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01  # p is the probability to drop
    np.testing.assert_allclose(outs[kept], 2.0 / 0.7)
    drop.eval()
    assert to_numpy(drop(x)).tolist() == to_numpy(x).tolist()
    np.testing.assert_array_equal(to_numpy(drop.backward(x)), to_numpy(x))


def test_dropout_same_seed_same_mask_and_backward_uses_mask(xp):
    x = xp.asarray(np.random.default_rng(0).standard_normal((8, 6)))
    a, b = Dropout(0.5, rng=7), Dropout(0.5, rng=7)
    out = to_numpy(a(x))
    np.testing.assert_array_equal(out, to_numpy(b(x)))
    dx = to_numpy(a.backward(xp.ones((8, 6))))
    np.testing.assert_allclose(dx, (out != 0) * 2.0)


# -- moves, parameters, state --------------------------------------------------------


def mlp():
    return Sequential(Linear(4, 5, rng=0), BatchNorm1d(5), ReLU(), Linear(5, 2, rng=1))


def test_astype_moves_params_grads_buffers_and_model_still_works(xp):
    model = mlp()
    assert model.dtype == np.float32
    handles = list(model.parameters())
    model.astype(np.float64)
    for p in model.parameters():
        assert p.data.dtype == np.float64 and p.grad.dtype == np.float64
    assert model[1].running_mean.dtype == np.float64 and model[1].running_var.dtype == np.float64
    assert all(h.data.dtype == np.float64 for h in handles)  # handles stay bound
    x = xp.asarray(np.random.default_rng(0).standard_normal((6, 4)))
    out = model(x)
    assert out.dtype == np.float64 and out.shape == (6, 2)
    dx = model.backward(xp.ones_like(out))
    assert dx.shape == (6, 4) and dx.dtype == np.float64


def test_parameters_names_and_in_place_update_seen_by_layer(xp):
    model = mlp()
    params = list(model.parameters())
    assert [p.name for p in params] == ["0.W", "0.b", "1.gamma", "1.beta", "3.W", "3.b"]
    assert all(isinstance(p, Parameter) for p in params)
    params[0].data[...] = 0
    params[1].data += 1.0
    out = to_numpy(model[0](xp.ones((2, 4))))
    np.testing.assert_array_equal(out, np.ones((2, 5)))
    assert params[0].data is model[0].params["W"]
    model.forward(xp.ones((3, 4)))
    model.backward(xp.ones((3, 2)))
    assert params[4].grad is model[3].grads["W"]


def test_state_dict_round_trip(xp):
    a, b = mlp(), Sequential(Linear(4, 5, rng=9), BatchNorm1d(5), ReLU(), Linear(5, 2, rng=8))
    a.train()
    a(xp.asarray(np.random.default_rng(0).standard_normal((6, 4))))  # move running stats
    state = a.state_dict()
    assert set(state) >= {"0.W", "0.b", "1.gamma", "1.running_mean", "1.running_var", "3.W"}
    b.load_state_dict(state)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(to_numpy(v), to_numpy(state[k]))
    state["0.W"][...] = 123  # a copy, not a view
    assert not np.any(to_numpy(a[0].params["W"]) == 123)
    x = xp.asarray(np.ones((2, 4)))
    a.eval(), b.eval()
    np.testing.assert_array_equal(to_numpy(a(x)), to_numpy(b(x)))


def test_train_eval_propagate_through_sequential():
    model = Sequential(Linear(2, 2), Dropout(0.5), Sequential(BatchNorm1d(2)))
    model.eval()
    assert not model[1].training and not model[2][0].training
    model.train()
    assert model[1].training and model[2][0].training


def test_reprs():
    assert repr(Linear(784, 10)) == "Linear(in_features=784, out_features=10, bias=True)"
    assert repr(Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    assert repr(ReLU()) == "ReLU()"
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(BatchNorm1d(8)) == "BatchNorm1d(num_features=8, eps=1e-05, momentum=0.1)"
    assert repr(Sequential(Linear(2, 3), Tanh())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): Tanh()\n)"
    )


def test_deepcopy_is_independent():
    model = mlp()
    clone = copy.deepcopy(model)
    clone[0].params["W"][...] = 0
    assert np.any(to_numpy(model[0].params["W"]) != 0)


# -- bad input ----------------------------------------------------------------------------


def test_linear_shape_mismatch_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Linear\(in_features=4.*expected .*\(N, 4\).*\(3, 5\)"):
        Linear(4, 2)(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"Linear.*expected input of shape \(N, 4\).*\(4,\)"):
        Linear(4, 2)(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match=r"Linear.*expected an array.*list"):
        Linear(4, 2)([[1, 2, 3, 4]])


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
def test_backward_before_forward_raises(case):
    layer = case.build(3)
    with pytest.raises(
        ValueError, match=rf"(?s){type(layer).__name__}.*backward\(\) called before forward"
    ):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
def test_non_finite_input_raises(numpy_backend, case, bad):
    layer = case.build(3)
    x = np.ones((2, 3), np.float32)
    x[1, 2] = bad
    with pytest.raises(
        ValueError, match=rf"(?s){type(layer).__name__}.*expected finite input.*\(1, 2\)"
    ):
        layer(x)


def test_wrong_dout_shape_raises():
    lin = Linear(3, 2)
    lin(np.ones((4, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"Linear.*backward: expected dout of shape \(4, 2\).*\(4, 3\)"
    ):
        lin.backward(np.ones((4, 3), np.float32))


def test_batchnorm_single_example_in_training_raises():
    with pytest.raises(ValueError, match=r"BatchNorm1d.*at least 2 examples.*N=1"):
        BatchNorm1d(3)(np.ones((1, 3), np.float32))


@pytest.mark.parametrize(
    "case_id, kwargs, exc, pattern", WRONG_CALLS, ids=[f"{c}-{k}" for c, k, _, _ in WRONG_CALLS]
)
def test_invalid_hyper_parameters(case_id, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        BY_ID[case_id].construct(**kwargs)


def test_every_layer_class_has_cases_and_wrong_calls():
    public = {
        cls
        for cls in (getattr(layers_module, n) for n in layers_module.__all__)
        if isinstance(cls, type) and issubclass(cls, layers_module.Layer)
    } - {layers_module.Layer}
    assert public <= {case.cls for case in LAYER_CASES}
    # a class whose constructor takes arguments has wrong calls in the table
    takes_arguments = {c.cls for c in LAYER_CASES if c.arguments} - {Sequential}
    assert takes_arguments <= {BY_ID[c].cls for c, _, _, _ in WRONG_CALLS}


def test_sequential_rejects_non_layers():
    with pytest.raises(
        TypeError, match=r"Sequential: layer 1 must have forward\(\) and backward\(\), got int"
    ):
        Sequential(Linear(2, 2), 3)


def test_to_unknown_backend_raises():
    with pytest.raises(ValueError, match=r"Linear.to: expected 'numpy' or 'cupy', got 'tpu'"):
        Linear(2, 2).to("tpu")


def test_dropout_accepts_numpy_scalars():
    assert Dropout(np.float32(0.25)).p == 0.25
