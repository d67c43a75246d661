"""Benchmark: the Trainer against a hand-written loop on the bundled digits.

Trains the acceptance model (64-64-10 MLP, ReLU, Adam lr=3e-3, L2 1e-3, batch 32,
40 epochs, standardised inputs) twice from the same initial weights and the same
shuffling seed: once with ``nncourse.train.Trainer`` and once with the plain loop
written out below. Both must end with the same weights; the script reports the
wall time of each, their ratio and the test accuracy.

    python bench/digits_training.py [--epochs 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nncourse import layers as L
from nncourse import losses, optim, regularization
from nncourse.data import Standardizer, load_digits, train_val_test_split
from nncourse.train import Trainer


def data(seed=0):
    X, y = load_digits()
    (Xtr, ytr), (Xv, yv), (Xte, yte) = train_val_test_split(
        X, y, val=0.15, test=0.2, rng=seed, stratify=True
    )
    st = Standardizer().fit(Xtr)
    f32 = lambda a: st.transform(a).astype(np.float32)
    return (f32(Xtr), ytr), (f32(Xv), yv), (f32(Xte), yte)


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    return L.Sequential(
        L.Linear(64, 64, init="he_uniform", rng=rng), L.ReLU(), L.Linear(64, 10, rng=rng)
    )


def with_trainer(Xtr, ytr, epochs, seed=0):
    model = make_model(seed)
    trainer = Trainer(
        model,
        losses.SoftmaxCrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=3e-3),
        batch_size=32,
        epochs=epochs,
        rng=seed,
        regularizer=regularization.L2(1e-3),
        progress=False,
    )
    t = time.perf_counter()
    trainer.fit(Xtr, ytr)
    return time.perf_counter() - t, model, trainer


def by_hand(Xtr, ytr, epochs, seed=0):
    model = make_model(seed)
    loss_fn = losses.SoftmaxCrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    reg = regularization.L2(1e-3)
    rng = np.random.default_rng(seed)
    n, bs = len(Xtr), 32
    t = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        Xs, ys = Xtr[order], ytr[order]
        for i in range(0, n, bs):
            scores = model.forward(Xs[i : i + bs])
            loss = loss_fn.forward(scores, ys[i : i + bs]) + reg.penalty(model)  # noqa: F841
            opt.zero_grad()
            model.backward(loss_fn.backward())
            reg.backward(model)
            opt.step()
    return time.perf_counter() - t, model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    (Xtr, ytr), _, (Xte, yte) = data()

    t_tr, t_hand = [], []
    for _ in range(args.repeats):  # interleaved, best of n: the machine is shared
        dt, model_tr, trainer = with_trainer(Xtr, ytr, args.epochs)
        t_tr.append(dt)
        dt, model_hand = by_hand(Xtr, ytr, args.epochs)
        t_hand.append(dt)
    same = all(
        np.array_equal(a.data, b.data)
        for a, b in zip(model_tr.parameters(), model_hand.parameters())
    )
    acc = trainer.evaluate(Xte, yte)["acc"]
    steps = args.epochs * -(-len(Xtr) // 32)
    print(f"digits 64-64-10 MLP, Adam, {args.epochs} epochs, {steps} steps, N={len(Xtr)}")
    print(f"  Trainer.fit    {min(t_tr):7.3f} s   ({1e6 * min(t_tr) / steps:.0f} us/step)")
    print(f"  hand loop      {min(t_hand):7.3f} s   ({1e6 * min(t_hand) / steps:.0f} us/step)")
    print(f"  ratio Trainer / hand = {min(t_tr) / min(t_hand):.3f}")
    print(f"  same final weights: {same}; test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
