"""The training loop: one ``Trainer`` for full-batch, mini-batch and per-example SGD.

The loop is the one of the notes (empirical risk minimisation with SGD)::

    for epoch in range(epochs):
        shuffle the training set (with the trainer's rng)
        for each batch (x, y) of batch_size examples:
            scores = model.forward(x)
            loss   = loss_fn.forward(scores, y) + regularizer.penalty(model)
            model.backward(loss_fn.backward())   # overwrites every layer's grads
            regularizer.backward(model)          # adds lambda * dOmega/dtheta
            optimizer.step()
        scheduler.step()                         # learning-rate annealing, once per epoch
        evaluate on the validation set; early stopping; callbacks

``batch_size=None`` (or >= N) is full-batch gradient descent, ``batch_size=1`` is
per-example SGD: the same code with a different batch size.

The optimiser is either an object with ``step()`` and ``zero_grad()`` (``nncourse.optim``)
or a plain callable update rule ``rule(params)``: ``params`` is the list of
``model.parameters()`` handles (each with ``.name``, ``.data`` and ``.grad``) and the rule
updates ``p.data`` in place, e.g. ``def sgd(params): [p.data.__isub__(0.1 * p.grad) ...]``.
This is how a student's own update rule plugs into the loop.

Recorded in :class:`History`: per epoch ``train_loss`` (mean of the step losses of the
epoch, *including* the regularisation penalty: the objective being minimised),
``train_acc`` (accuracy over the epoch's batches, as they were seen), ``val_loss`` and
``val_acc`` (data loss and accuracy on the validation set after the epoch, eval mode),
``lr`` (learning rate used during the epoch); per step ``step_loss``.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from . import backend
from . import validation as V
from .init import as_generator
from .layers import BatchNorm1d, eval_mode, modules
from .validation import NonFiniteError

__all__ = ["Trainer", "History", "EarlyStopping", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and the step."""


# ----------------------------------------------------------------------------- History


class History:
    """What a :meth:`Trainer.fit` recorded.

    Per epoch (lists of floats, one entry per completed epoch): ``train_loss``,
    ``train_acc``, ``val_loss``, ``val_acc``, ``lr``; a list stays empty when its value
    does not exist (no validation set, a loss without accuracy, a rule without ``.lr``).
    Per step: ``step_loss``. ``best_epoch`` is the 0-based epoch with the best
    monitored value (early stopping's, else the lowest ``val_loss``, else the lowest
    ``train_loss``); ``stopped_early`` tells whether training stopped before ``epochs``.
    """

    keys = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")

    def __init__(self):
        self.train_loss: list[float] = []
        self.train_acc: list[float] = []
        self.val_loss: list[float] = []
        self.val_acc: list[float] = []
        self.lr: list[float] = []
        self.step_loss: list[float] = []
        self.best_epoch: int | None = None
        self.stopped_early = False

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def __len__(self):
        return self.epochs

    def _append(self, logs: dict):
        for k in self.keys:
            if logs[k] is not None:
                getattr(self, k).append(logs[k])

    def plot(self, ax=None):
        """Training curves (``nncourse.viz.training_curves``): loss, and accuracy when
        recorded, per epoch, with the best epoch marked. Returns the Figure."""
        from .viz import training_curves  # noqa: PLC0415  (matplotlib only when plotting)

        return training_curves(self, ax=ax)

    def __repr__(self):
        last = ""
        if self.epochs:
            last = f", last train_loss={self.train_loss[-1]:.4g}"
            if self.val_loss:
                last += f", val_loss={self.val_loss[-1]:.4g}"
        return (
            f"History(epochs={self.epochs}{last}, best_epoch={self.best_epoch}, "
            f"stopped_early={self.stopped_early})"
        )


# ----------------------------------------------------------------------------- early stopping


def _snapshot(model) -> dict:
    """Copies of the model's weights (and buffers), through ``state_dict`` when it has one."""
    if hasattr(model, "state_dict"):
        return model.state_dict()
    return {p.name: p.data.copy() for p in model.parameters()}


def _restore(model, state: dict):
    if hasattr(model, "load_state_dict"):
        model.load_state_dict(state)
    else:
        for p in model.parameters():
            p.data[...] = state[p.name]


