"""Tests for nncourse.optim: hand-computed updates, PyTorch parity, convergence, schedules.

Parameters are a tiny stand-in class (name, data, grad), so these tests do not depend on
nncourse.layers.
"""

import math

import numpy as np
import pytest
from support import torch_reference
from support.optim_cases import BY_CLASS, OPTIM_CASES, WRONG_HYPER_PARAMETERS

from nncourse import backend, optim
from nncourse.optim import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    ExponentialLR,
    InverseTimeLR,
    RMSprop,
    StepLR,
)

OPTIMISERS = [case.cls for case in OPTIM_CASES]  # the family's table, tests/support


class Param:
    """Stand-in for the layers' parameter objects."""

    def __init__(self, data, grad=None, name="p"):
        self.name, self.data, self.grad = name, data, grad


def ids(cases):
    return [f"{case[0].__name__}-{'-'.join(sorted(case[1]))}" for case in cases]


def make(cls, params, **kw):
    return BY_CLASS[cls].make(params, **kw)


# -- hand-computed two-step examples ----------------------------------------------------------
# One parameter p0 = [1, -2]; gradients g1 = [0.5, 1] then g2 = [1, -1] (fixed, whatever p is).
# The expected values are worked out coordinate by coordinate from the update rules in the
# module docstring (the first step is shown in each comment); they agree with torch.optim.
P0, G1, G2 = [1.0, -2.0], [0.5, 1.0], [1.0, -1.0]
# amsgrad needs a second gradient smaller than the first in one coordinate:
G2_SMALL = [0.1, -3.0]

