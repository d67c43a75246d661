"""Scaling of ``similarity``: a synthetic class of S students x E exercises, timed end to end.

Builds a course folder as ``release`` and ``grade`` leave it (``source/``, ``release/`` and
``submitted/STUDENT/ASSIGNMENT/``), with one notebook of E solution cells (each with given
code: a ``def`` line, a docstring, a given first line) and a grade cell with hidden tests
after each. Every student writes each exercise independently: a few helpers and a body drawn
from a small grammar of NumPy code (loops, conditions, reductions, element-wise expressions,
names from the pools students use), so no two solutions are alike by construction. Then a
fraction of students copy one exercise from a classmate, disguised one of four ways (names
renamed, helpers reordered, comments and layout changed, one line changed).

It times ``python -m autograder similarity`` (a fresh process: reading, fingerprinting,
comparing and writing the page) and reports how many planted pairs were found and how many
other pairs were flagged (independently generated code: all false alarms).

Usage::

    python bench/similarity_scale.py [--students 1000] [--exercises 10] [--copies 0.02]
                                     [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AID = "90_synthetic"
NB = "synthetic"

NAMES = [
    "x", "y", "z", "w", "b", "h", "a", "s", "t", "out", "res", "acc", "tmp", "val", "grad",
    "scores", "probs", "logits", "total", "mask", "idx", "row", "col", "n", "k", "m", "eps",
    "delta", "diff", "norm", "mean", "var", "std", "scale", "shift", "weights", "bias", "dx",
]  # fmt: skip
UNARY = ["np.exp", "np.log1p", "np.tanh", "np.abs", "np.sqrt", "np.square", "np.sign"]
REDUCE = ["np.sum", "np.mean", "np.max", "np.min", "np.std"]
BINOP = ["+", "-", "*", "/"]
COMMENTS = [
    "# numerically stable",
    "# keep the batch dimension",
    "# see the lecture notes",
    "# vectorised, no loop",
    "# TODO: check the shapes",
    "# avoid dividing by zero",
]


class Writer:
    """One student's way of writing code: a random source of expressions and statements."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def name(self, scope):
        return self.rng.choice(scope)

    def expr(self, scope, depth=0):
        r = self.rng.random()
        if depth > 2 or r < 0.25:
            return (
                self.name(scope)
                if self.rng.random() < 0.8
                else repr(self.rng.choice([0.0, 1.0, 0.5, 2.0, 1e-8, 1e-12, 10.0]))
            )
        if r < 0.45:
            return f"{self.rng.choice(UNARY)}({self.expr(scope, depth + 1)})"
        if r < 0.6:
            axis = self.rng.choice(["", ", axis=0", ", axis=1", ", axis=-1, keepdims=True"])
            return f"{self.rng.choice(REDUCE)}({self.expr(scope, depth + 1)}{axis})"
        if r < 0.7:
            return f"{self.expr(scope, depth + 1)} @ {self.name(scope)}.T"
        if r < 0.8:
            yes, no = self.expr(scope, depth + 1), self.expr(scope, depth + 1)
            return f"np.where({self.name(scope)} > 0, {yes}, {no})"
        op = self.rng.choice(BINOP)
        return f"({self.expr(scope, depth + 1)} {op} {self.expr(scope, depth + 1)})"

    def block(self, scope, indent, length):
        lines, pad = [], " " * indent
        for _ in range(length):
            r = self.rng.random()
            if r < 0.12 and indent < 12:
                var = self.rng.choice(["i", "j", "k"])
                lines.append(f"{pad}for {var} in range({self.name(scope)}.shape[0]):")
                lines += self.block(scope + [var], indent + 4, self.rng.randint(1, 3))
            elif r < 0.22 and indent < 12:
                test = f"{self.rng.choice(['==', '>', '<'])} {self.rng.randint(1, 3)}"
                lines.append(f"{pad}if {self.name(scope)}.ndim {test}:")
                lines += self.block(scope, indent + 4, self.rng.randint(1, 2))
            elif r < 0.3:
                lines.append(f"{pad}{self.rng.choice(COMMENTS)}")
            else:
                target = self.rng.choice(NAMES)
                op = self.rng.choice(["=", "=", "=", "+=", "*="]) if target in scope else "="
                lines.append(f"{pad}{target} {op} {self.expr(scope)}")
                scope = scope if target in scope else scope + [target]
        return lines


def given(e: int) -> tuple[str, str]:
    """The instructor's lines of exercise ``e``: the def line with docstring and a first line."""
    head = (
        f"def exercise_{e}(x, params):\n"
        f'    """Exercise {e}: returns an array computed from x (N, D) and params."""\n'
        "    x = np.asarray(x, dtype=np.float64)\n"
    )
    return head, "    W, b = params['W'], params['b']\n"


def solution(e: int, rng: random.Random) -> str:
    """An independently written solution of exercise ``e``."""
    w = Writer(rng)
    head, first = given(e)
    helpers = []
    for h in range(rng.randint(0, 2)):
        name = rng.choice(["_step", "_normalise", "_apply", "_check", "_score", "_helper"]) + str(h)
        body = w.block(["v", "u"], 4, rng.randint(2, 5))
        helpers.append(
            f"def {name}(v, u):\n" + "\n".join(body) + f"\n    return {w.expr(['v', 'u'])}\n"
        )
    body = w.block(["x", "W", "b"], 4, rng.randint(4, 9))
    main = head + first + "\n".join(body) + f"\n    return {w.expr(['x', 'W', 'b'])}\n"
    parts = helpers + [main]
    rng.shuffle(parts)
    return "\n\n".join(parts)


