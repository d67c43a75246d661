"""The similarity page: planted copies are found, independent solutions are not.

The unit tests build classes of solution cells as strings: for three exercises (a sigmoid, a
row-wise softmax, a two-layer forward pass with helpers) several genuinely different correct
solutions, written the ways students write them, and copies of one of them disguised by
renaming, reordering helpers, changing comments and layout, or changing one line. The last
tests release the fixture assignment into a real course, put students' notebooks in
``submitted/`` as nbgrader's collect leaves them, and run ``python -m autograder similarity``.
"""

from __future__ import annotations

import html
import json
import re
import shutil

import nbformat
import pytest
from support.grader import FIXTURES, cli, fixture_subs

from autograder.course import Course
from autograder.grading.answer_key import HIDDEN_BEGIN, HIDDEN_END
from autograder.reporting import report, similarity
from autograder.reporting.similarity import Code, compare, fingerprints

# ------------------------------------------------------------------ exercise: sigmoid

SIGMOID_STUB = '''def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), element-wise, without overflow."""
    x = np.asarray(x, dtype=np.float64)
    # YOUR CODE HERE
    raise NotImplementedError()
'''
SIGMOID_HEAD = '''def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), element-wise, without overflow."""
    x = np.asarray(x, dtype=np.float64)
'''
SIGMOID = {
    "where": """    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
""",
    "masks": """    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1 + ex)
    return out
""",
    "tanh": """    # sigma(x) = (1 + tanh(x / 2)) / 2 is stable for every x
    half = 0.5 * x
    return 0.5 * (1.0 + np.tanh(half))
""",
    "logaddexp": """    # log sigma(x) = -log(1 + e^-x) = -logaddexp(0, -x)
    log_sig = -np.logaddexp(0.0, -x)
    return np.exp(log_sig)
""",
    "clip": """    z = np.clip(x, -500, 500)   # exp(500) is still finite
    result = 1.0 / (1.0 + np.exp(-z))
    return result
""",
    "loop": """    result = np.zeros(x.shape)
    flat = x.ravel()
    for i, v in enumerate(flat):
        if v >= 0:
            result.flat[i] = 1 / (1 + math.exp(-v))
        else:
            t = math.exp(v)
            result.flat[i] = t / (1 + t)
    return result
""",
}

# ------------------------------------------------------------------ exercise: softmax

SOFTMAX_STUB = '''def softmax(scores):
    """Row-wise softmax of a (N, C) array of scores: each row sums to 1."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''
SOFTMAX_HEAD = '''def softmax(scores):
    """Row-wise softmax of a (N, C) array of scores: each row sums to 1."""
'''
SOFTMAX = {
    "keepdims": """    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)
""",
    "rows": """    out = np.zeros_like(scores, dtype=float)
    for i in range(scores.shape[0]):
        row = scores[i] - np.max(scores[i])
        ex = np.exp(row)
        out[i] = ex / np.sum(ex)
    return out
""",
    "logsumexp": """    m = np.max(scores, axis=-1)[:, None]
    lse = m + np.log(np.sum(np.exp(scores - m), axis=-1))[:, None]
    return np.exp(scores - lse)
""",
    "comprehension": """    def one(r):
        z = np.exp(r - max(r))
        return z / z.sum()

    return np.array([one(r) for r in scores])
""",
    "transpose": """    s = np.asarray(scores, dtype=float).T
    s = s - s.max(axis=0)
    p = np.exp(s)
    p /= p.sum(axis=0)
    return p.T
""",
    "apply": """    def f(v):
        v = v - v.max()
        return np.exp(v) / np.exp(v).sum()
    return np.apply_along_axis(f, 1, scores)
""",
}

# ------------------------------------------------------------- exercise: forward pass

FORWARD_STUB = '''def relu(a):
    """max(0, a), element-wise."""
    # YOUR CODE HERE
    raise NotImplementedError()


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    # YOUR CODE HERE
    raise NotImplementedError()


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''
FORWARD = {
    # the original the planted copies come from: a helper of the student's own, a loop
    "orig": '''def relu(a):
    """max(0, a), element-wise."""
    return np.maximum(a, 0.0)


def _check(x, W):
    if x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"x has shape {x.shape}, W has {W.shape}")


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    _check(x, W)
    out = np.empty((x.shape[0], W.shape[0]))
    for n in range(x.shape[0]):
        out[n] = W @ x[n] + b
    return out


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    hidden = relu(linear(x, params["W1"], params["b1"]))
    scores = linear(hidden, params["W2"], params["b2"])
    return scores
''',
    "matmul": '''def relu(a):
    """max(0, a), element-wise."""
    return a * (a > 0)


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    return x @ W.T + b


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    a1 = linear(x, params["W1"], params["b1"])
    h1 = relu(a1)
    return linear(h1, params["W2"], params["b2"])
''',
    "dot": '''def relu(a):
    """max(0, a), element-wise."""
    out = a.copy()
    out[out < 0] = 0
    return out


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    return np.dot(x, W.T) + b[np.newaxis, :]


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    layers = [("W1", "b1"), ("W2", "b2")]
    h = x
    for k, (w, b) in enumerate(layers):
        h = linear(h, params[w], params[b])
        if k < len(layers) - 1:
            h = relu(h)
    return h
''',
    "einsum": '''def relu(a):
    """max(0, a), element-wise."""
    return np.where(a > 0, a, 0.0)


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    # einsum spells the shapes out: n samples, i inputs, o outputs
    return np.einsum("ni,oi->no", x, W) + b


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    return linear(relu(linear(x, W1, b1)), W2, b2)
''',
    "sums": '''def relu(a):
    """max(0, a), element-wise."""
    return np.clip(a, 0, None)


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    N, out_features = x.shape[0], W.shape[0]
    y = np.zeros((N, out_features))
    for o in range(out_features):
        y[:, o] = np.sum(x * W[o], axis=1) + b[o]
    return y


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    z = linear(x, params["W1"], params["b1"])
    z = relu(z)
    z = linear(z, params["W2"], params["b2"])
    return z
''',
}