HAND = [
    # p1 = p0 - 0.1 g1 = [0.95, -2.1];  p2 = p1 - 0.1 g2
    (SGD, dict(lr=0.1), G2, [0.95, -2.1], [0.85, -2.0]),
    # b1 = g1;  b2 = 0.9 b1 + g2 = [1.45, -0.1];  p2 = p1 - 0.1 b2
    (SGD, dict(lr=0.1, momentum=0.9), G2, [0.95, -2.1], [0.805, -2.09]),
    # b1 = g1 (no dampening on the first step);  b2 = 0.9 b1 + 0.5 g2 = [0.95, 0.4]
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.5), G2, [0.95, -2.1], [0.855, -2.14]),
    # b1 = g1;  p1 = p0 - 0.1 (g1 + 0.9 b1) = p0 - 0.19 g1 = [0.905, -2.19]
    # b2 = [1.45, -0.1];  p2 = p1 - 0.1 (g2 + 0.9 b2) = p1 - 0.1 [2.305, -1.09]
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), G2, [0.905, -2.19], [0.6745, -2.081]),
    # d1 = g1 + 0.1 p0 = [0.6, 0.8];  d2 = g2 + 0.1 p1 = [1.094, -1.208]
    (SGD, dict(lr=0.1, weight_decay=0.1), G2, [0.94, -2.08], [0.8306, -1.9592]),
    # b1 = d1 = [0.6, 0.8];  b2 = 0.9 b1 + d2 = [1.634, -0.488]
    (SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1), G2, [0.94, -2.08], [0.7766, -2.0312]),
    # d1 = [0.6, 0.8];  p1 = p0 - 0.1 * 1.9 d1 = [0.886, -2.152]
    (
        SGD,
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        G2,
        [0.886, -2.152],
        [0.630566, -1.985912],
    ),
    # s1 = g1^2;  p1 = p0 - 0.1 g1 / (|g1| + 1e-10);  s2 = [1.25, 2];  p2 = p1 - 0.1 g2 / sqrt(s2)
    (
        Adagrad,
        dict(lr=0.1),
        G2,
        [0.90000000002, -2.09999999999],
        [0.810557280928008, -2.02928932187635],
    ),
    # as above, second step with lr / (1 + 1 * lr_decay) = 0.05
    (
        Adagrad,
        dict(lr=0.1, lr_decay=1.0),
        G2,
        [0.90000000002, -2.09999999999],
        [0.855278640474004, -2.06464466093317],
    ),
    # s1 = 16 + g1^2 = [16.25, 17];  p1 = p0 - 0.1 g1 / sqrt(s1)
    (
        Adagrad,
        dict(lr=0.1, initial_accumulator_value=16.0),
        G2,
        [0.987596526541387, -2.02425356250304],
        [0.963519355924813, -2.00068333646405],
    ),
    # d1 = g1 + 0.5 p0 = [1, 0];  p1 = [0.9, -2] (zero gradient leaves the coordinate alone)
    (
        Adagrad,
        dict(lr=0.1, weight_decay=0.5),
        G2,
        [0.90000000001, -2.0],
        [0.817678721423052, -1.900000000005],
    ),
    # p1 = p0 - 0.1 g1 / (|g1| + 1) = [1 - 0.05/1.5, -2 - 0.1/2]
    (
        Adagrad,
        dict(lr=0.1, eps=1.0),
        G2,
        [0.966666666666667, -2.05],
        [0.919453071166709, -2.00857864376269],
    ),
    # v1 = 0.1 g1^2 = [0.025, 0.1];  p1 = p0 - 0.01 g1 / (sqrt(v1) + 0.1)
    (
        RMSprop,
        dict(lr=0.01, alpha=0.9, eps=0.1),
        G2,
        [0.98062870566386, -2.0240253073352],
        [0.958406483441638, -2.00536475764887],
    ),
    # b1 = g1 / (sqrt(v1) + 0.1) (buffer starts at 0);  b2 = 0.5 b1 + g2 / (sqrt(v2) + 0.1)
    (
        RMSprop,
        dict(lr=0.01, alpha=0.9, eps=0.1, momentum=0.5),
        G2,
        [0.98062870566386, -2.0240253073352],
        [0.948720836273568, -2.01737741131647],
    ),
    # a1 = 0.1 g1;  v1 - a1^2 = 0.09 g1^2;  p1 = p0 - 0.01 g1 / (0.3 |g1| + 0.1)
    (
        RMSprop,
        dict(lr=0.01, alpha=0.9, eps=0.1, centered=True),
        G2,
        [0.98, -2.025],
        [0.95610807229036, -2.00633545461979],
    ),
    (
        RMSprop,
        dict(lr=0.01, alpha=0.9, eps=0.1, centered=True, momentum=0.5),
        G2,
        [0.98, -2.025],
        [0.94610807229036, -2.01883545461979],
    ),
    # d1 = g1 + 0.5 p0 = [1, 0];  v1 = [0.1, 0];  p1 = [1 - 0.01 / (sqrt(0.1) + 0.1), -2]
    (
        RMSprop,
        dict(lr=0.01, alpha=0.9, eps=0.1, weight_decay=0.5),
        G2,
        [0.975974692664796, -2.0],
        [0.953362339174769, -1.97269458810084],
    ),
    # m_hat1 = g1, v_hat1 = g1^2:  p1 = p0 - 0.1 g1 / (|g1| + 1e-8)  (one lr per coordinate)
    (
        Adam,
        dict(lr=0.1),
        G2,
        [0.900000002, -2.099999999],
        [0.803481800638509, -2.09473684115789],
    ),
    # p1 = p0 - 0.1 g1 / (|g1| + 0.5) = [1 - 0.05, -2 - 0.1/1.5]
    (
        Adam,
        dict(lr=0.1, eps=0.5),
        G2,
        [0.95, -2.06666666666667],
        [0.890872010535828, -2.06315789473684],
    ),
    # m_hat2 = (0.25 g1 + 0.5 g2) / 0.75;  v_hat2 = (0.1875 g1^2 + 0.25 g2^2) / 0.4375
    (
        Adam,
        dict(lr=0.1, betas=(0.5, 0.75)),
        G2,
        [0.900000002, -2.099999999],
        [0.798837173450256, -2.066666666],
    ),
    # d1 = g1 + 0.5 p0 = [1, 0]
    (
        Adam,
        dict(lr=0.1, weight_decay=0.5),
        G2,
        [0.900000001, -2.0],
        [0.800703313203998, -1.92558631816935],
    ),
    # v2 = 0.75 * 0.25 g1^2 + 0.25 g2^2 = [0.06, 2.4375]; v_max2 = max(v1, v2) = [0.0625, 2.4375]
    (
        Adam,
        dict(lr=0.1, betas=(0.5, 0.75), amsgrad=True),
        G2_SMALL,
        [0.900000002, -2.099999999],
        [0.838265806375159, -2.02939012048778],
    ),
    # v1 = 0.1 g1^2;  d1 = sqrt(0 + 0.01) / sqrt(v1 + 0.01) g1;  u1 = 0.1 d1^2;  p1 = p0 - d1
    (
        Adadelta,
        dict(lr=1.0, rho=0.9, eps=0.01),
        G2,
        [0.732738758087576, -2.30151134457776],
        [0.373044368489467, -1.9925541542511],
    ),
    # d1 = g1 + 0.5 p0 = [1, 0];  p1 = p0 - 0.5 * 0.1 / sqrt(0.51) [1, 0]
    (
        Adadelta,
        dict(lr=0.5, rho=0.5, eps=0.01, weight_decay=0.5),
        G2,
        [0.9299859957986, -2.0],
        [0.840706974098929, -1.92946543841414],
    ),
]


