"""``execute.py``: what the grader's kernels do differently from a student's Jupyter."""

from __future__ import annotations

import nbformat

from autograder import execute
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
    out, info = execute.execute_notebook(nb, tmp_path / "work", Limits(cell_timeout_s=60))
    assert not info["failed_cells"], out.cells
    first, second = out.cells
    assert not any("image/png" in (o.get("data") or {}) for o in first.outputs), first.outputs
    assert not [o for o in first.outputs if o.output_type == "stream" and o.name == "stderr"]
    text = "".join(o.get("text", "") for o in second.outputs)
    assert text.strip().lower() == "agg []", second.outputs
