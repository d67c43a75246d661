"""The loss family's one table of cases: each classification or regression loss with the
targets it takes for scores ``(N, C)`` and the kinds of its constructor arguments.

The gradient checks (test_losses) and the bad-input sweep (test_bad_input_properties)
read :data:`LOSS_CASES`; a test fails when a loss of ``nncourse.losses`` has no case.
``MaxMarginLoss`` compares two score vectors (``forward(s, s_c)``), not scores with
targets, and is tested on its own (:data:`OTHER_LOSSES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nncourse import losses


@dataclass(frozen=True)
class LossCase:
    cls: type
    targets: Callable  # targets(n, c, rng) -> valid targets for scores of shape (n, c)
    classes: int | None = None  # a fixed score width (BCE's single logit), else any C
    arguments: dict = field(default_factory=dict)  # constructor argument -> KINDS key

    @property
    def id(self) -> str:
        return self.cls.__name__

    def width(self, c: int) -> int:
        return self.classes or c


LOSS_CASES = [
    LossCase(losses.MSELoss, lambda n, c, r: r.standard_normal((n, c))),
    LossCase(losses.BCEWithLogitsLoss, lambda n, c, r: r.uniform(0, 1, (n, 1)), classes=1),
    LossCase(losses.SoftmaxCrossEntropyLoss, lambda n, c, r: r.integers(0, c, n)),
    LossCase(
        losses.MulticlassHingeLoss,
        lambda n, c, r: r.integers(0, c, n),
        arguments={"margin": "nonneg"},
    ),
]
OTHER_LOSSES = {losses.MaxMarginLoss: {"margin": "nonneg"}}
BY_ID = {case.id: case for case in LOSS_CASES}