@pytest.mark.parametrize("cls, kw, g2, p1, p2", HAND, ids=ids(HAND))
def test_two_steps_by_hand(cls, kw, g2, p1, p2):
    p = Param(np.array(P0), np.array(G1))
    opt = cls([p], **kw)
    opt.step()
    np.testing.assert_allclose(p.data, p1, rtol=1e-12, atol=1e-14)
    p.grad = np.array(g2)
    opt.step()
    np.testing.assert_allclose(p.data, p2, rtol=1e-12, atol=1e-14)


def test_weight_decay_leaves_grad_untouched():
    g = np.array(G1)
    p = Param(np.array(P0), g)
    for cls in OPTIMISERS:
        make(cls, [p], weight_decay=0.5).step()
    np.testing.assert_array_equal(g, G1)


# -- PyTorch parity: torch's trajectories are stored fixtures (no torch needed) -------------------

TORCH_CASES = [(getattr(optim, name), kwargs) for name, kwargs in torch_reference.CASES]


@pytest.mark.parametrize("case", torch_reference.CASES, ids=torch_reference.case_id)
def test_matches_torch_step_for_step(case):
    ref = torch_reference.load(case)
    cls = getattr(optim, ref.optimizer)
    ours = [Param(v.copy(), name=str(k)) for k, v in enumerate(ref.initial)]
    opt = cls(ours, **ref.kwargs)
    for t, (grads, after) in enumerate(zip(ref.grads, ref.after, strict=True)):
        for p, g in zip(ours, grads, strict=True):
            p.grad = None if g is None else g.copy()
        opt.step()
        for p, q in zip(ours, after, strict=True):
            np.testing.assert_allclose(
                p.data, q, rtol=1e-10, atol=1e-12, err_msg=f"step {t + 1}, parameter {p.name}"
            )


def test_torch_fixtures_are_the_cases_and_exercise_skipped_gradients():
    stored = {path.stem for path in torch_reference.FIXTURES.glob("*.npz")}
    assert stored == {torch_reference.case_id(c) for c in torch_reference.CASES}
    ref = torch_reference.load(torch_reference.CASES[0])
    assert len(ref.after) == torch_reference.STEPS and ref.torch_version.startswith("2.")
    assert any(g[1] is None for g in ref.grads)  # a parameter without a gradient is skipped
    moved = [np.abs(a[0] - b[0]).max() for a, b in zip(ref.after, ref.after[1:])]
    assert min(moved) > 0  # every step changed the weights: the comparison is not vacuous


def test_torch_fixture_of_another_case_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_reference, "FIXTURES", tmp_path)
    case = ("SGD", dict(lr=0.05))
    good = torch_reference.Trajectory(
        "SGD", dict(lr=0.5), "2.13.0", [np.ones(2)], [[None]], [[np.ones(2)]]
    )
    torch_reference.save(case, good)  # written under the case's name, with other arguments
    with pytest.raises(ValueError, match=r"SGD-lr.npz: holds SGD\(\{'lr': 0.5\}\), expected"):
        torch_reference.load(case)


# -- behaviour on a problem -------------------------------------------------------------------

