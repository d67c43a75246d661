"""Training throughput of one MLP three ways, in one process: ratios, not timings.

(a) nncourse: Sequential + SoftmaxCrossEntropyLoss + SGD(momentum=0.9), float32
(b) the same network as a plain hand-written vectorised NumPy loop (the reference)
(c) PyTorch CPU eager, when torch is importable

Each configuration is timed over several repetitions (alternating the contenders so
machine noise hits them alike) and the medians of samples/s are compared.

    .venv/bin/python bench/mlp_throughput.py [--reps 7] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nncourse.layers import Linear, ReLU, Sequential
from nncourse.losses import SoftmaxCrossEntropyLoss
from nncourse.optim import SGD

LR, MOMENTUM = 0.01, 0.9


def make_data(sizes, batch, steps, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch * steps, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch * steps)
    return X, y


def init_weights(sizes, seed=1):
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        b = np.sqrt(6.0 / (fan_in + fan_out))
        Ws.append(rng.uniform(-b, b, size=(fan_out, fan_in)).astype(np.float32))
        bs.append(np.zeros(fan_out, np.float32))
    return Ws, bs


def run_nncourse(sizes, X, y, batch):
    Ws, bs = init_weights(sizes)
    layers = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        lin = Linear(W.shape[1], W.shape[0])
        lin.params["W"][...] = W
        lin.params["b"][...] = b
        layers.append(lin)
        if i < len(Ws) - 1:
            layers.append(ReLU())
    model = Sequential(*layers)
    loss = SoftmaxCrossEntropyLoss()
    opt = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    t0 = time.perf_counter()
    for s in range(0, len(X), batch):
        xb, yb = X[s : s + batch], y[s : s + batch]
        loss(model(xb), yb)
        model.backward(loss.backward(), input_grad=False)  # as Trainer does (no zero_grad:
        # backward overwrites the gradients)
        opt.step()
    return len(X) / (time.perf_counter() - t0)


def run_numpy(sizes, X, y, batch):
    """What a careful student writes by hand: cached activations, in-place momentum."""
    Ws, bs = init_weights(sizes)
    vW = [np.zeros_like(W) for W in Ws]
    vb = [np.zeros_like(b) for b in bs]
    L = len(Ws)
    t0 = time.perf_counter()
    for s in range(0, len(X), batch):
        xb, yb = X[s : s + batch], y[s : s + batch]
        n = len(xb)
        acts = [xb]
        h = xb
        for i in range(L):
            h = h @ Ws[i].T + bs[i]
            if i < L - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        _ = -np.log(p[np.arange(n), yb]).mean()
        d = p
        d[np.arange(n), yb] -= 1
        d /= n
        for i in reversed(range(L)):
            gW = d.T @ acts[i]
            gb = d.sum(axis=0)
            if i > 0:
                d = (d @ Ws[i]) * (acts[i] > 0)
            vW[i] *= MOMENTUM
            vW[i] += gW
            vb[i] *= MOMENTUM
            vb[i] += gb
            Ws[i] -= LR * vW[i]
            bs[i] -= LR * vb[i]
    return len(X) / (time.perf_counter() - t0)


def run_torch(sizes, X, y, batch):
    import torch

    torch.manual_seed(0)
    Ws, bs = init_weights(sizes)
    mods = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(Ws) - 1:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    lossf = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    t0 = time.perf_counter()
    for s in range(0, len(X), batch):
        opt.zero_grad(set_to_none=False)
        lossf(model(Xt[s : s + batch]), yt[s : s + batch]).backward()
        opt.step()
    return len(X) / (time.perf_counter() - t0)


def bench(sizes, batch, steps, reps):
    X, y = make_data(sizes, batch, steps)
    contenders = {"nncourse": run_nncourse, "numpy (hand-written)": run_numpy}
    try:
        import torch

        torch.set_num_threads(max(1, torch.get_num_threads()))
        contenders["pytorch cpu"] = run_torch
    except ImportError:
        pass
    for fn in contenders.values():  # warm-up: caches, BLAS threads, first allocations
        fn(sizes, X[: batch * 3], y[: batch * 3], batch)
    rates = {k: [] for k in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            rates[name].append(fn(sizes, X, y, batch))
    med = {k: statistics.median(v) for k, v in rates.items()}
    arch = "-".join(map(str, sizes))
    print(f"\n{arch}, batch {batch}, {steps} steps x {reps} reps (median samples/s)")
    for k, v in med.items():
        print(f"  {k:22s} {v:12,.0f}")
    ref = med["numpy (hand-written)"]
    print(f"  nncourse / hand-written numpy = {med['nncourse'] / ref:.3f}")
    if "pytorch cpu" in med:
        print(f"  nncourse / pytorch cpu        = {med['nncourse'] / med['pytorch cpu']:.3f}")
    else:
        print("  pytorch cpu: not importable, skipped")
    return med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer steps (smoke run)")
    a = ap.parse_args(argv)
    k = 5 if a.quick else 1
    bench([784, 512, 256, 10], batch=256, steps=60 // k, reps=a.reps)
    bench([2, 16, 16, 2], batch=32, steps=2000 // k, reps=a.reps)


if __name__ == "__main__":
    main()
