"""``kernel.py``: what the grader's kernels do differently from a student's Jupyter."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import nbformat
import pytest

from autograder import kernel
from autograder.config import Limits


def test_figures_are_not_rendered_while_grading_and_are_closed_after_each_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nimport matplotlib\nimport matplotlib.pyplot as plt\n"
            "plt.plot([1, 2, 3])\nplt.show()\nfig = plt.figure()"
        ),
        nbformat.v4.new_code_cell("print(matplotlib.get_backend(), plt.get_fignums())"),
    ]
    out, info = kernel.execute_notebook(nb, tmp_path / "work", Limits(cell_timeout_s=60))
    assert not info["failed_cells"], out.cells
    first, second = out.cells
    assert not any("image/png" in (o.get("data") or {}) for o in first.outputs), first.outputs
    assert not [o for o in first.outputs if o.output_type == "stream" and o.name == "stderr"]
    text = "".join(o.get("text", "") for o in second.outputs)
    assert text.strip().lower() == "agg []", second.outputs


def test_ctrl_c_stops_grading_even_when_a_library_swallows_the_cancellation():
    """asyncio turns SIGINT into a task cancellation; kernel start-up code may catch it, and
    the grade would go on to the next student as if no key had been pressed."""

    async def stubborn():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # as library code may
            pass
        return "went on"

    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            kernel._run_interruptibly(stubborn())
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert kernel._run_interruptibly(asyncio.sleep(0, "done")) == "done"