CONVERGE = [
    (SGD, dict(lr=0.05)),
    (SGD, dict(lr=0.02, momentum=0.9)),
    (SGD, dict(lr=0.02, momentum=0.9, nesterov=True)),
    (Adagrad, dict(lr=0.5)),
    (RMSprop, dict(lr=0.01)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (Adam, dict(lr=0.05)),
    (Adam, dict(lr=0.05, amsgrad=True)),
    # near the minimum Adadelta acts like SGD with step lr (the two RMS terms cancel), so
    # lr must stay below 2 / curvature = 0.2 here
    (Adadelta, dict(lr=0.1, eps=1e-1)),
]


@pytest.mark.parametrize("cls, kw", CONVERGE, ids=ids(CONVERGE))
def test_minimises_a_quadratic(cls, kw):
    # f(x) = 0.5 x^T diag(1, 10) x, minimum 0 at x = 0, f(x0) = 5.5
    a = np.array([1.0, 10.0])
    p = Param(np.array([1.0, 1.0]))
    opt = cls([p], **kw)
    for _ in range(300):
        p.grad = a * p.data
        opt.step()
    assert 0.5 * np.sum(a * p.data**2) < 1e-3


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e4])
def test_adam_first_step_is_lr_per_coordinate(scale):
    p = Param(np.zeros(3), scale * np.array([1.0, -0.01, 100.0]))
    Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.data, [-0.01, 0.01, -0.01], rtol=1e-3)


# -- schedules ------------------------------------------------------------------------------------


def lrs(sched, epochs):
    out = [sched.optimizer.lr]
    for _ in range(epochs):
        sched.step()
        assert sched.get_last_lr() == [sched.optimizer.lr]
        out.append(sched.optimizer.lr)
    return out


def sgd(lr=1.0):
    return SGD([Param(np.zeros(2), np.ones(2))], lr=lr)


def test_step_lr():
    sched = StepLR(sgd(), step_size=3, gamma=0.5)
    assert lrs(sched, 7) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.last_epoch == 7


def test_exponential_lr():
    assert lrs(ExponentialLR(sgd(2.0), gamma=0.5), 3) == [2.0, 1.0, 0.5, 0.25]


def test_exponential_lr_continuous_form():
    sched = ExponentialLR.from_decay_rate(sgd(0.5), k=0.1)
    expected = [0.5 * math.exp(-0.1 * t) for t in range(6)]
    np.testing.assert_allclose(lrs(sched, 5), expected, rtol=1e-12)


def test_inverse_time_lr():
    # alpha_t = alpha_0 tau / max(t, tau) with tau = 3: flat, then 3/4, 3/5, 3/6
    assert lrs(InverseTimeLR(sgd(), tau=3), 6) == [1, 1, 1, 1, 0.75, 0.6, 0.5]


def test_optimizer_sees_lr_set_by_hand_and_by_schedule():
    p = Param(np.zeros(2), np.array([1.0, -2.0]))
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(p.data, [-0.5, 1.0])
    sched = StepLR(opt, step_size=1, gamma=0.1)
    sched.step()  # lr = 0.05
    opt.step()
    np.testing.assert_allclose(p.data, [-0.55, 1.1])