class EarlyStopping:
    """Stop when the monitored validation metric stops improving (the notes: "stop
    training when validation set error increases"), and go back to the best weights.

    ``monitor`` is ``'val_loss'`` (lower is better) or ``'val_acc'`` (higher is better);
    ``'train_loss'``/``'train_acc'`` also work. An epoch improves when it beats the best
    value so far by more than ``min_delta``. Training stops after ``patience`` epochs in
    a row without improvement; with ``restore_best`` the weights of the best epoch are
    loaded back (via ``state_dict``) when training ends.
    """

    def __init__(self, patience=5, monitor="val_loss", min_delta=0.0, restore_best=True):
        V.choice("EarlyStopping", "monitor", monitor, History.keys[:4])
        self.patience = V.positive_int("EarlyStopping", "patience", patience)
        self.monitor = monitor
        self.min_delta = V.real("EarlyStopping", "min_delta", min_delta, low=0)
        self.restore_best = V.boolean("EarlyStopping", "restore_best", restore_best)
        self.mode = "max" if monitor.endswith("acc") else "min"
        self.reset()

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict | None = None
        self.wait = 0

    def update(self, model, epoch: int, logs: dict) -> bool:
        """Record epoch ``epoch``; return True when training should stop."""
        value = logs[self.monitor]
        if value is None:
            raise ValueError(
                f"EarlyStopping: nothing to monitor under {self.monitor!r} (the loss has no "
                "accuracy, or there is no validation set)"
            )
        better = (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = _snapshot(model)
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, model):
        if self.restore_best and self.best_state is not None:
            _restore(model, self.best_state)

    def __repr__(self):
        return (
            f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, "
            f"min_delta={self.min_delta}, restore_best={self.restore_best})"
        )


# ----------------------------------------------------------------------------- Trainer


def _as_data(what, a, dtype=None, where="Trainer.fit"):
    """``a`` as an array of the active backend (host data is moved once)."""
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError):  # ragged nested lists
            raise TypeError(f"{where}: expected {what} as an array, got {V.show(a)}") from None
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{where}: expected numeric {what}, got dtype {a.dtype}")
    if dtype is not None and a.dtype.kind == "f":
        return backend.asarray(a, dtype=dtype)
    return backend.asarray(a)


def _check_xy(X, y, who="X, y", width=None, where="Trainer.fit"):
    if X.ndim != 2:
        raise ValueError(
            f"{where}: expected {who.split(',')[0]} of shape (N, D), "
            f"got an array of shape {tuple(X.shape)}"
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"{where}: expected at least one example in {who}, got shape {tuple(X.shape)}"
        )
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{where}: expected targets of shape ({X.shape[0]},) or ({X.shape[0]}, K) "
            f"to match {X.shape[0]} examples, got shape {tuple(y.shape)} ({who})"
        )
    if width is not None and X.shape[1] != width:
        raise ValueError(
            f"{where}: expected validation inputs of width {width} like the training "
            f"set, got shape {tuple(X.shape)}"
        )
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and not np.isfinite(X).all():
        raise V.NonFiniteError(f"{where}: expected finite inputs, {who} contains NaN or inf")
    if isinstance(y, np.ndarray) and y.dtype.kind == "f" and not np.isfinite(y).all():
        raise V.NonFiniteError(
            f"{where}: expected finite targets, the targets of {who} contain "
            f"{int((~np.isfinite(y)).sum())} NaN/inf value(s) (check how they were made)"
        )