# the planted copies of FORWARD["orig"]
PLANTED = {
    "renamed": '''def relu(a):
    """max(0, a), element-wise."""
    return np.maximum(a, 0.0)


def verify(inputs, weights):
    if inputs.ndim != 2 or inputs.shape[1] != weights.shape[1]:
        raise ValueError(f"inputs: {inputs.shape}, weights: {weights.shape}")


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    verify(x, W)
    result = np.empty((x.shape[0], W.shape[0]))
    for row in range(x.shape[0]):
        result[row] = W @ x[row] + b
    return result


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    h = relu(linear(x, params["W1"], params["b1"]))
    logits = linear(h, params["W2"], params["b2"])
    return logits
''',
    "reordered": '''def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    hidden = relu(linear(x, params["W1"], params["b1"]))
    scores = linear(hidden, params["W2"], params["b2"])
    return scores


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    _check(x, W)
    out = np.empty((x.shape[0], W.shape[0]))
    for n in range(x.shape[0]):
        out[n] = W @ x[n] + b
    return out


def _check(x, W):
    if x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"x has shape {x.shape}, W has {W.shape}")


def relu(a):
    """max(0, a), element-wise."""
    return np.maximum(a, 0.0)
''',
    "comments": '''def relu(a):
    """max(0, a), element-wise."""
    # negative values become zero
    return np.maximum( a, 0.0 )



def _check(x,W):
    # shapes must agree
    if x.ndim!=2 or x.shape[1]!=W.shape[1]:
        raise ValueError(f"bad shapes {x.shape} {W.shape}")

def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    _check(x, W)   # first validate

    out = np.empty(( x.shape[0], W.shape[0] ))
    # one sample at a time
    for n in range(x.shape[0]):
        out[n] = W @ x[n] + b

    return out
def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    hidden = relu(linear(x, params['W1'], params['b1']))  # layer 1
    scores = linear(hidden, params['W2'], params['b2'])  # layer 2
    return scores
''',
    "one_line": '''def relu(a):
    """max(0, a), element-wise."""
    return np.maximum(a, 0.0)


def _check(x, W):
    if x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"x has shape {x.shape}, W has {W.shape}")


def linear(x, W, b):
    """x @ W.T + b for x (N, in), W (out, in), b (out,)."""
    _check(x, W)
    out = np.zeros((len(x), len(W)))
    for n in range(x.shape[0]):
        out[n] = W @ x[n] + b
    return out


def mlp_forward(x, params):
    """Linear, ReLU, linear. params: W1, b1, W2, b2. Returns the scores (N, C)."""
    hidden = relu(linear(x, params["W1"], params["b1"]))
    scores = linear(hidden, params["W2"], params["b2"])
    return scores
''',
}


def codes(sources: dict[str, str], stub: str) -> dict[str, Code]:
    return {sid: Code(sid, src, fingerprints(src, stub)) for sid, src in sources.items()}


def flagged(sources, stub, **kw) -> set[frozenset]:
    pairs, _, _ = compare(codes(sources, stub), **kw)
    return {frozenset((p.a, p.b)) for p in pairs}


