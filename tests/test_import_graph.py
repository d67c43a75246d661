"""The library's modules import each other without circles (read from the source with ast).

A circle (``functional`` importing ``layers`` to build a table while ``layers`` imports
``functional``) forces deferred imports and makes the module order matter; the layering
is: backend and validation at the bottom, then functional and init, then the layers,
losses and optimisers, then what uses them (training, gradient checks, graph, widgets).
"""

from __future__ import annotations

import textwrap

from support.function_sizes import function_sizes
from support.import_graph import cycles, import_graph


def test_nncourse_has_no_import_cycles():
    found = cycles(import_graph("nncourse"))
    assert found == [], f"import cycles in nncourse: {found}"


def test_the_grader_has_no_import_cycles():
    found = cycles(import_graph("autograder"))
    assert found == [], f"import cycles in autograder: {found}"


def test_what_grade_cells_import_stands_on_the_record_format_alone():
    """checks and properties (in every student's kernel) import the record format and each
    other in one direction only; nothing of the grader."""
    graph = import_graph("autograder")
    assert graph["autograder.records"] == set()
    assert graph["autograder.properties"] == {"autograder.records"}
    assert graph["autograder.checks"] == {"autograder.properties", "autograder.records"}


def test_the_bottom_of_the_library_imports_nothing_above_it():
    graph = import_graph("nncourse")
    assert graph["nncourse.validation"] == set()
    assert graph["nncourse.backend"] == set()
    assert graph["nncourse.functional"] == {"nncourse.backend"}
    assert graph["nncourse.init"] == {"nncourse.backend", "nncourse.validation"}


def test_the_cycle_finder_sees_deferred_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from . import b\nimport pkg.c\n")
    (pkg / "b.py").write_text(
        textwrap.dedent(
            """
            def later():
                from .a import thing  # deferred: still an edge
            """
        )
    )
    (pkg / "c.py").write_text("from .sub.d import x\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("from .. import c\nimport os\n")
    graph = import_graph("pkg", root=tmp_path)
    assert graph["pkg.a"] == {"pkg.b", "pkg.c"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.sub.d"} and graph["pkg.sub.d"] == {"pkg.c"}
    assert cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub.d"]]
    (pkg / "b.py").write_text("")
    assert cycles(import_graph("pkg", root=tmp_path)) == [["pkg.c", "pkg.sub.d"]]


def test_the_course_folder_module_holds_paths_only():
    """course.py is the course folder's paths and records; release (release.py) and the file
    helpers (files.py) live apart, so whatever needs a path imports no kernel or nbgrader run."""
    graph = import_graph("autograder")
    assert graph["autograder.course"] == {"autograder.config", "autograder.files"}
    assert graph["autograder.files"] == set()
    assert "autograder.course" in graph["autograder.release"]


def test_grading_reporting_and_lti_import_each_other_in_one_direction():
    """The pipeline writes grades.csv with export; export reads the not-graded record from the
    course (not from the pipeline); LTI passback reads export's rows (export never imports it)."""
    graph = import_graph("autograder")
    assert "autograder.grading.pipeline" not in graph["autograder.reporting.export"]
    assert "autograder.term.lti" not in graph["autograder.reporting.export"]
    assert "autograder.reporting.export" in graph["autograder.term.lti"]
    found = [c for c in cycles(graph) if set(c) & {"autograder.reporting.export"}]
    assert found == [], found


def test_no_function_of_the_grader_or_the_library_runs_past_100_lines():
    """The longest functions were a 149-line page renderer and a 142-line argument parser;
    split ones stay split (``tests/support/function_sizes.py`` lists the longest)."""
    for package in ("autograder", "nncourse"):
        longest = function_sizes(package)[:3]
        assert longest[0][0] <= 100, f"{package}: longest functions {longest}"


def test_the_size_counter_counts_from_def_to_the_last_line(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("def a():\n    x = 1\n    return x\n\n\nasync def b():\n    pass\n")
    assert function_sizes("pkg", root=tmp_path) == [(3, "pkg/m.py:a"), (2, "pkg/m.py:b")]
