"""Property tests (hypothesis): softmax invariants, every layer's shapes, Linear is affine."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from support.layer_cases import LAYER_CASES

from nncourse import functional as F
from nncourse import init, layers

finite = st.floats(-50, 50, allow_nan=False, width=64)
matrices = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
    lambda s: arrays(np.float64, s, elements=finite)
)
FAST = settings(max_examples=40, deadline=None)


@FAST
@given(matrices, st.floats(-1e3, 1e3, allow_nan=False))
def test_softmax_sums_to_one_and_is_shift_invariant(x, c):
    p = F.softmax(x, axis=1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(p >= 0)
    np.testing.assert_allclose(F.softmax(x + c, axis=1), p, atol=1e-10)


@FAST
@given(matrices)
def test_log_softmax_is_log_of_softmax(x):
    p = F.softmax(x, axis=1)
    safe = p > 1e-300
    np.testing.assert_allclose(F.log_softmax(x, axis=1)[safe], np.log(p[safe]), atol=1e-10)


@FAST
@given(st.integers(1, 8), st.integers(1, 8), st.sampled_from(LAYER_CASES))
def test_layer_output_and_input_gradient_shapes(n, d, case):
    layer = case.build(d)
    if n < case.min_batch:  # BatchNorm's batch statistics need two examples in training
        layer.eval()
    x = np.random.default_rng(n * 10 + d).standard_normal((n, d)).astype(np.float32)
    out = layer(x)
    assert out.shape[0] == n and out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).shape == (n, d)


@FAST
@given(matrices, st.floats(-3, 3, allow_nan=False), st.integers(1, 5))
def test_linear_is_affine(x, a, out):
    lin = layers.Linear(x.shape[1], out, rng=1, dtype=np.float64)
    lin.params["b"][...] = np.arange(out)
    y = np.random.default_rng(0).standard_normal(x.shape)
    f = lin.forward
    # f(a x + (1 - a) y) = a f(x) + (1 - a) f(y) for an affine map
    np.testing.assert_allclose(
        f(a * x + (1 - a) * y), a * f(x) + (1 - a) * f(y), atol=1e-8 * (1 + np.abs(x).max()) * 10
    )


@FAST
@given(
    st.integers(1, 50),
    st.integers(1, 50),
    st.sampled_from(
        ["xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "normal", "uniform"]
    ),
)
def test_init_shapes_and_dtypes(fan_out, fan_in, name):
    W = init.get(name)((fan_out, fan_in), rng=0)
    assert W.shape == (fan_out, fan_in) and W.dtype == np.float32 and np.all(np.isfinite(W))