def test_schedule_state_dict_round_trip():
    sched = StepLR(sgd(), step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    other = StepLR(sgd(), step_size=2, gamma=0.5)
    other.load_state_dict(sched.state_dict())
    assert other.last_epoch == 5 and other.optimizer.lr == 0.25


@pytest.mark.parametrize(
    "make_sched, match",
    [
        (lambda o: StepLR(o, step_size=0), "StepLR: expected a positive int step_size, got 0"),
        (lambda o: StepLR(o, step_size=-2), "StepLR: .*step_size, got -2"),
        (lambda o: StepLR(o, step_size=2, gamma=0), "StepLR: expected a finite gamma > 0, got 0"),
        (lambda o: ExponentialLR(o, gamma=-0.5), "ExponentialLR: .*gamma > 0, got -0.5"),
        (lambda o: ExponentialLR(o, gamma=float("inf")), "ExponentialLR: .*finite gamma.*inf"),
        (lambda o: ExponentialLR.from_decay_rate(o, k=-1), "from_decay_rate: .*k >= 0, got -1"),
        (lambda o: InverseTimeLR(o, tau=0), "InverseTimeLR: expected a finite tau > 0, got 0"),
    ],
)
def test_schedule_bad_arguments(make_sched, match):
    with pytest.raises(ValueError, match=match):
        make_sched(sgd())


def test_schedule_needs_an_optimiser():
    with pytest.raises(TypeError, match="StepLR.*float"):
        StepLR(0.1, step_size=2)


def test_schedule_repr():
    assert repr(StepLR(sgd(), step_size=2)) == "StepLR(step_size=2, gamma=0.1, last_epoch=0)"


# -- protocol: zero_grad, state, in place, dtype, errors ---------------------------------------


def test_zero_grad_in_place_and_skips_none():
    g = np.ones((2, 3))
    a, b = Param(np.zeros((2, 3)), g, "a"), Param(np.zeros(3), None, "b")
    Adam([a, b]).zero_grad()
    assert a.grad is g and not g.any()
    assert b.grad is None


def test_parameter_without_grad_is_skipped():
    a, b = Param(np.ones(2), np.ones(2), "a"), Param(np.ones(2), None, "b")
    opt = Adam([a, b])
    opt.step()
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert opt.state_dict()["state"].keys() == {0}
    assert opt.state[0]["step"] == 1


@pytest.mark.parametrize("cls", OPTIMISERS)
def test_update_is_in_place(cls):
    data = np.ones((3, 2))
    view = data[1]  # e.g. a layer holding its own reference
    p = Param(data, np.full((3, 2), 0.5))
    make(cls, [p]).step()
    assert p.data is data
    assert np.all(view < 1)


@pytest.mark.parametrize("cls", OPTIMISERS)
def test_float32_stays_float32(cls):
    rng = np.random.default_rng(1)
    p = Param(rng.normal(size=(4, 3)).astype(np.float32))
    opt = make(cls, [p], weight_decay=0.1)
    for _ in range(3):
        p.grad = rng.normal(size=(4, 3)).astype(np.float32)
        opt.step()
    assert p.data.dtype == np.float32
    for value in opt.state[0].values():
        assert not hasattr(value, "dtype") or value.dtype == np.float32


def test_state_follows_a_dtype_change():
    p = Param(np.ones(3, dtype=np.float32), np.ones(3, dtype=np.float32))
    opt = Adam([p])
    opt.step()
    p.data, p.grad = p.data.astype(np.float64), p.grad.astype(np.float64)  # model.astype(...)
    opt.step()
    assert p.data.dtype == np.float64 and opt.state[0]["exp_avg"].dtype == np.float64
    np.testing.assert_allclose(p.data, 1 - 2e-3, rtol=1e-6)  # two steps of ~lr each


@pytest.mark.parametrize("cls", OPTIMISERS)
def test_state_dict_round_trip(cls):
    rng = np.random.default_rng(2)
    kw = dict(momentum=0.9) if cls in (SGD, RMSprop) else {}
    p = Param(rng.normal(size=(3, 2)), name="0.W")
    opt = make(cls, [p], **kw)
    grads = [rng.normal(size=(3, 2)) for _ in range(6)]
    for g in grads[:3]:
        p.grad = g
        opt.step()
    saved = opt.state_dict()
    saved_copy = {k: v.copy() for k, v in saved["state"][0].items() if hasattr(v, "copy")}
    q = Param(p.data.copy(), name="0.W")
    other = make(cls, [q], lr=123.0)  # hyper-parameters come from the saved dict
    other.load_state_dict(saved)
    assert other.lr == opt.lr
    for g in grads[3:]:
        p.grad, q.grad = g, g
        opt.step()
        other.step()
    np.testing.assert_array_equal(p.data, q.data)
    for k, v in saved_copy.items():  # later steps did not change the saved dict
        np.testing.assert_array_equal(saved["state"][0][k], v)


def test_load_state_dict_checks():
    p = Param(np.ones(3), np.ones(3))
    opt = Adam([p])
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="Adam.load_state_dict.*2 parameters.*has 1"):
        saved2 = Adam([Param(np.ones(3)), Param(np.ones(2))]).state_dict()
        opt.load_state_dict(saved2)
    with pytest.raises(ValueError, match="exp_avg.*shape \\(3,\\), expected \\(4,\\)"):
        Adam([Param(np.ones(4))]).load_state_dict(saved)
    with pytest.raises(ValueError, match="SGD.load_state_dict: expected hyper-parameters"):
        SGD([Param(np.ones(3))], lr=0.1).load_state_dict(saved)


