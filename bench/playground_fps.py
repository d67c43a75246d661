"""Frames per second of the playground's step + render loop (a 2-8-8-1 tanh network).

One frame is what Play does per tick: one training epoch through ``nncourse.train.Trainer``
(300 points, half for training, batch size 10), the decision-region grid predicted, the
artists updated in place and the figure encoded to PNG. The issue asks for >= 10 frames/s
on 2 cores. Run: ``.venv/bin/python bench/playground_fps.py [--frames N]``.
"""

from __future__ import annotations

import argparse
import time

from nncourse.widgets import playground


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--dataset", default="xor")
    args = parser.parse_args()

    pg = playground(dataset=args.dataset, hidden="8, 8", activation="tanh")
    sizes = [layer.params["W"].shape for layer in pg.model.layers if "W" in layer.params]
    pg.advance()  # warm-up frame
    t0 = time.perf_counter()
    for _ in range(args.frames):
        pg.step()
    t_step = (time.perf_counter() - t0) / args.frames
    t0 = time.perf_counter()
    for _ in range(args.frames):
        pg.render()
    t_render = (time.perf_counter() - t0) / args.frames
    t0 = time.perf_counter()
    for _ in range(args.frames):
        pg.advance()
    fps = args.frames / (time.perf_counter() - t0)

    print(f"network: 2-8-8-1 (W shapes {sizes}), data set {args.dataset}")
    print(f"step (one epoch): {1e3 * t_step:.1f} ms, render: {1e3 * t_render:.1f} ms")
    print(f"playground step+render loop: {fps:.1f} frames/s (target >= 10)")
    print(f"final train loss {pg.train_losses[-1]:.3f}, test loss {pg.test_losses[-1]:.3f}")


if __name__ == "__main__":
    main()