def similarity_of(a, b, stub) -> float:
    """Dice's coefficient of the two fingerprint sets (as ``Pair.similarity``)."""
    fa, fb = set(fingerprints(a, stub)), set(fingerprints(b, stub))
    return 2 * len(fa & fb) / (len(fa) + len(fb))


@pytest.mark.parametrize("variant", sorted(PLANTED))
def test_each_disguise_keeps_the_copy_above_the_threshold(variant):
    value = similarity_of(FORWARD["orig"], PLANTED[variant], FORWARD_STUB)
    assert value >= similarity.THRESHOLD + 0.1, f"{variant}: {value:.2f}"


def test_planted_copies_are_found_in_a_class_of_independent_solutions():
    sources = {**FORWARD, **PLANTED}
    found = flagged(sources, FORWARD_STUB)
    group = {"orig", *PLANTED}
    assert {frozenset(("orig", v)) for v in PLANTED} <= found
    # every flagged pair is inside the planted group: the independent solutions stay apart
    assert all(p <= group for p in found), found
    pairs, _, _ = compare(codes(sources, FORWARD_STUB))
    assert similarity.clusters(pairs) == [sorted(group)]


@pytest.mark.parametrize(
    "head, bodies, stub",
    [(SIGMOID_HEAD, SIGMOID, SIGMOID_STUB), (SOFTMAX_HEAD, SOFTMAX, SOFTMAX_STUB)],
    ids=["sigmoid", "softmax"],
)
def test_independent_solutions_are_not_flagged(head, bodies, stub):
    sources = {name: head + body for name, body in bodies.items()}
    assert all(fingerprints(s, stub) for s in sources.values())  # each wrote code of its own
    assert flagged(sources, stub) == set()
    # and the measure is low, not just under the bar
    names = sorted(sources)
    worst = max(
        similarity_of(sources[a], sources[b], stub) for i, a in enumerate(names) for b in names[:i]
    )
    assert worst < similarity.THRESHOLD - 0.1, worst
    # the same class with one planted copy (names and comments changed) finds that pair only
    copy = sources["loop"] if "loop" in sources else sources["rows"]
    copy = copy.replace("result", "res").replace("out", "o").replace("# ", "# note: ")
    assert flagged({**sources, "copy": copy}, stub) in (
        {frozenset(("copy", "loop"))},
        {frozenset(("copy", "rows"))},
    )


def test_forward_independent_solutions_are_not_flagged():
    independent = {k: v for k, v in FORWARD.items()}
    assert flagged(independent, FORWARD_STUB) == set()


def test_reordering_functions_gives_the_same_fingerprints():
    assert set(fingerprints(FORWARD["orig"], FORWARD_STUB)) == set(
        fingerprints(PLANTED["reordered"], FORWARD_STUB)
    )


def test_renaming_comments_and_layout_give_the_same_fingerprints():
    a = (
        "def f(x):\n    total = 0\n    for item in x:\n        total += item * item\n"
        "    return total\n"
    )
    b = (
        "def f(x):\n    # sum of squares\n    acc   =  0\n\n    for v in x:  # each\n"
        "        acc += v*v\n    return acc\n"
    )
    assert fingerprints(a) and set(fingerprints(a)) == set(fingerprints(b))
    assert set(fingerprints(a)) != set(fingerprints(a.replace("*", "+")))


def test_the_stub_and_given_code_never_count():
    assert fingerprints(SIGMOID_STUB, SIGMOID_STUB) == {}
    # a student who left the stub and added only a short line has nothing to compare
    only_given = SIGMOID_HEAD + "    return 1 / (1 + np.exp(-x))\n"
    assert len(fingerprints(only_given, SIGMOID_STUB)) < similarity.MIN_SHARED
    # long given code shared by everyone: only the students' own lines are fingerprinted
    given = "\n".join(f"    given_{i} = np.linspace(0, {i}, 10) * scale" for i in range(20))
    stub = f"def f(x, scale):\n{given}\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    mine = [f"def f(x, scale):\n{given}\n" + SIGMOID[name] for name in ("masks", "loop")]
    with_stub = [set(fingerprints(s, stub)) for s in mine]
    without = [set(fingerprints(s)) for s in mine]
    # the given lines are most of what the two have in common, and only the stub knows it
    shared_with, shared_without = (len(a & b) for a, b in (with_stub, without))
    assert shared_with < similarity.MIN_SHARED <= shared_without - shared_with
    for src, prints in zip(mine, (fingerprints(s, stub) for s in mine)):
        for spans in prints.values():
            for start, end in spans:
                assert "linspace" not in src[start:end]  # given code is never marked