def test_repr():
    p = [Param(np.ones(2))]
    assert repr(SGD(p, lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0, nesterov=False, weight_decay=0)"
    )
    assert (
        repr(Adam(p))
        == "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False)"
    )


def test_lr_property():
    opt = Adam([Param(np.ones(2))])
    assert opt.lr == 1e-3
    opt.lr = 0.5
    assert opt.lr == 0.5 and opt.defaults["lr"] == 0.5
    with pytest.raises(ValueError, match="Adam.lr: expected a finite lr >= 0, got -1"):
        opt.lr = -1


@pytest.mark.parametrize(
    "cls, kw, match", WRONG_HYPER_PARAMETERS, ids=[str(w[1]) for w in WRONG_HYPER_PARAMETERS]
)
def test_bad_hyper_parameters(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        make(cls, [Param(np.ones(2))], **kw)


def test_every_optimiser_has_a_case():
    family = {
        c
        for c in (getattr(optim, n) for n in optim.__all__)
        if isinstance(c, type) and issubclass(c, optim.Optimizer) and c is not optim.Optimizer
    }
    assert family == set(BY_CLASS) and family <= {cls for cls, _, _ in WRONG_HYPER_PARAMETERS}


def test_non_numeric_hyper_parameter():
    with pytest.raises(
        TypeError, match="SGD: expected a real number momentum.*, got 'a' \\(str\\)"
    ):
        SGD([Param(np.ones(2))], lr=0.1, momentum="a")
    with pytest.raises(TypeError, match="Adam: expected betas as a pair.*got 0.9"):
        Adam([Param(np.ones(2))], betas=0.9)
    with pytest.raises(TypeError, match="StepLR: expected a positive int step_size, got 1.5"):
        StepLR(sgd(), step_size=1.5)
    with pytest.raises(TypeError, match="SGD: expected nesterov=True or False, got 1"):
        SGD([Param(np.ones(2))], lr=0.1, momentum=0.9, nesterov=1)


def test_bad_parameter_lists():
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Adam: got an empty parameter list"):
        Adam(iter([]))
    with pytest.raises(TypeError, match="Adam: expected an iterable.*got ndarray"):
        Adam(np.ones(3))
    with pytest.raises(TypeError, match="Adam: expected an iterable.*got dict"):
        Adam({"W": np.ones(3)})
    with pytest.raises(TypeError, match="Adam: parameter 0 \\(ndarray\\)"):
        Adam([np.ones(3)])
    with pytest.raises(TypeError, match="Adam: parameter 'i' must have a floating dtype"):
        Adam([Param(np.ones(3, dtype=int), name="i")])
    p = Param(np.ones(3), name="0.W")
    with pytest.raises(ValueError, match="'0.W' appears more than once"):
        Adam([p, p])


def test_gradient_shape_mismatch():
    p = Param(np.ones(3), np.ones(4), name="0.b")
    with pytest.raises(ValueError, match="Adam.step: gradient of parameter '0.b' has shape"):
        Adam([p]).step()


@pytest.mark.skipif("cupy" not in backend.available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("cls, kw", TORCH_CASES, ids=ids(TORCH_CASES))
def test_cupy_matches_numpy(cls, kw):
    xp = backend.use("cupy")
    try:
        rng = np.random.default_rng(3)
        host = Param(rng.normal(size=(5, 3)))
        dev = Param(xp.asarray(host.data))
        a, b = cls([host], **kw), cls([dev], **kw)
        for _ in range(5):
            g = rng.normal(size=(5, 3))
            host.grad, dev.grad = g, xp.asarray(g)
            a.step()
            b.step()
        assert type(dev.data) is type(xp.asarray(0.0))
        np.testing.assert_allclose(backend.to_numpy(dev.data), host.data, rtol=1e-10)
    finally:
        backend.use("numpy")
