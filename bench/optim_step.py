"""Micro-benchmark: one optimiser ``.step()`` versus a hand-written in-place NumPy update.

Parameters are shaped like a 784-512-256-10 MLP (W: (out, in), b: (out,)), float32.
Both sides run in the same process on the same arrays; the hand-written loops are the
fastest plain NumPy a person would write (in place, one scratch buffer per parameter).

    python bench/optim_step.py [--repeats 7] [--steps 50]

Prints the time per step of each and the speed ratio nncourse / hand-written
(1.00 = as fast; below 1 = nncourse is slower). Not a test.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from nncourse.optim import SGD, Adam

SIZES = [784, 512, 256, 10]
LR, MOMENTUM, BETAS, EPS = 1e-3, 0.9, (0.9, 0.999), 1e-8


class Param:
    """Minimal parameter object (name, data, grad), as ``model.parameters()`` yields."""

    def __init__(self, name, data, grad):
        self.name, self.data, self.grad = name, data, grad


def make_params(rng):
    params = []
    for k, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        for key, shape in (("W", (fan_out, fan_in)), ("b", (fan_out,))):
            data = rng.normal(scale=0.05, size=shape).astype(np.float32)
            grad = rng.normal(scale=0.01, size=shape).astype(np.float32)
            params.append(Param(f"{2 * k}.{key}", data, grad))
    return params


def hand_sgd(params):
    bufs = [np.zeros_like(p.data) for p in params]
    tmps = [np.empty_like(p.data) for p in params]

    def step():
        for p, b, tmp in zip(params, bufs, tmps):
            b *= MOMENTUM
            b += p.grad
            np.multiply(b, LR, out=tmp)
            p.data -= tmp

    return step


def hand_adam(params):
    ms = [np.zeros_like(p.data) for p in params]
    vs = [np.zeros_like(p.data) for p in params]
    tmps = [np.empty_like(p.data) for p in params]
    t = [0]
    b1, b2 = BETAS

    def step():
        t[0] += 1
        step_size = LR / (1 - b1 ** t[0])
        bc2 = math.sqrt(1 - b2 ** t[0])
        for p, m, v, tmp in zip(params, ms, vs, tmps):
            g = p.grad
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= bc2
            tmp += EPS
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p.data -= tmp

    return step


def median_time(step, steps, repeats):
    step()  # warm-up: allocates state
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n = sum(p.data.size for p in make_params(rng))
    print(f"parameters: {'-'.join(map(str, SIZES))} MLP, {n} float32 values")
    cases = [
        ("SGD momentum", lambda ps: SGD(ps, lr=LR, momentum=MOMENTUM).step, hand_sgd),
        ("Adam", lambda ps: Adam(ps, lr=LR, betas=BETAS, eps=EPS).step, hand_adam),
    ]
    for label, ours, hand in cases:
        # interleave the two so that machine noise hits both alike
        t_ours, t_hand = [], []
        for _ in range(3):
            t_ours.append(median_time(ours(make_params(rng)), args.steps, args.repeats))
            t_hand.append(median_time(hand(make_params(rng)), args.steps, args.repeats))
        a, b = min(t_ours), min(t_hand)
        print(
            f"{label:13s} nncourse {a * 1e3:7.3f} ms/step   hand-written {b * 1e3:7.3f} ms/step"
            f"   speed nncourse / hand-written {b / a:5.2f}x"
        )


if __name__ == "__main__":
    main()
