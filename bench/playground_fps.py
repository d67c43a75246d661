"""Frames per second of the playground's step + render loop (a 2-8-8-1 tanh network).

One frame is what Play does per tick: one training epoch through ``nncourse.train.Trainer``
(300 points, half for training, batch size 10), every unit's output on the grid, the
artists updated in place and the figure encoded to PNG. The issue asks for >= 10 frames/s
on 2 cores with the network view on. Measured in one process, in turn:

- network view on (the default), features x1, x2: the figure the student sees;
- network view off: the decision surface and the losses only;
- reference: network view on, but the whole figure redrawn every frame (no kept
  background), which is how every frame was drawn before the network view came.

Wall-clock frames/s depend on what else the machine runs; the CPU milliseconds per frame
(this process's CPU time) and the ratios to the reference depend much less on it.
Run: ``.venv/bin/python bench/playground_fps.py [--frames N]``.
"""

from __future__ import annotations

import argparse
import time

from nncourse.widgets import playground


def measure(pg, frames, full_redraw=False):
    """(frames/s wall clock, CPU ms per frame) of ``frames`` calls of ``advance()``."""
    pg.advance()  # warm-up frame (and the kept background)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(frames):
        if full_redraw:
            pg._background = None
        pg.advance()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return frames / wall, 1e3 * cpu / frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--dataset", default="xor")
    args = parser.parse_args()

    def make(network=True):
        return playground(dataset=args.dataset, hidden="8, 8", activation="tanh", network=network)

    pg = make()
    sizes = [layer.params["W"].shape for layer in pg.model.layers if "W" in layer.params]
    pg.advance()
    t0 = time.perf_counter()
    for _ in range(args.frames):
        pg.step()
    t_step = (time.perf_counter() - t0) / args.frames
    t0 = time.perf_counter()
    for _ in range(args.frames):
        pg.render()
    t_render = (time.perf_counter() - t0) / args.frames

    results = {
        "network view on": measure(make(), args.frames),
        "network view off": measure(make(network=False), args.frames),
        "reference (view on, full redraw)": measure(make(), args.frames, full_redraw=True),
    }
    ref_fps, ref_cpu = results["reference (view on, full redraw)"]
    print(f"network: 2-8-8-1 (W shapes {sizes}), data set {args.dataset}, {args.frames} frames")
    print(
        f"network view on: step (one epoch) {1e3 * t_step:.1f} ms, render {1e3 * t_render:.1f} ms"
    )
    for name, (fps, cpu) in results.items():
        print(
            f"{name:34s} {fps:5.1f} frames/s, {cpu:5.1f} CPU ms/frame "
            f"({fps / ref_fps:.2f}x the reference's frame rate, {ref_cpu / cpu:.2f}x less CPU)"
        )
    fps = results["network view on"][0]
    print(f"playground step+render loop, network view on: {fps:.1f} frames/s (target >= 10)")
    print(f"final train loss {pg.train_losses[-1]:.3f}, test loss {pg.test_losses[-1]:.3f}")


if __name__ == "__main__":
    main()