class Trainer:
    """Fit ``model`` by minimising ``loss`` with ``optimizer``.

    Parameters
    ----------
    model : a layer or ``Sequential`` (``forward``, ``backward``, ``parameters()``,
        ``train()``/``eval()``).
    loss : a loss object (``forward(scores, y) -> float``, ``backward()``, ``accuracy``).
    optimizer : an optimiser (``step()``, ``zero_grad()``, ``.lr``) or a callable update
        rule ``rule(params)`` (see the module docstring).
    batch_size : examples per step; ``None`` or >= N is full-batch, 1 is per-example SGD.
    epochs : passes over the training set.
    shuffle : reshuffle the training set every epoch (with ``rng``).
    rng : ``numpy.random.Generator`` or int seed; the same seed gives the same history.
    scheduler : learning-rate schedule, ``step()`` called once at the end of every epoch.
    regularizer : e.g. ``nncourse.regularization.L2(1e-4)``: ``penalty(model)`` is added
        to the loss and ``backward(model)`` to the gradients.
    early_stopping : an :class:`EarlyStopping`.
    callbacks : callables ``cb(trainer, epoch, logs)`` run at the end of each epoch;
        training stops when one returns True or sets ``trainer.stop_training = True``.
    progress : show a ``tqdm`` bar over epochs with the current loss/accuracy.
    drop_last : skip a last incomplete batch (useful with BatchNorm and N % batch_size == 1).
    """

    def __init__(
        self,
        model,
        loss,
        optimizer,
        batch_size=32,
        epochs=10,
        shuffle=True,
        rng=None,
        scheduler=None,
        regularizer=None,
        early_stopping=None,
        callbacks=(),
        progress=True,
        drop_last=False,
    ):
        if isinstance(model, type) or not (
            callable(getattr(model, "forward", None)) and callable(getattr(model, "backward", None))
        ):
            raise TypeError(
                f"Trainer: expected a model with forward() and backward(), got {V.show(model)}"
            )
        if isinstance(loss, type) or not callable(getattr(loss, "backward", None)):
            raise TypeError(
                f"Trainer: expected a loss object with forward() and backward(), got {V.show(loss)}"
            )
        is_opt = callable(getattr(optimizer, "step", None))
        if isinstance(optimizer, type) or (not is_opt and not callable(optimizer)):
            raise TypeError(
                "Trainer: expected an optimizer with step()/zero_grad() or a callable "
                f"update rule rule(params), got {V.show(optimizer)}"
            )
        if batch_size is not None:
            V.positive_int("Trainer", "batch_size (or None)", batch_size)
        epochs = V.integer("Trainer", "epochs", epochs, low=0)
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.batch_size = None if batch_size is None else int(batch_size)
        self.epochs = epochs
        self.shuffle = V.boolean("Trainer", "shuffle", shuffle)
        self.rng = as_generator(rng, who="Trainer")
        self.scheduler, self.regularizer = scheduler, regularizer
        self.early_stopping = early_stopping
        if not hasattr(callbacks, "__iter__") or isinstance(callbacks, str):
            raise TypeError(
                f"Trainer: expected callbacks as a list of callables, got {V.show(callbacks)}"
            )
        self.callbacks = tuple(callbacks)
        self._check_components("Trainer")
        self.progress = V.boolean("Trainer", "progress", progress)
        self.drop_last = V.boolean("Trainer", "drop_last", drop_last)
        self.stop_training = False
        self.history: History | None = None

    # -- checks ---------------------------------------------------------------------
    def _check_components(self, who):
        """The parts called during training have the methods the loop calls."""
        sched, reg, es = self.scheduler, self.regularizer, self.early_stopping
        if sched is not None and not callable(getattr(sched, "step", None)):
            raise TypeError(
                f"{who}: expected scheduler as a schedule with step() (e.g. "
                f"StepLR(optimizer, 10)) or None, got {V.show(sched)}"
            )
        if reg is not None and not (
            callable(getattr(reg, "penalty", None)) and callable(getattr(reg, "backward", None))
        ):
            raise TypeError(
                f"{who}: expected regularizer with penalty(model) and backward(model) (e.g. "
                f"L2(1e-4)) or None, got {V.show(reg)}"
            )
        if es is not None and not isinstance(es, EarlyStopping):
            raise TypeError(f"{who}: expected early_stopping=EarlyStopping(...), got {es!r}")
        for k, cb in enumerate(self.callbacks):
            if not callable(cb) or isinstance(cb, type):
                raise TypeError(
                    f"{who}: expected callbacks as callables cb(trainer, epoch, logs), "
                    f"callback {k} is {V.show(cb)}"
                )

    def _probe(self, X, y, who, where="Trainer.fit"):
        """Run the model on two examples in eval mode (no buffer, rng or weight changes)
        and the loss's ``check`` on *all* targets against zero scores: shapes, dtypes and
        label ranges of the whole set are checked before the first step, not at the batch
        where they fail. (A loss without ``check`` is left to fail where it fails.)
        Returns the scores of the two examples."""
        try:
            with eval_mode(self.model):
                out = self.model.forward(X[:2])
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where}: the model rejected {who.split(',')[0]}: {err}") from err
        if not (hasattr(out, "shape") and hasattr(out, "dtype")):
            raise TypeError(
                f"{where}: expected model.forward to return an array, got {V.show(out)}"
            )
        check = getattr(self.loss, "check", None)
        if not callable(check) or out.dtype.kind != "f":
            return out
        xp = backend.get_array_module(out)
        zeros = xp.broadcast_to(xp.zeros((1, *out.shape[1:]), out.dtype), (len(y), *out.shape[1:]))
        try:
            check(zeros, y)
        except (TypeError, ValueError) as err:
            raise type(err)(
                f"{where}: the model outputs and the targets of {who} do not fit the loss: {err}"
            ) from None
        return out

    def _check_batches(self, n, bs):
        """BatchNorm in training cannot normalise a batch of one example."""
        sizes = {min(bs, n - i) for i in range(0, n, bs)}
        if self.drop_last and n > bs:
            sizes = {bs}
        if 1 not in sizes:
            return
        if any(isinstance(m, BatchNorm1d) and m.training for m in modules(self.model)):
            raise ValueError(
                f"Trainer.fit: with N={n} and batch_size={self.batch_size} a batch holds a "
                "single example, which BatchNorm1d cannot normalise in training; pass "
                "drop_last=True or choose another batch_size"
            )

    # -- helpers ------------------------------------------------------------------
    def _has_accuracy(self, scores, y) -> bool:
        """Whether the loss gives an accuracy for these scores (``accuracy`` is not None)."""
        accuracy = getattr(self.loss, "accuracy", None)
        return callable(accuracy) and accuracy(scores, y[: len(scores)]) is not None

    def _lr(self) -> float | None:
        lr = getattr(self.optimizer, "lr", None)
        return float(lr) if isinstance(lr, numbers.Real) else None

    def _model_dtype(self):
        dtype = getattr(self.model, "dtype", None)
        return dtype if dtype is not None and np.dtype(dtype).kind == "f" else None

    def _prepare(self, X, y, who, width=None, where="Trainer.fit"):
        """Check shapes and move the data to the active backend, once, in the model's dtype."""
        dtype = self._model_dtype()
        X = _as_data(who.split(",")[0], X, dtype, where)
        y = _as_data("targets", y, dtype, where)
        _check_xy(X, y, who, width, where)
        return X, y

    # -- the loop -----------------------------------------------------------------
    def fit(self, X, y, val=None) -> History:
        """Train on ``X`` (N, D) with targets ``y`` ((N,) labels or (N, K) targets).

        ``val=(X_val, y_val)`` is evaluated after every epoch. Returns the
        :class:`History` (also kept as ``self.history``). Everything is checked before
        the first step, so a bad argument leaves the model untouched.
        """
        X, y, val = self._check_fit(X, y, val)
        es = self.early_stopping
        if es is not None:
            es.reset()
        run = _Run(self, X, y)
        history = self.history = History()
        self.stop_training = False
        bar = None
        if self.progress and self.epochs:
            from tqdm.auto import tqdm  # noqa: PLC0415  (only when a bar is wanted)

            bar = tqdm(total=self.epochs, desc="Trainer.fit", unit="epoch", leave=True)
        try:
            for epoch in range(self.epochs):
                logs = self._epoch(run, epoch)
                history.step_loss.extend(run.last_losses)
                if val is not None:
                    ev = self._evaluate(*val)
                    logs["val_loss"], logs["val_acc"] = ev["loss"], ev["acc"]
                history._append(logs)
                if self.scheduler is not None:
                    self.scheduler.step()
                stop = es is not None and es.update(self.model, epoch, logs)
                for cb in self.callbacks:
                    if cb(self, epoch, logs) is True:
                        self.stop_training = True
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(_postfix(logs), refresh=True)
                if stop or self.stop_training:
                    history.stopped_early = epoch + 1 < self.epochs
                    break
        finally:
            if bar is not None:
                bar.close()

        if es is not None and es.best_epoch is not None:
            es.restore(self.model)
            history.best_epoch = es.best_epoch
        elif history.epochs:
            series = history.val_loss if val is not None else history.train_loss
            history.best_epoch = int(np.argmin(series))
        return history

    def _check_fit(self, X, y, val):
        """Every check of ``fit``, before anything changes; returns the prepared data."""
        self._check_components("Trainer.fit")
        X, y = self._prepare(X, y, "X, y")
        scores = self._probe(X, y, "X, y")
        if val is not None:
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise TypeError(
                    f"Trainer.fit: expected val=(X_val, y_val), got {type(val).__name__}"
                )
            Xv, yv = self._prepare(val[0], val[1], "X_val, y_val", width=X.shape[1])
            if yv.shape[1:] != y.shape[1:]:
                raise ValueError(
                    f"Trainer.fit: expected validation targets of shape {('M', *y.shape[1:])} "
                    f"like the training targets {tuple(y.shape)}, got {tuple(yv.shape)}"
                )
            self._probe(Xv, yv, "val")
            val = (Xv, yv)
        es = self.early_stopping
        if es is not None and es.monitor.startswith("val") and val is None:
            raise ValueError(
                f"Trainer.fit: early stopping monitors {es.monitor!r} but no validation "
                "set was given; pass val=(X_val, y_val)"
            )
        if es is not None and es.monitor.endswith("acc") and not self._has_accuracy(scores, y):
            raise ValueError(
                f"Trainer.fit: early stopping monitors {es.monitor!r} but the loss "
                f"{self.loss!r} has no accuracy (a regression loss); monitor "
                f"'{es.monitor[:-3]}loss' or use a classification loss"
            )
        n = X.shape[0]
        self._check_batches(n, n if self.batch_size is None else min(self.batch_size, n))
        return X, y, val

    def _epoch(self, run, epoch) -> dict:
        """One pass over the (reshuffled) training set; returns the epoch's logs.

        Per step: forward, loss (+ penalty), backward, penalty gradient, update. The
        loss is read through ``run.guard`` (see :class:`_DivergenceGuard`)."""
        model, loss_fn, reg = self.model, self.loss, self.regularizer
        model.train()
        X, y, bs, xp = run.X, run.y, run.bs, run.xp
        if self.shuffle and bs < run.n:
            order = self.rng.permutation(run.n)
            if xp is not np:
                order = xp.asarray(order)
            X, y = X[order], y[order]  # one gather per epoch; batches are views
        lr = self._lr()
        step_losses = []
        for step, i in enumerate(run.stops):
            xb, yb = X[i : i + bs], y[i : i + bs]
            try:
                scores = model.forward(xb)
                lv = loss_fn.forward(scores, yb)
            except NonFiniteError:  # the scores overflowed: the weights diverged
                run.guard.diverged(epoch, step, "NaN/inf")
            if reg is not None:
                lv = lv + reg.penalty(model)
            run.guard.check(epoch, step, lv)  # on the host: before the update
            run.backward(loss_fn.backward())
            if reg is not None:
                reg.backward(model)
            run.update()
            step_losses.append(lv)
            if run.score_buf is None and epoch == 0 and step == 0:
                if loss_fn.accuracy(scores, yb) is not None:
                    run.score_buf = xp.empty((run.n_seen, *scores.shape[1:]), scores.dtype)
            if run.score_buf is not None:
                run.score_buf[i : i + bs] = scores
        losses = run.last_losses = run.guard.end_epoch(epoch, step_losses)
        sizes = [min(bs, run.n_seen - k * bs) for k in range(len(losses))]
        train_acc = None
        if run.score_buf is not None:  # accuracy of the scores as seen during the epoch
            train_acc = float(loss_fn.accuracy(run.score_buf, y[: run.n_seen]))
        return {
            "epoch": epoch,
            "train_loss": float(np.dot(losses, sizes) / run.n_seen),
            "train_acc": train_acc,
            "val_loss": None,
            "val_acc": None,
            "lr": lr,
        }

    def evaluate(self, X, y, batch_size=4096) -> dict:
        """Data loss and accuracy on ``(X, y)`` in eval mode (the previous mode is restored).

        Returns ``{'loss': float, 'acc': float or None}``; the loss is the mean over the
        examples, without the regularisation penalty. Runs in chunks of ``batch_size``.
        """
        batch_size = V.positive_int("Trainer.evaluate", "batch_size", batch_size)
        X, y = self._prepare(X, y, "X, y", where="Trainer.evaluate")
        self._probe(X, y, "X, y", where="Trainer.evaluate")
        return self._evaluate(X, y, batch_size)

    def _evaluate(self, X, y, batch_size=4096) -> dict:
        model, loss_fn, n = self.model, self.loss, X.shape[0]
        with eval_mode(model):
            total, hits, has_acc = 0.0, 0.0, True
            for i in range(0, n, batch_size):
                xb, yb = X[i : i + batch_size], y[i : i + batch_size]
                scores = model.forward(xb)
                total += float(loss_fn.forward(scores, yb)) * xb.shape[0]
                acc = loss_fn.accuracy(scores, yb) if has_acc else None
                if acc is None:
                    has_acc = False
                else:
                    hits += acc * xb.shape[0]
        return {"loss": total / n, "acc": hits / n if has_acc else None}

    def __repr__(self):
        return (
            f"Trainer(model={type(self.model).__name__}, loss={self.loss!r}, "
            f"batch_size={self.batch_size}, epochs={self.epochs})"
        )


