"""The optimiser family's one table of cases: how to build each optimiser, a configuration
that puts every state buffer to use, the kind of each hyper-parameter and the wrong values
it refuses with which error.

The optimiser tests (test_optim), the wrong calls (test_bad_input) and the property sweep
(test_bad_input_properties) read :data:`OPTIM_CASES`; a test fails when an optimiser of
``nncourse.optim`` has no case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nncourse import optim


@dataclass(frozen=True)
class OptimCase:
    cls: type
    required: dict = field(default_factory=dict)  # arguments without a default (SGD's lr)
    busy: dict = field(default_factory=dict)  # every state buffer in use (momentum, ...)
    arguments: dict = field(default_factory=dict)  # hyper-parameter -> KINDS key
    wrong: tuple = ()  # (kwargs, message pattern): refused with a ValueError

    @property
    def id(self) -> str:
        return self.cls.__name__

    def make(self, params, **kwargs):
        """The optimiser over ``params`` with ``kwargs`` (and the required ones)."""
        return self.cls(params, **{**self.required, **kwargs})


OPTIM_CASES = [
    OptimCase(
        optim.SGD,
        required=dict(lr=0.1),
        busy=dict(momentum=0.9, nesterov=True),
        arguments={
            "lr": "nonneg",
            "momentum": "nonneg",
            "dampening": "real",
            "weight_decay": "nonneg",
        },
        wrong=(
            (dict(lr=-0.1), "SGD: expected a finite lr >= 0, got -0.1"),
            (dict(lr=float("inf")), "SGD: expected a finite lr >= 0, got inf"),
            (dict(lr=float("nan")), "SGD: expected a finite lr >= 0, got nan"),
            (dict(momentum=float("inf")), "SGD: .*finite momentum >= 0, got inf"),
            (dict(momentum=-0.5), "SGD: expected a finite momentum >= 0, got -0.5"),
            (dict(nesterov=True), "SGD: nesterov=True requires momentum > 0"),
            (dict(momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
            (dict(weight_decay=-1), "SGD: .*weight_decay >= 0, got -1"),
        ),
    ),
    OptimCase(
        optim.Adagrad,
        busy=dict(lr_decay=0.1),
        arguments={
            "lr": "nonneg",
            "lr_decay": "nonneg",
            "initial_accumulator_value": "nonneg",
            "eps": "nonneg",
        },
        wrong=(
            (dict(lr_decay=-1), "Adagrad: .*lr_decay >= 0, got -1"),
            (dict(initial_accumulator_value=-1), "initial_accumulator_value >= 0, got -1"),
            (dict(eps=-1e-3), "Adagrad: .*eps >= 0, got -0.001"),
        ),
    ),
    OptimCase(
        optim.RMSprop,
        busy=dict(centered=True, momentum=0.3),
        arguments={
            "lr": "nonneg",
            "alpha": "unit",
            "eps": "nonneg",
            "momentum": "nonneg",
            "centered": "flag",
        },
        wrong=(
            (dict(alpha=1.5), "RMSprop: expected 0 <= alpha <= 1, got 1.5"),
            (dict(momentum=-0.1), "RMSprop: .*momentum >= 0, got -0.1"),
        ),
    ),
    OptimCase(
        optim.Adam,
        busy=dict(amsgrad=True),
        arguments={"lr": "nonneg", "eps": "nonneg", "weight_decay": "nonneg", "amsgrad": "flag"},
        wrong=(
            (dict(eps=float("inf")), "Adam: expected a finite eps >= 0, got inf"),
            (dict(betas=(1.0, 0.999)), "Adam: expected 0 <= beta1 < 1, got 1.0"),
            (dict(betas=(0.9, -0.1)), "Adam: expected 0 <= beta2 < 1, got -0.1"),
            (dict(lr=-1e-3), "Adam: expected a finite lr >= 0"),
        ),
    ),
    OptimCase(
        optim.Adadelta,
        busy=dict(weight_decay=0.01),
        arguments={"lr": "nonneg", "rho": "unit", "eps": "nonneg", "weight_decay": "nonneg"},
        wrong=((dict(rho=1.1), "Adadelta: expected 0 <= rho <= 1, got 1.1"),),
    ),
]
BY_CLASS = {case.cls: case for case in OPTIM_CASES}
WRONG_HYPER_PARAMETERS = [
    (case.cls, kwargs, pattern) for case in OPTIM_CASES for kwargs, pattern in case.wrong
]
