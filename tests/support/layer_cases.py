"""The layer family's one table of cases: how to build each layer, what it accepts, which
wrong calls it refuses and with which error.

The gradient checks and closed-form tests (test_layers), the shape properties
(test_properties), the wrong calls (test_layers) and the property sweep over wrong
arguments and batches (test_bad_input_properties) all read :data:`LAYER_CASES`, so a
layer added here is tested everywhere. Activations come from the registry itself
(``nncourse.layers.ACTIVATIONS``): a new activation class is covered without a row; a row
in :data:`_ACTIVATION_ROWS` only adds non-default settings or wrong calls.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nncourse import backend
from nncourse import layers as L


def _real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _finite(v):
    return _real(v) and math.isfinite(float(v))


def _int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


# What an argument accepts: kind -> predicate on a value (True: valid, False: must be
# refused, None: either outcome is right but an error must still be ours).
KINDS = {
    "size": lambda v: _int(v) and v >= 1,
    "size_or_none": lambda v: v is None or (_int(v) and v >= 1),
    "count": lambda v: _int(v) and v >= 0,
    "real": _finite,
    "pos": lambda v: _finite(v) and v > 0,
    "nonneg": lambda v: _finite(v) and v >= 0,
    "unit": lambda v: _finite(v) and 0 <= v <= 1,
    "unit_open": lambda v: _finite(v) and 0 <= v < 1,
    "open_unit": lambda v: _finite(v) and 0 < v < 1,
    "flag": lambda v: isinstance(v, (bool, np.bool_)),
    "below_1e9": lambda v: _finite(v) and v < 1e9,  # a lower end, the upper one is 1e9
    "above_-1e9": lambda v: _finite(v) and v > -1e9,
    # init draws in float32: values beyond its range overflow to inf and are refused;
    # near the edge of the range either outcome is right (None)
    "f32": lambda v: None if _finite(v) and 1e30 <= abs(v) else _finite(v),
    "f32_nonneg": lambda v: None if _finite(v) and 1e30 <= v else _finite(v) and v >= 0,
    "rng": lambda v: v is None or isinstance(v, np.random.Generator) or (_int(v) and v >= 0),
}


@dataclass(frozen=True)
class LayerCase:
    """One way to build a layer of the family, with what it accepts and refuses."""

    id: str
    cls: type
    build: Callable  # build(d) -> a float32 layer (seeded) for batches of shape (N, d)
    width_bound: bool = False  # refuses batches whose width is not d
    min_batch: int = 1  # smallest batch in training (BatchNorm's statistics need 2)
    gradcheck_rows: int = 1  # smallest batch whose gradient check means something
    tol: float = 1e-7  # gradient-check tolerance (float64)
    construct: Callable | None = None  # construct(**kwargs) -> a layer, for the sweep
    arguments: dict = field(default_factory=dict)  # constructor argument -> KINDS key
    wrong: tuple = ()  # (kwargs for construct, exception type, message pattern)


def make_bn(d, seed=0):
    """A BatchNorm1d with non-trivial gamma, beta and running statistics."""
    r = np.random.default_rng(seed)
    bn = L.BatchNorm1d(d)
    bn.params["gamma"][...] = backend.asarray(r.uniform(0.5, 2.0, d))
    bn.params["beta"][...] = backend.asarray(r.standard_normal(d))
    bn.running_mean[...] = backend.asarray(r.standard_normal(d))
    bn.running_var[...] = backend.asarray(r.uniform(0.5, 3.0, d))
    return bn


def prelu_per_feature(d, seed=0):
    """A PReLU with one slope per feature, different from each other."""
    layer = L.PReLU(d)
    layer.params["alpha"][...] = backend.asarray(np.random.default_rng(seed).uniform(0.05, 0.9, d))
    return layer


def _linear(**k):
    return L.Linear(**{"in_features": 3, "out_features": 2, **k})


def _maxout(**k):
    return L.Maxout(**{"in_features": 3, "out_features": 2, **k})


def _batchnorm(**k):
    return L.BatchNorm1d(**{"num_features": 3, **k})


_OTHER_LAYERS = [
    LayerCase(
        "Linear",
        L.Linear,
        lambda d: L.Linear(d, 4, rng=0),
        width_bound=True,
        construct=_linear,
        arguments={"in_features": "size", "out_features": "size", "bias": "flag", "rng": "rng"},
        wrong=(
            (
                dict(in_features=0),
                ValueError,
                r"Linear: expected a positive int in_features, got 0",
            ),
            (dict(out_features=2.5), TypeError, r"Linear: .*positive int out_features, got 2.5"),
            # issue 14: a bool is not a size (True == 1 used to build a 1-input layer)
            (dict(in_features=True), TypeError, r"Linear: .*in_features, got True \(bool\)"),
            (dict(bias="no"), TypeError, r"Linear: expected bias=True or False"),
            (dict(dtype=int), TypeError, r"Linear: expected a float dtype.*got dtype int64"),
            (dict(init="bogus"), ValueError, r"Linear: expected init one of \["),
            (dict(init=L.ReLU), TypeError, r"Linear: expected init one of \[.*the class ReLU"),
            (dict(rng=-1), ValueError, r"Linear: expected .*int seed >= 0.*-1"),
            (dict(rng="a"), TypeError, r"Linear: expected .*Generator.*got str"),
        ),
    ),
    LayerCase("Linear-nobias", L.Linear, lambda d: L.Linear(d, 3, bias=False, rng=1), True),
    LayerCase(
        "Maxout",
        L.Maxout,
        lambda d: L.Maxout(d, 3, pieces=3, rng=6),
        width_bound=True,
        construct=_maxout,
        arguments={"in_features": "size", "out_features": "size", "pieces": "size", "rng": "rng"},
        wrong=(
            (dict(pieces=0), ValueError, r"Maxout: expected a positive int pieces"),
            (dict(init="bogus"), ValueError, r"Maxout: expected init one of"),
            (dict(rng=-1), ValueError, r"Maxout: expected .*int seed >= 0.*-1"),
        ),
    ),
    LayerCase(
        "Dropout",
        L.Dropout,
        lambda d: L.Dropout(0.4, rng=5),
        construct=lambda **k: L.Dropout(**k),
        arguments={"p": "unit_open", "rng": "rng"},
        wrong=(
            (dict(p=1.0), ValueError, r"Dropout: expected 0 <= p .*< 1, got 1.0"),
            (dict(p=-0.1), ValueError, r"Dropout: expected 0 <= p .*< 1, got -0.1"),
            (dict(p=np.nan), ValueError, r"Dropout: expected 0 <= p .*< 1, got nan"),
            (dict(p="0.5"), TypeError, r"Dropout: expected a real number p"),
        ),
    ),
    LayerCase(
        "BatchNorm1d",
        L.BatchNorm1d,
        make_bn,
        width_bound=True,
        min_batch=2,
        gradcheck_rows=5,  # with N = 2 BatchNorm outputs +-1 and dL/dx is 0
        tol=1e-6,
        construct=_batchnorm,
        arguments={"num_features": "size", "eps": "pos", "momentum": "unit"},
        wrong=(
            (dict(num_features=0), ValueError, r"BatchNorm1d: expected a positive int num_feat"),
            # issue 14: BatchNorm1d(True) ended in a raw NumPy error
            (dict(num_features=True), TypeError, r"BatchNorm1d: .*num_features, got True"),
            (dict(eps=0), ValueError, r"BatchNorm1d: expected a finite eps > 0, got 0"),
            (dict(eps=np.nan), ValueError, r"BatchNorm1d: .*eps > 0, got nan"),
            (dict(eps=np.inf), ValueError, r"BatchNorm1d: .*eps > 0, got inf"),
            (dict(momentum=2), ValueError, r"BatchNorm1d: .*0 <= momentum <= 1, got 2"),
        ),
    ),
    LayerCase(
        "Sequential",
        L.Sequential,
        lambda d: L.Sequential(
            L.Linear(d, 6, rng=2),
            L.Tanh(),
            make_bn(6),
            L.Dropout(0.3, rng=3),
            L.Linear(6, 2, rng=4),
        ),
        width_bound=True,
        min_batch=2,
        gradcheck_rows=5,
        tol=1e-6,
    ),
]

# Activation name -> the case's settings beyond the defaults (the class comes from the
# registry; without a row an activation is built with no argument and its constructor
# arguments are taken to be its hyper-parameters, finite numbers).
_ACTIVATION_ROWS = {
    "leaky_relu": dict(
        build=lambda d: L.LeakyReLU(0.1),
        wrong=((dict(negative_slope=None), TypeError, r"LeakyReLU: .*negative_slope, got None"),),
    ),
    "elu": dict(
        build=lambda d: L.ELU(0.7),
        wrong=((dict(alpha="a"), TypeError, r"ELU: expected a real number alpha, got 'a' \(str"),),
    ),
    "hardtanh": dict(
        construct=lambda **k: L.HardTanh(**{"min_val": -1e9, "max_val": 1e9, **k}),
        arguments={"min_val": "below_1e9", "max_val": "above_-1e9"},
        wrong=(
            (dict(min_val=1, max_val=-1), ValueError, r"HardTanh: expected min_val < max_val"),
            (dict(min_val="a"), TypeError, r"HardTanh: expected a real number min_val"),
        ),
    ),
    "prelu": dict(
        arguments={"num_parameters": "size", "init": "real"},
        wrong=(
            (dict(num_parameters=0), ValueError, r"PReLU: expected a positive int num_param"),
            (
                dict(num_parameters=True),
                TypeError,
                r"PReLU: .*positive int num_parameters, got True",
            ),
            (dict(init="x"), TypeError, r"PReLU: expected a real number init"),
        ),
    ),
}


def _activation_case(name, cls) -> LayerCase:
    row = _ACTIVATION_ROWS.get(name, {})
    return LayerCase(
        id=cls.__name__,
        cls=cls,
        build=row.get("build", lambda d: cls()),
        construct=row.get("construct", lambda **k: cls(**k)),
        arguments=row.get("arguments", {p: "real" for p in cls.hyper_parameters()}),
        wrong=row.get("wrong", ()),
    )


def layer_cases() -> list[LayerCase]:
    """Every case: the registry's activations (as registered now) and the other layers."""
    cases = [_activation_case(name, cls) for name, cls in L.ACTIVATIONS.items()]
    cases.append(LayerCase("PReLU-per-feature", L.PReLU, prelu_per_feature, width_bound=True))
    return cases + _OTHER_LAYERS


LAYER_CASES = layer_cases()
BY_ID = {case.id: case for case in LAYER_CASES}
WRONG_CALLS = [
    (case.id, kwargs, exc, pattern) for case in LAYER_CASES for kwargs, exc, pattern in case.wrong
]