class _Run:
    """What one ``fit`` call works with: the data, the batching, the update and the guard."""

    def __init__(self, trainer, X, y):
        self.X, self.y, self.n = X, y, X.shape[0]
        bs = self.n if trainer.batch_size is None else min(trainer.batch_size, self.n)
        drop = self.n % bs if trainer.drop_last and self.n > bs else 0
        self.bs, self.stops = bs, range(0, self.n - drop, bs)
        self.n_seen = self.stops[-1] + min(bs, self.n - self.stops[-1])  # per epoch
        self.xp = backend.get_array_module(X)
        model, opt = trainer.model, trainer.optimizer
        params = list(model.parameters())
        # A Linear (or Sequential starting with one) can skip dL/dx, which only the
        # data would receive: part of the layer protocol (layers.skips_input_grad).
        self.backward = model.backward
        if getattr(model.backward, "can_skip_input_grad", False):
            self.backward = functools.partial(model.backward, input_grad=False)
        # No zero_grad() in the loop: in this library backward() *overwrites* the
        # gradients (it does not accumulate as PyTorch does), so zeroing is wasted work.
        self.update = opt.step if callable(getattr(opt, "step", None)) else lambda: opt(params)
        self.guard = _DivergenceGuard(trainer, params, per_step=self.xp is np)
        self.score_buf = None  # the epoch's scores, for one accuracy call per epoch
        self.last_losses: list[float] = []


