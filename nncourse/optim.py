"""Optimisers and learning-rate schedules, with ``torch.optim``'s names, defaults and rules.

An optimiser receives the parameter objects of a model (``model.parameters()``): each has
``name`` (e.g. ``"0.W"``), ``data`` (the layer's array, updated *in place* so the layer sees
it) and ``grad`` (an array of the same shape, or ``None``: no gradient this step, skipped).
Arrays may be NumPy or CuPy; state buffers live where the parameter lives and have its dtype.

Update rules, with ``g`` the gradient, ``p`` the parameter, ``t`` the step count (from 1)::

    weight decay (all):  g <- g + weight_decay * p              (L2 added to the gradient)
    SGD:        b <- g if t == 1 else momentum * b + (1 - dampening) * g
                g <- g + momentum * b  (nesterov)  or  g <- b  (momentum > 0)
                p <- p - lr * g
    Adagrad:    s <- s + g^2                       (s starts at initial_accumulator_value)
                p <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    RMSprop:    v <- alpha * v + (1 - alpha) * g^2
                centered: a <- alpha * a + (1 - alpha) * g;  v~ = v - a^2   (else v~ = v)
                momentum > 0: b <- momentum * b + g / (sqrt(v~) + eps);  p <- p - lr * b
                otherwise:    p <- p - lr * g / (sqrt(v~) + eps)
    Adam:       m <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g^2
                amsgrad: v_max <- max(v_max, v) and v_max replaces v below
                p <- p - lr * m_hat / (sqrt(v_hat) + eps),
                with m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)
    Adadelta:   v <- rho * v + (1 - rho) * g^2
                d <- sqrt(u + eps) / sqrt(v + eps) * g;   u <- rho * u + (1 - rho) * d^2
                p <- p - lr * d

Implementation note: every step works in place (``out=`` and augmented assignment) on buffers
allocated once per parameter, so a step allocates no new arrays; ``p.grad`` is never modified.
The names of the state entries are torch's (``momentum_buffer``, ``exp_avg``, ...).

Schedules (``StepLR``, ``ExponentialLR``, ``InverseTimeLR``) wrap an optimiser, are stepped once
per epoch and set ``optimizer.lr`` from the closed form of their epoch count ``last_epoch``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy

from nncourse import validation as V
from nncourse.backend import get_array_module, to_numpy

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "Adadelta",
    "LRScheduler",
    "StepLR",
    "ExponentialLR",
    "InverseTimeLR",
]


def _is_array(a) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype")


def _array_like(v, data):
    """A copy of array ``v`` with ``data``'s dtype, on ``data``'s device (NumPy or CuPy)."""
    xp = get_array_module(data)
    return xp.array(to_numpy(v) if xp is numpy else v, dtype=data.dtype, copy=True)


class Optimizer(ABC):
    """Base class: holds the parameters, their per-parameter state and the hyper-parameters.

    Subclasses set ``defaults`` (hyper-parameter name -> value, in signature order), check
    them in ``_validate`` and implement ``_update(data, grad, state, scratch)`` for one
    parameter. ``state`` is the saved per-parameter state (``state_dict``); ``scratch`` holds
    work buffers that are not saved.
    """

    def __init__(self, params, defaults: dict):
        cls = type(self).__name__
        if _is_array(params) or isinstance(params, dict) or not hasattr(params, "__iter__"):
            raise TypeError(
                f"{cls}: expected an iterable of parameter objects with .data and .grad "
                f"(e.g. model.parameters()), got {type(params).__name__}"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{cls}: got an empty parameter list")
        seen = set()
        for i, p in enumerate(self.params):
            if not (hasattr(p, "data") and hasattr(p, "grad")) or not _is_array(p.data):
                raise TypeError(
                    f"{cls}: parameter {i} ({type(p).__name__}) is not a parameter object "
                    f"with an array .data and a .grad; pass model.parameters()"
                )
            if numpy.dtype(p.data.dtype).kind != "f":
                raise TypeError(
                    f"{cls}: parameter {self._name(i)} must have a floating dtype, "
                    f"got {p.data.dtype}"
                )
            if id(p.data) in seen:
                raise ValueError(f"{cls}: parameter {self._name(i)} appears more than once")
            seen.add(id(p.data))
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state: list[dict] = [{} for _ in self.params]
        self._scratch: list[dict] = [{} for _ in self.params]

    # -- hyper-parameters ------------------------------------------------------
    @property
    def lr(self) -> float:
        """The current learning rate (schedules set it; ``opt.lr = 0.01`` works too)."""
        return self.defaults["lr"]

    @lr.setter
    def lr(self, value):
        V.real(f"{type(self).__name__}.lr", "lr", value, low=0)
        self.defaults["lr"] = float(value)

    _flags = ("nesterov", "centered", "amsgrad")  # the boolean hyper-parameters
    # bounds of the numeric hyper-parameters (any other number only has to be finite)
    _ranges = {
        "lr": dict(low=0),
        "eps": dict(low=0),
        "weight_decay": dict(low=0),
        "momentum": dict(low=0),
        "lr_decay": dict(low=0),
        "initial_accumulator_value": dict(low=0),
        "alpha": dict(low=0, high=1),
        "rho": dict(low=0, high=1),
    }

    def _validate(self, hp: dict):
        """Raise TypeError/ValueError for an invalid hyper-parameter (subclasses extend)."""
        for key, value in hp.items():
            if key in self._flags:
                V.boolean(self, key, value)
            elif key != "betas":
                V.real(self, key, value, **self._ranges.get(key, {}))

    def _name(self, i) -> str:
        return repr(getattr(self.params[i], "name", str(i)))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({args})"

    # -- the step ------------------------------------------------------------------
    def step(self):
        """Update every parameter that has a gradient, in place.

        All gradients are checked first (an array of the parameter's shape and a real
        dtype), so a bad one leaves every parameter and counter as it was."""
        work = self._checked_grads()
        self._refuse_decay_before_backward(work)
        for i, data, grad in work:
            tmp = self._scratch[i].get("tmp")
            if tmp is None or tmp.dtype != data.dtype or type(tmp) is not type(data):
                self._follow(i, data)  # first step, or the model moved (astype, device)
            state, scratch = self.state[i], self._scratch[i]
            state["step"] = state.get("step", 0) + 1
            self._update(data, grad, state, scratch)

    def _checked_grads(self):
        """[(index, data, grad)] for the parameters with a gradient, after checking each."""
        who = f"{type(self).__name__}.step"
        work = []
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            data = p.data
            # the common case (an array of the parameter's own type) costs two
            # attribute reads; anything else gets the full checks
            if type(grad) is not type(data) and (
                not _is_array(grad) or get_array_module(grad) is not get_array_module(data)
            ):
                if not _is_array(grad):
                    raise TypeError(
                        f"{who}: expected the gradient of parameter {self._name(i)} as an array "
                        f"of shape {data.shape}, got {V.show(grad)}"
                    )
                raise TypeError(
                    f"{who}: the gradient of parameter {self._name(i)} lives on another "
                    f"device ({type(grad).__module__}) than the parameter "
                    f"({type(data).__module__})"
                )
            if grad.dtype.kind not in "fiu":
                raise TypeError(
                    f"{who}: expected the gradient of parameter {self._name(i)} with a real "
                    f"dtype, got dtype {grad.dtype}"
                )
            if grad.shape != data.shape:
                raise ValueError(
                    f"{who}: gradient of parameter {self._name(i)} has "
                    f"shape {grad.shape}, expected {data.shape}"
                )
            work.append((i, data, grad))
        return work

    def _refuse_decay_before_backward(self, work):
        """A first step on all-zero gradients is a step before any backward ran (layers
        start with zero gradients): with weight decay it would shrink every weight
        without a single example, silently. Refused, before anything changes."""
        decay = self.defaults.get("weight_decay", 0)
        if not decay or not work or any(self.state):
            return
        if any(bool(grad.any()) for _, _, grad in work):
            return
        raise ValueError(
            f"{type(self).__name__}.step: expected gradients from a backward pass, got all "
            f"zeros before the first step; call model.backward(loss.backward()) before "
            f"step() (with weight_decay={decay} this step would only shrink the weights)"
        )

    @abstractmethod
    def _update(self, data, grad, state, scratch):
        """Update one parameter ``data`` in place from ``grad`` (each optimiser's rule)."""

    def zero_grad(self):
        """Set every existing gradient to zero, in place."""
        for p in self.params:
            if p.grad is not None:
                p.grad.fill(0)

    def _follow(self, i, data):
        """(Re)allocate parameter ``i``'s work buffers like ``data``; move its state there."""
        state = self.state[i]
        for k, v in state.items():
            if _is_array(v):
                state[k] = _array_like(v, data)
        self._scratch[i] = {"tmp": get_array_module(data).empty_like(data)}

    @staticmethod
    def _buffer(store, key, data, fill=0.0):
        """``store[key]``, allocated like ``data`` and filled with ``fill`` on first use."""
        buf = store.get(key)
        if buf is None:
            buf = store[key] = get_array_module(data).full_like(data, fill)
        return buf

    def _grad_with_decay(self, data, grad, scratch, weight_decay):
        """``grad + weight_decay * data`` in a work buffer (``p.grad`` is left untouched)."""
        if weight_decay == 0:
            return grad
        xp = get_array_module(data)
        out = self._buffer(scratch, "decayed_grad", data)
        xp.multiply(data, weight_decay, out=out)
        out += grad
        return out

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A copy of the optimiser's state, laid out as torch's.

        ``{"state": {index: {"step": int, buffer name: array}}, "param_groups": [{hyper-
        parameters..., "params": [0, 1, ...]}]}``; arrays are copies, so later steps do
        not change a saved dict.
        """
        state = {
            i: {k: (v.copy() if _is_array(v) else v) for k, v in s.items()}
            for i, s in enumerate(self.state)
            if s
        }
        group = dict(self.defaults, params=list(range(len(self.params))))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict):
        """Restore hyper-parameters and state saved by ``state_dict`` (arrays are copied)."""
        cls = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{cls}.load_state_dict: expected a dict as from state_dict(), got "
                f"{V.show(state_dict)}"
            )
        try:
            (group,) = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{cls}.load_state_dict: expected a dict with 'state' and one 'param_groups' "
                f"entry, as returned by state_dict()"
            ) from None
        if not isinstance(group, dict) or not isinstance(saved_state, dict):
            raise TypeError(
                f"{cls}.load_state_dict: expected dicts under 'state' and 'param_groups', got "
                f"{type(saved_state).__name__} and {type(group).__name__}"
            )
        group = self._checked_group(group)
        new_state = self._checked_state(saved_state)
        self.defaults = {k: group[k] for k in self.defaults}
        self.state = new_state
        self._scratch = [{} for _ in self.params]

    def _checked_group(self, group) -> dict:
        """The saved hyper-parameters, for as many parameters as this optimiser has."""
        cls = type(self).__name__
        group = dict(group)
        indices = group.pop("params", None)
        if indices != list(range(len(self.params))):
            raise ValueError(
                f"{cls}.load_state_dict: saved for {len(indices or [])} parameters, "
                f"this optimiser has {len(self.params)}"
            )
        if set(group) != set(self.defaults):
            raise ValueError(
                f"{cls}.load_state_dict: expected hyper-parameters {sorted(self.defaults)}, "
                f"got {sorted(group)}"
            )
        self._validate(group)
        return group

    def _checked_state(self, saved_state) -> list[dict]:
        """The saved per-parameter state as new arrays on each parameter's device."""
        cls = type(self).__name__
        new_state = [{} for _ in self.params]
        for i, saved in saved_state.items():
            if isinstance(i, bool) or not isinstance(i, int | numpy.integer):
                raise TypeError(f"{cls}.load_state_dict: expected int state keys, got {i!r}")
            if not 0 <= i < len(self.params) or not isinstance(saved, dict):
                raise ValueError(
                    f"{cls}.load_state_dict: expected state entries {{index: dict}} with an "
                    f"index in 0..{len(self.params) - 1}, got {i!r}: {V.show(saved)}"
                )
            data = self.params[int(i)].data
            for k, v in saved.items():
                where = f"state {k!r} of parameter {self._name(int(i))}"
                if k == "step":
                    V.positive_int(f"{cls}.load_state_dict", f"{where} (a step count)", v)
                elif not _is_array(v) or numpy.dtype(v.dtype).kind not in "fi":
                    raise TypeError(
                        f"{cls}.load_state_dict: expected {where} as a real array of shape "
                        f"{data.shape}, got {V.show(v)}"
                    )
                elif tuple(v.shape) != data.shape:
                    raise ValueError(
                        f"{cls}.load_state_dict: {where}"
                        f" has shape {tuple(v.shape)}, expected {data.shape}"
                    )
                else:
                    v = _array_like(v, data)
                new_state[int(i)][k] = v
        return new_state


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    State per parameter: ``momentum_buffer`` (when ``momentum > 0``).
    """

    def __init__(self, params, lr, momentum=0, dampening=0, nesterov=False, weight_decay=0):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )
        super().__init__(params, defaults)

    def _validate(self, hp):
        super()._validate(hp)
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True requires momentum > 0 and dampening=0, got "
                f"momentum={hp['momentum']!r}, dampening={hp['dampening']!r}"
            )

    def _update(self, data, grad, state, scratch):
        hp = self.defaults
        xp = get_array_module(data)
        lr, momentum = hp["lr"], hp["momentum"]
        tmp = scratch["tmp"]
        g = self._grad_with_decay(data, grad, scratch, hp["weight_decay"])
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # first step: b = g
                buf = state["momentum_buffer"] = g.copy()
            else:  # b = momentum * b + (1 - dampening) * g
                buf *= momentum
                if hp["dampening"] == 0:
                    buf += g
                else:
                    xp.multiply(g, 1 - hp["dampening"], out=tmp)
                    buf += tmp
            if hp["nesterov"]:  # g = g + momentum * b
                xp.multiply(buf, momentum, out=tmp)
                tmp += g
                g = tmp
            else:
                g = buf
        xp.multiply(g, lr, out=tmp)
        data -= tmp


class Adagrad(Optimizer):
    """Adagrad (per-coordinate rates from the sum of squared gradients), as ``torch.optim``.

    State per parameter: ``step``, ``sum``.
    """

    def __init__(
        self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        super().__init__(params, defaults)

    def _update(self, data, grad, state, scratch):
        hp = self.defaults
        xp = get_array_module(data)
        tmp = scratch["tmp"]
        g = self._grad_with_decay(data, grad, scratch, hp["weight_decay"])
        clr = hp["lr"] / (1 + (state["step"] - 1) * hp["lr_decay"])
        total = self._buffer(state, "sum", data, hp["initial_accumulator_value"])
        xp.multiply(g, g, out=tmp)
        total += tmp  # s = s + g^2
        xp.sqrt(total, out=tmp)
        tmp += hp["eps"]
        xp.divide(g, tmp, out=tmp)  # g / (sqrt(s) + eps)
        tmp *= clr
        data -= tmp


class RMSprop(Optimizer):
    """RMSprop (divide by a running RMS of the gradient), as ``torch.optim.RMSprop``.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).
    """

    def __init__(
        self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )
        super().__init__(params, defaults)

    def _update(self, data, grad, state, scratch):
        hp = self.defaults
        xp = get_array_module(data)
        alpha, tmp = hp["alpha"], scratch["tmp"]
        g = self._grad_with_decay(data, grad, scratch, hp["weight_decay"])
        square_avg = self._buffer(state, "square_avg", data)
        square_avg *= alpha
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - alpha
        square_avg += tmp  # v = alpha v + (1 - alpha) g^2
        if hp["centered"]:
            grad_avg = self._buffer(state, "grad_avg", data)
            grad_avg *= alpha
            xp.multiply(g, 1 - alpha, out=tmp)
            grad_avg += tmp  # a = alpha a + (1 - alpha) g
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(square_avg, tmp, out=tmp)  # v - a^2
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(square_avg, out=tmp)
        tmp += hp["eps"]
        xp.divide(g, tmp, out=tmp)  # g / (sqrt(v~) + eps)
        if hp["momentum"] > 0:
            buf = self._buffer(state, "momentum_buffer", data)
            buf *= hp["momentum"]
            buf += tmp
            xp.multiply(buf, hp["lr"], out=tmp)
        else:
            tmp *= hp["lr"]
        data -= tmp


class Adam(Optimizer):
    """Adam with bias correction (and optional AMSGrad), as ``torch.optim.Adam``.

    ``weight_decay`` is L2 added to the gradient (torch's Adam, not AdamW).
    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _validate(self, hp):
        super()._validate(hp)
        betas = hp["betas"]
        if not (isinstance(betas, tuple | list) and len(betas) == 2):
            raise TypeError(f"Adam: expected betas as a pair (beta1, beta2), got {V.show(betas)}")
        for k, beta in enumerate(betas):
            V.real(self, f"beta{k + 1}", beta, low=0, high=1, high_open=True)
        hp["betas"] = tuple(betas)

    def _update(self, data, grad, state, scratch):
        hp = self.defaults
        xp = get_array_module(data)
        (beta1, beta2), t, tmp = hp["betas"], state["step"], scratch["tmp"]
        g = self._grad_with_decay(data, grad, scratch, hp["weight_decay"])
        m = self._buffer(state, "exp_avg", data)
        v = self._buffer(state, "exp_avg_sq", data)
        m *= beta1
        xp.multiply(g, 1 - beta1, out=tmp)
        m += tmp  # m = beta1 m + (1 - beta1) g
        v *= beta2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v += tmp  # v = beta2 v + (1 - beta2) g^2
        if hp["amsgrad"]:
            v_max = self._buffer(state, "max_exp_avg_sq", data)
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        # lr * m_hat / (sqrt(v_hat) + eps), arranged as torch does it
        step_size = hp["lr"] / (1 - beta1**t)
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2**t)
        tmp += hp["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        data -= tmp


class Adadelta(Optimizer):
    """Adadelta (unit-correct steps from running averages), as ``torch.optim.Adadelta``.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _update(self, data, grad, state, scratch):
        hp = self.defaults
        xp = get_array_module(data)
        rho, eps, tmp = hp["rho"], hp["eps"], scratch["tmp"]
        delta = self._buffer(scratch, "delta", data)
        g = self._grad_with_decay(data, grad, scratch, hp["weight_decay"])
        square_avg = self._buffer(state, "square_avg", data)
        acc_delta = self._buffer(state, "acc_delta", data)
        square_avg *= rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        square_avg += tmp  # v = rho v + (1 - rho) g^2
        xp.add(square_avg, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)  # sqrt(v + eps)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        delta /= tmp
        delta *= g  # d = sqrt(u + eps) / sqrt(v + eps) * g
        acc_delta *= rho
        xp.multiply(delta, delta, out=tmp)
        tmp *= 1 - rho
        acc_delta += tmp  # u = rho u + (1 - rho) d^2
        delta *= hp["lr"]
        data -= delta


# -- learning-rate schedules -----------------------------------------------------------------


class LRScheduler(ABC):
    """Base class: sets ``optimizer.lr = lr_at(last_epoch)``, with ``last_epoch`` counted
    from 0 (at construction) and advanced by ``step()`` once per epoch.

    ``base_lr`` is the optimiser's learning rate when the schedule is made. Subclasses
    implement ``lr_at(t)`` in closed form.
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an nncourse.optim optimiser, "
                f"got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self.optimizer.lr = self._last_lr = self.lr_at(0)

    @abstractmethod
    def lr_at(self, t: int) -> float:
        """The learning rate after ``t`` epochs (each schedule's closed form)."""

    def step(self):
        """Advance one epoch and set the optimiser's learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self._last_lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last step, as a one-element list (as torch)."""
        return [self._last_lr]

    def state_dict(self) -> dict:
        return {"base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: dict):
        """Restore ``base_lr`` and ``last_epoch`` (both checked before either is set)."""
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"base_lr", "last_epoch"}:
            raise ValueError(
                f"{who}: expected a dict with the keys 'base_lr' and 'last_epoch' (as from "
                f"state_dict()), got {V.show(state_dict)}"
            )
        base_lr = V.real(who, "base_lr", state_dict["base_lr"], low=0)
        last_epoch = V.integer(who, "last_epoch", state_dict["last_epoch"], low=0)
        self.base_lr, self.last_epoch = base_lr, last_epoch
        self.optimizer.lr = self._last_lr = self.lr_at(self.last_epoch)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({args}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """``lr_t = base_lr * gamma ** (t // step_size)``: multiply by ``gamma`` every
    ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = V.positive_int("StepLR", "step_size", step_size)
        self.gamma = V.real("StepLR", "gamma", gamma, low=0, low_open=True)
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)

    def _hyper(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialLR(LRScheduler):
    """``lr_t = base_lr * gamma ** t``; ``ExponentialLR.from_decay_rate(opt, k)`` gives the
    notes' continuous form ``lr_t = base_lr * exp(-k t)`` (that is, ``gamma = exp(-k)``)."""

    def __init__(self, optimizer, gamma):
        self.gamma = V.real("ExponentialLR", "gamma", gamma, low=0, low_open=True)
        super().__init__(optimizer)

    @classmethod
    def from_decay_rate(cls, optimizer, k):
        """The schedule ``lr_t = base_lr * exp(-k * t)`` for a decay rate ``k >= 0``."""
        k = V.real("ExponentialLR.from_decay_rate", "k", k, low=0)
        return cls(optimizer, gamma=math.exp(-k))

    def lr_at(self, t):
        return self.base_lr * self.gamma**t

    def _hyper(self):
        return {"gamma": self.gamma}


class InverseTimeLR(LRScheduler):
    """``lr_t = base_lr * tau / max(t, tau)``: constant for ``tau`` epochs, then ~ 1/t."""

    def __init__(self, optimizer, tau):
        V.real("InverseTimeLR", "tau", tau, low=0, low_open=True)
        self.tau = tau
        super().__init__(optimizer)

    def lr_at(self, t):
        return self.base_lr * self.tau / max(t, self.tau)

    def _hyper(self):
        return {"tau": self.tau}