def test_short_solutions_everyone_writes_alike_are_not_flagged():
    stub = (
        'def relu(a):\n    """max(0, a)."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    )
    same = 'def relu(a):\n    """max(0, a)."""\n    return np.maximum(a, 0.0)\n'
    assert flagged({f"s{i}": same for i in range(6)}, stub) == set()


def test_idioms_of_a_large_class_are_not_evidence():
    """A fingerprint most of the class holds does not count towards any pair."""
    sources = {f"s{i:02d}": SOFTMAX_HEAD + SOFTMAX["keepdims"] for i in range(30)}
    assert similarity.common_cap(30) < 30
    assert flagged(sources, SOFTMAX_STUB) == set()
    assert len(flagged(dict(list(sources.items())[:5]), SOFTMAX_STUB)) == 10  # 5 alike: flagged


def test_cells_that_do_not_parse_are_still_compared():
    broken = FORWARD["orig"] + "\ndef unfinished(x:\n    return (x\n"
    assert fingerprints(broken, FORWARD_STUB)
    assert frozenset(("orig", "broken")) in flagged(
        {"orig": FORWARD["orig"], "broken": broken, **{k: FORWARD[k] for k in ("dot", "sums")}},
        FORWARD_STUB,
    )


def test_pairs_alike_in_several_exercises_are_listed_together():
    forward = {**FORWARD, "copy": PLANTED["renamed"]}
    softmax = {k: SOFTMAX_HEAD + v for k, v in SOFTMAX.items()}
    softmax["copy"], softmax["orig"] = softmax["rows"], softmax["rows"].replace("row", "r")
    exercises = []
    for gid, sources, stub in (("fwd", forward, FORWARD_STUB), ("soft", softmax, SOFTMAX_STUB)):
        by_student = codes(sources, stub)
        pairs, common, cap = compare(by_student)
        exercises.append(
            similarity.Exercise(
                "nb", gid, by_student, cap, pairs, similarity.clusters(pairs), common
            )
        )
    data = similarity.Analysis("00_x", sorted(forward), [], exercises, similarity.THRESHOLD)
    assert data.repeated() == [(("copy", "orig"), ["fwd", "soft"])]
    page = similarity.render(data)
    assert "Students alike in several exercises" in page
    assert "<td>copy</td><td>orig</td><td>fwd, soft</td>" in page


def test_marked_spans_are_escaped_and_merged():
    text = "a<b and c&d"
    assert similarity._marked(text, [(0, 3), (2, 5)]) == "<mark>a&lt;b a</mark>nd c&amp;d"


# ------------------------------------------------------------------ a real course


def course_limits(root):
    return Course(root).limits("00_fixture")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The fixture assignment released for real; students' notebooks in ``submitted/``."""
    root = tmp_path_factory.mktemp("similarity") / "course"
    cli("release", "00_fixture", "--course-dir", root, "--notebooks", FIXTURES / "notebooks")
    release = fixture_subs.load(root / "release" / "00_fixture" / "fixture.ipynb")
    stub = next(c.source for c in release.cells if fixture_subs._gid(c) == "sigmoid_sol")
    head = stub.split("# YOUR CODE HERE")[0].rstrip() + "\n    x = np.asarray(x, dtype=float)\n"
    students = {name: head + body for name, body in SIGMOID.items()}
    students["copycat"] = students["loop"].replace("result", "res").replace("flat", "values")
    for sid, src in students.items():
        nb = fixture_subs.filled(release, sigmoid_sol=src)
        folder = root / "submitted" / sid / "00_fixture"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "fixture.ipynb")
    (root / "submitted" / "garbled" / "00_fixture").mkdir(parents=True)
    (root / "submitted" / "garbled" / "00_fixture" / "fixture.ipynb").write_text("{not json")
    odd = {"cells": [7, {"metadata": {"nbgrader": {"grade_id": ["x"]}}}, {"metadata": []}]}
    odd["cells"].append({"cell_type": "code", "source": [1, None], "metadata": {"nbgrader": {
        "grade_id": "sigmoid_sol"}}})  # fmt: skip
    (root / "submitted" / "odd" / "00_fixture").mkdir(parents=True)
    (root / "submitted" / "odd" / "00_fixture" / "fixture.ipynb").write_text(json.dumps(odd))
    (root / "submitted" / "huge" / "00_fixture").mkdir(parents=True)
    limit = course_limits(root).max_notebook_mb * 2**20
    (root / "submitted" / "huge" / "00_fixture" / "fixture.ipynb").write_text(" " * (limit + 1))
    return Course(root)