class _DivergenceGuard:
    """One divergence strategy for host and GPU: keep the last weights known to give a
    finite loss, and when the loss stops being finite put them back and raise
    :class:`TrainingDiverged` naming the epoch and step.

    The loss is read where reading it is free: after every step on the host (the
    snapshot is then the weights before the last update), once per epoch on a GPU, where
    each read is a device-to-host sync (the snapshot is then the weights of the start of
    the epoch). The weights are only put back when they are no longer finite.
    """

    def __init__(self, trainer, params, per_step):
        self.trainer, self.params, self.per_step = trainer, params, per_step
        self.saved = [p.data.copy() for p in params]
        self.saved_at = None  # (epoch, step) of the update the snapshot precedes
        self.xp = backend.get_array_module(self.saved[0]) if self.saved else np

    def _save(self, where):  # where: (epoch, step), or (epoch, None) for an epoch start
        copyto = self.xp.copyto
        for saved, p in zip(self.saved, self.params):
            copyto(saved, p.data)
        self.saved_at = where

    def check(self, epoch, step, loss):
        """Called after the loss of a step, before its update."""
        if self.per_step:
            if not math.isfinite(loss):
                self.diverged(epoch, step, loss)
            self._save((epoch, step))

    def end_epoch(self, epoch, step_losses) -> list[float]:
        """The epoch's step losses as floats (one device read on a GPU), checked."""
        if self.per_step:
            return [float(v) for v in step_losses]
        xp = backend.get_array_module(step_losses[0])
        losses = backend.to_numpy(xp.stack(step_losses)).astype(float).tolist()
        bad = [k for k, v in enumerate(losses) if not math.isfinite(v)]
        if bad:
            self.diverged(epoch, bad[0], losses[bad[0]])
        self._save((epoch + 1, None))
        return losses

    def _where(self) -> str:
        if self.saved_at is None:
            return "the start of training"
        epoch, step = self.saved_at
        return (
            f"epoch {epoch + 1}"
            if step is None
            else f"the update of epoch {epoch + 1}, step {step + 1}"
        )

    def diverged(self, epoch, step, value):
        if not all(_finite(p.data) for p in self.params):
            for p, saved in zip(self.params, self.saved):
                p.data[...] = saved
            kept = f"the weights from before {self._where()} were put back"
        else:
            kept = "the model keeps its last weights (still finite)"
        t = self.trainer
        raise TrainingDiverged(
            f"Trainer.fit: the loss became {value} at epoch {epoch + 1}, step {step + 1} (of "
            f"{t.epochs} epochs); training diverged. Try a smaller learning rate"
            f"{_now(t._lr())}; {kept}."
        )


def _finite(a) -> bool:
    return bool(backend.get_array_module(a).isfinite(a).all())


def _postfix(logs: dict) -> dict:
    out = {"loss": f"{logs['train_loss']:.4g}"}
    for k in ("train_acc", "val_loss", "val_acc"):
        if logs[k] is not None:
            out[k.replace("train_", "")] = f"{logs[k]:.4g}"
    return out


def _now(lr) -> str:
    return "" if lr is None else f" (now lr={lr:.3g})"