def disguise(code: str, how: str, rng: random.Random) -> str:
    """A copy of ``code``, disguised one of four ways."""
    if how == "renamed":
        mapping = {n: f"{n}_{rng.randint(1, 99)}" for n in NAMES if n not in ("x", "b")}
        return re.sub(r"(?<![.\w])\w+\b", lambda m: mapping.get(m.group(), m.group()), code)
    if how == "reordered":
        return "\n\n".join(reversed(code.split("\n\n")))
    if how == "comments":
        lines = []
        for line in code.splitlines():
            if line.strip().startswith("#"):
                continue
            line = line.replace(" = ", "  =  ").replace(", ", ",")
            lines.append(line + ("  # mine" if rng.random() < 0.3 and line.strip() else ""))
            if rng.random() < 0.2:
                lines.append("")
        return "\n".join(lines) + "\n"
    lines = code.splitlines()  # one line changed
    candidates = [
        i
        for i, ln in enumerate(lines)
        if " = " in ln and "params" not in ln and "asarray" not in ln
    ]
    if candidates:
        i = rng.choice(candidates)
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[i] = f"{indent}{lines[i].strip().split(' = ')[0]} = np.zeros_like(x) + 1.0"
    return "\n".join(lines) + "\n"


def cell(source, **nbgrader):
    meta = {"schema_version": 3, "locked": False, "solution": False, "grade": False, **nbgrader}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"nbgrader": meta},
        "outputs": [],
        "source": source,
    }


def notebook(cells):
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def build(root: Path, students: int, exercises: int, copies: float, seed: int):
    """Write the course; returns the planted pairs {(grade_id, frozenset(a, b)): how}."""
    rng = random.Random(seed)
    source, release = [cell("import numpy as np\n", grade_id="imports", locked=True)], []
    release.append(source[0])
    for e in range(exercises):
        head, first = given(e)
        stub = head + first + "    # YOUR CODE HERE\n    raise NotImplementedError()\n"
        solved = (
            head + first + "    ### BEGIN SOLUTION\n    return x @ W.T + b\n    ### END SOLUTION\n"
        )
        test = (
            f"assert exercise_{e}(np.ones((2, 3)), P).shape == (2, 4)\n"
            "### BEGIN HIDDEN TESTS\n"
            f"assert np.allclose(exercise_{e}(HIDDEN_X_{e}, P), HIDDEN_Y_{e})\n"
            "### END HIDDEN TESTS\n"
        )
        grade = {"grade_id": f"test_{e}", "grade": True, "locked": True, "points": 1}
        source += [cell(solved, grade_id=f"ex_{e}", solution=True), cell(test, **grade)]
        release += [
            cell(stub, grade_id=f"ex_{e}", solution=True),
            cell(test.split("###")[0], **grade),
        ]
    for folder, nb in ((root / "source" / AID, source), (root / "release" / AID, release)):
        folder.mkdir(parents=True)
        (folder / f"{NB}.ipynb").write_text(json.dumps(notebook(nb)))
    sids = [f"s{i:04d}" for i in range(students)]
    code = {(sid, e): solution(e, rng) for sid in sids for e in range(exercises)}
    planted = {}
    ways = ["renamed", "reordered", "comments", "one line"]
    for n, sid in enumerate(rng.sample(sids, int(copies * students))):
        e, other = rng.randrange(exercises), rng.choice([s for s in sids if s != sid])
        how = ways[n % len(ways)]
        code[sid, e] = disguise(code[other, e], how, rng)
        planted[f"ex_{e}", frozenset((sid, other))] = how
    for sid in sids:
        cells = [release[0]]
        for e in range(exercises):
            cells += [cell(code[sid, e], grade_id=f"ex_{e}", solution=True), release[2 + 2 * e]]
        folder = root / "submitted" / sid / AID
        folder.mkdir(parents=True)
        (folder / f"{NB}.ipynb").write_text(json.dumps(notebook(cells)))
    return planted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--exercises", type=int, default=10)
    parser.add_argument("--copies", type=float, default=0.02, help="fraction who copy once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="similarity-bench-") as tmp:
        root = args.keep or Path(tmp) / "course"
        t0 = time.perf_counter()
        planted = build(root, args.students, args.exercises, args.copies, args.seed)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "autograder", "similarity", AID, "--course-dir", str(root)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        took = time.perf_counter() - t0
        if proc.returncode:
            sys.exit(f"similarity failed ({proc.returncode}):\n{proc.stderr}")
        sys.path.insert(0, str(ROOT))
        from autograder.course import Course
        from autograder.reporting.similarity import analyse, compare

        data = analyse(Course(root), AID)
        t1 = time.perf_counter()
        for ex in data.exercises:  # the inverted index and the pairs, fingerprints in hand
            compare(ex.codes)
        compared = time.perf_counter() - t1
        flagged = {(ex.grade_id, frozenset((p.a, p.b))) for ex in data.exercises for p in ex.pairs}
        page = root / "reports" / f"{AID}-similarity.html"
        found = {how: 0 for how in sorted(set(planted.values()))}
        for key, how in planted.items():
            found[how] += key in flagged
        print(
            f"{args.students} students x {args.exercises} exercises "
            f"({sum(len(ex.codes) for ex in data.exercises)} solutions): "
            f"built in {built:.1f} s; `python -m autograder similarity` {took:.1f} s "
            f"(of which comparing {compared:.1f} s), page {page.stat().st_size / 1e6:.1f} MB"
        )
        per_way = ", ".join(
            f"{how} {found[how]}/{sum(h == how for h in planted.values())}" for how in found
        )
        print(f"planted pairs found: {sum(found.values())}/{len(planted)} ({per_way})")
        print(
            f"other pairs flagged (independent code, false alarms): {len(flagged - set(planted))}"
        )


if __name__ == "__main__":
    main()