@pytest.mark.slow
def test_cli_writes_the_page_with_the_planted_pair(course):
    proc = cli("similarity", "00_fixture", "--course-dir", course.root)
    out = course.root / "reports" / "00_fixture-similarity.html"
    assert str(out) in proc.stdout and "1 pair" in proc.stdout
    text = out.read_text()
    assert "evidence for a person to look at, never a penalty" in text
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td class=n>(\d+) %</td>", text)
    assert [set(r[:2]) for r in rows] == [{"copycat", "loop"}]
    assert "<mark>" in text and "garbled" in text  # unreadable notebook listed, not fatal
    assert "<td>huge</td><td>fixture</td><td>notebook larger than" in text
    assert ">odd<" not in text  # odd cells are skipped, not fatal, and compared with nobody
    # the fixture's GOOD solutions of mse and count are the same for every student: too short
    for gid in ("mse_sol", "count_sol"):
        assert re.search(rf"<td>{gid}</td><td class=n>\d+</td><td class=n>0</td>", text), gid


@pytest.mark.slow
def test_page_holds_no_hidden_test_and_fetches_nothing(course):
    cli("similarity", "00_fixture", "--course-dir", course.root)
    text = (course.root / "reports" / "00_fixture-similarity.html").read_text()
    source = nbformat.read(course.source / "00_fixture" / "fixture.ipynb", as_version=4)
    checked = 0
    for cell in source.cells:
        if HIDDEN_BEGIN in cell.source:
            hidden = cell.source.split(HIDDEN_BEGIN, 1)[1].split(HIDDEN_END, 1)[0]
            for line in (x.strip() for x in hidden.splitlines()):
                if len(line) > 12:
                    checked += 1
                    assert line not in text and html.escape(line) not in text, line
    assert checked >= 5
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*(https?:)?//", text, re.I)
    assert not re.search(r"<script|<link|@import|url\(|<iframe|<img", text, re.I)


@pytest.mark.slow
def test_report_links_to_the_similarity_page(course):
    cli("similarity", "00_fixture", "--course-dir", course.root)
    data = report.AssignmentData("00_fixture", [], [], [], [], {}, [], [])
    assert "href='00_fixture-similarity.html'" in report.render_assignment(
        data, "00_fixture-similarity.html"
    )
    assert "python -m autograder similarity 00_fixture" in report.render_assignment(data)
    assert report.similarity_href(course, "00_fixture") == "00_fixture-similarity.html"
    assert report.similarity_href(course, "01_other") is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, expected",
    [
        (["99_nothing"], "assignment '99_nothing' is not released"),
        (["00_fixture", "--threshold", "1.5"], "threshold must be in (0, 1], got 1.5"),
        (["00_fixture", "--workers", "0"], "--workers must be at least 1, got 0"),
    ],
)
def test_bad_input_is_one_clear_line(course, args, expected):
    proc = cli("similarity", *args, "--course-dir", course.root, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: similarity: "), proc.stderr
    assert expected in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_no_submissions_is_one_clear_line(course, tmp_path):
    empty = tmp_path / "course"
    empty.mkdir()
    (empty / "source").symlink_to(course.source)
    (empty / "release").symlink_to(course.release_dir)
    shutil.copy(course.root / "gradebook.db", empty / "gradebook.db")  # a course, released
    proc = cli("similarity", "00_fixture", "--course-dir", empty, check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no submissions of '00_fixture'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_worker_processes_give_the_same_analysis(course, tmp_path):
    """A class large enough for a process pool: the same pairs as one process finds."""
    import shutil

    root = tmp_path / "course"
    shutil.copytree(course.source, root / "source")
    shutil.copytree(course.release_dir, root / "release")
    release = fixture_subs.load(root / "release" / "00_fixture" / "fixture.ipynb")
    stub = next(c.source for c in release.cells if fixture_subs._gid(c) == "sigmoid_sol")
    head = stub.split("# YOUR CODE HERE")[0].rstrip() + "\n"
    bodies = list(SIGMOID.values())
    for i in range(48):  # six ways to write it, each renamed per student: groups of eight
        body = bodies[i % len(bodies)].replace("out", f"out{i}").replace("result", f"r{i}")
        folder = root / "submitted" / f"s{i:02d}" / "00_fixture"
        folder.mkdir(parents=True)
        nbformat.write(
            fixture_subs.filled(release, sigmoid_sol=head + body), folder / "fixture.ipynb"
        )

    def found(workers):
        data = similarity.analyse(Course(root), "00_fixture", workers=workers)
        return [(ex.grade_id, [(p.a, p.b, p.shared) for p in ex.pairs]) for ex in data.exercises]

    one = found(1)
    assert sum(len(pairs) for _, pairs in one) >= 3 * 28  # the long ways, 8 choose 2 each
    assert found(2) == one
