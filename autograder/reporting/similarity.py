"""``similarity``: which solutions of an assignment look alike, for the instructor to judge.

Per exercise (one solution cell, by ``grade_id``), every student's code is reduced to
fingerprints by *winnowing* (Schleimer, Wilkerson and Aiken, SIGMOD 2003, the method of MOSS)
over normalised Python tokens:

* tokens come from Python's own ``tokenize``; comments, blank lines and layout are dropped;
  every name a student chooses (variables, helpers, arguments) becomes ``V``, every number
  ``N`` and every string ``S``; keywords, operators, builtins and attribute names (``.exp``,
  ``.sum``: a student cannot rename those) stay as they are;
* the cell is split into top-level chunks (each ``def`` or ``class`` alone, the other top-level
  statements together), so reordering helpers changes nothing;
* the instructor's code never counts: the tokens the student's cell shares with the released
  stub of that cell (``def`` line, docstring, given lines) are matched per chunk and removed,
  and a k-gram never spans such a token (nor two chunks);
* of the hashes of every ``K`` consecutive tokens, winnowing keeps the smallest of every
  ``WINDOW`` consecutive ones: any run of ``K + WINDOW - 1`` equal tokens is found.

An inverted index (fingerprint -> students) gives the pairs that share fingerprints without
comparing all pairs. A fingerprint held by more than ``common_cap(n)`` students is an idiom of
the class, not evidence, and is ignored (MOSS's ``-m``). A pair is flagged when it shares at
least ``MIN_SHARED`` fingerprints (so a one-line answer everyone writes alike is never
flagged) and the shared ones cover at least ``threshold`` of the smaller solution.

Only solution cells of the released assignment are read, from ``submitted/`` (nbgrader's
layout, also what ``grade`` stages): grade cells, hidden tests and the instructor's solution
never reach the page. :func:`analyse` computes, :func:`write_page` renders
``reports/ASSIGNMENT-similarity.html`` (self-contained: no script, no fetch).
"""

from __future__ import annotations

import builtins
import concurrent.futures
import dataclasses
import difflib
import functools
import html
import io
import json
import keyword
import math
import os
import re
import tokenize
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

from autograder.files import atomic_write

K = 8  # tokens per k-gram
WINDOW = 4  # k-grams per winnowing window: equal runs of K + WINDOW - 1 = 11 tokens are found
THRESHOLD = 0.6  # share of the smaller solution's fingerprints found in the other
MIN_SHARED = 8  # fewer shared fingerprints than this is never flagged (short solutions)
COMMON_MIN, COMMON_FRACTION = 10, 0.05  # a fingerprint of more students than both is an idiom
MAX_PAIRS_SHOWN = 40  # per exercise, with their code side by side (all are in the table)
PAIRS_OPEN = 3  # of those, the most similar are shown open
MIN_GIVEN_RUN = 3  # tokens matched to the stub count as given only in runs at least this long

BUILTIN_NAMES = frozenset(dir(builtins))
FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python >= 3.12
FSTRING_END = getattr(tokenize, "FSTRING_END", None)


class Tok(NamedTuple):
    """One normalised token: ``norm`` is compared, ``raw`` is what the student wrote."""

    norm: str
    raw: str
    start: int  # character offsets in the cell source
    end: int
    top: bool  # first token of a logical line at indentation 0


# ------------------------------------------------------------------------------- tokens


@functools.lru_cache(maxsize=256)  # the stubs: one per exercise, tokenised once
def stub_tokens(source: str) -> list[Tok]:
    return tokens(source)


def tokens(source: str) -> list[Tok]:
    """The normalised tokens of a cell (a regular-expression fallback if it does not parse)."""
    try:
        return _python_tokens(source)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return _fallback_tokens(source)


def _offsets(source: str) -> list[int]:
    starts, pos = [0, 0], 0  # tokenize rows are 1-based
    for line in source.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _python_tokens(source: str) -> list[Tok]:
    line_start = _offsets(source)
    out: list[Tok] = []
    depth, line_begins, fstring, prev = 0, True, 0, ""
    for t in tokenize.generate_tokens(io.StringIO(source).readline):
        start = line_start[t.start[0]] + t.start[1]
        end = line_start[t.end[0]] + t.end[1]
        if fstring:  # inside an f-string (3.12 tokens): one S for the whole literal
            fstring += (t.type == FSTRING_START) - (t.type == FSTRING_END)
            if not fstring:
                out[-1] = out[-1]._replace(end=end)
            continue
        if t.type in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if t.type == tokenize.INDENT:
            depth += 1
            out.append(Tok("{", "", start, start, False))
            continue
        if t.type == tokenize.DEDENT:
            depth -= 1
            out.append(Tok("}", "", start, start, False))
            continue
        if t.type == tokenize.NEWLINE:
            out.append(Tok(";", "", start, start, False))
            line_begins = True
            continue
        if t.type == tokenize.NAME:
            if keyword.iskeyword(t.string) or t.string in BUILTIN_NAMES or prev == ".":
                norm = t.string
            else:
                norm = "V"
        elif t.type == tokenize.NUMBER:
            norm = "N"
        elif t.type == tokenize.STRING or t.type == FSTRING_START:
            norm = "S"
            fstring = 1 if t.type == FSTRING_START else 0
        elif t.type == tokenize.ERRORTOKEN and not t.string.strip():
            continue
        else:
            norm = t.string
        out.append(Tok(norm, t.string, start, end, line_begins and depth == 0))
        line_begins, prev = False, t.string
    return out


_FALLBACK = re.compile(
    r"(?P<comment>#[^\n]*)|(?P<string>'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'"
    r"|\"(?:\\.|[^\"\\\n])*\")|(?P<name>[A-Za-z_]\w*)|(?P<number>\d[\w.]*)|(?P<nl>\n)"
    r"|(?P<space>[ \t\r\f]+)|(?P<op>\*\*|//|==|!=|<=|>=|->|[^\s\w])",
    re.S,
)


def _fallback_tokens(source: str) -> list[Tok]:
    """Tokens of a cell that is not valid Python (one unfinished line must not hide the rest)."""
    out: list[Tok] = []
    line_begins, prev = True, ""
    for m in _FALLBACK.finditer(source):
        kind, text = m.lastgroup, m.group()
        if kind in ("comment", "space"):
            continue
        if kind == "nl":
            if out and out[-1].norm != ";":
                out.append(Tok(";", "", m.start(), m.start(), False))
            line_begins = True
            continue
        top = line_begins and (m.start() == 0 or source[m.start() - 1] == "\n")
        if kind == "name":
            keep = keyword.iskeyword(text) or text in BUILTIN_NAMES or prev == "."
            norm = text if keep else "V"
        else:
            norm = {"number": "N", "string": "S"}.get(kind, text)
        out.append(Tok(norm, text, m.start(), m.end(), top))
        line_begins, prev = False, text
    return out


def chunks(toks: list[Tok]) -> list[tuple[str | None, list[int]]]:
    """Top-level chunks: (name, token indices); each def/class alone (name: its own name),
    the other top-level statements in a run together (name None)."""
    out: list[tuple[str | None, list[int]]] = []
    decorated = False
    for i, t in enumerate(toks):
        if t.top:
            opens = t.norm in ("def", "class", "async", "@")
            if opens and not decorated:
                out.append(("", []))  # named below, at its def/class keyword
            elif not opens and (not out or out[-1][0] is not None):
                out.append((None, []))
            decorated = t.norm == "@" or (decorated and t.norm not in ("def", "class", "async"))
        elif not out:
            out.append((None, []))
        name, idx = out[-1]
        if name == "" and toks[i - 1 : i] and toks[i - 1].norm in ("def", "class"):
            out[-1] = (t.raw, idx)
        idx.append(i)
    return [(name if name != "" else None, idx) for name, idx in out]


def given_mask(toks: list[Tok], stub: list[Tok]) -> list[bool]:
    """True for the student's tokens that are the instructor's (matched to the stub, per chunk)."""
    mask = [False] * len(toks)
    stub_chunks: dict[str | None, list[str]] = defaultdict(list)
    for name, idx in chunks(stub):
        stub_chunks[name] += [stub[i].norm for i in idx]
    for name, idx in chunks(toks):
        given = stub_chunks.get(name)
        if not given:
            continue
        mine = [toks[i].norm for i in idx]
        matcher = difflib.SequenceMatcher(None, given, mine, autojunk=False)
        for block in matcher.get_matching_blocks():
            if block.size >= min(MIN_GIVEN_RUN, len(given)):
                for j in range(block.b, block.b + block.size):
                    mask[idx[j]] = True
    return mask


# ------------------------------------------------------------------------- fingerprints


@functools.lru_cache(maxsize=65536)
def _token_id(norm: str) -> int:
    return zlib.crc32(norm.encode())  # the same in every process (str hashes are salted)


def kgram_hashes(norms: list[str], k: int = K) -> list[int]:
    """A 64-bit hash of every k consecutive tokens (reproducible: tuples of ints)."""
    ids = [_token_id(n) for n in norms]
    return [hash(tuple(ids[j : j + k])) for j in range(len(ids) - k + 1)]


def winnow(hashes: list[int], window: int = WINDOW) -> list[int]:
    """Indices chosen by robust winnowing: the rightmost minimum of every window, once each."""
    window = min(window, len(hashes))
    chosen: list[int] = []
    for w in range(len(hashes) - window + 1):
        part = hashes[w : w + window]
        best = w + window - 1 - part[::-1].index(min(part))
        if not chosen or chosen[-1] != best:
            chosen.append(best)
    return chosen


def fingerprints(source: str, stub: str = "", k: int = K, window: int = WINDOW):
    """``{hash: [(start, end), ...]}`` of the student-written code of one cell.

    ``stub`` is the released version of the cell; the spans are character offsets in
    ``source`` of the k tokens each fingerprint stands for.
    """
    toks = tokens(source)
    mask = given_mask(toks, stub_tokens(stub)) if stub else [False] * len(toks)
    segments: list[list[int]] = []
    for _, idx in chunks(toks):
        run: list[int] = []
        for i in idx:
            if mask[i]:
                if run:
                    segments.append(run)
                run = []
            else:
                run.append(i)
        if run:
            segments.append(run)
    found: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for seg in segments:
        if len(seg) < k:
            continue
        hashes = kgram_hashes([toks[i].norm for i in seg], k)
        for j in winnow(hashes, window):
            span = (toks[seg[j]].start, max(toks[seg[j + k - 1]].end, toks[seg[j]].start))
            found[hashes[j]].append(span)
    return dict(found)


# ---------------------------------------------------------------------------- analysis


@dataclasses.dataclass
class Code:
    """One student's code of one exercise."""

    student_id: str
    source: str
    prints: dict  # fingerprint -> spans in source


@dataclasses.dataclass
class Pair:
    a: str
    b: str
    shared: int  # fingerprints both hold, idioms of the class left out
    share_a: float  # of a's fingerprints (idioms left out), the part found in b
    share_b: float

    @property
    def similarity(self) -> float:
        """Dice's coefficient: shared fingerprints over the mean size of the two solutions.

        Unlike the larger of the two shares, a short solution that happens to be contained in a
        long one (the obvious three-line forward pass) scores low; a copy padded with as much
        code of its own still scores 2/3.
        """
        return 2 / (1 / self.share_a + 1 / self.share_b)


@dataclasses.dataclass
class Exercise:
    notebook: str
    grade_id: str
    codes: dict  # student -> Code (students whose cell holds code of their own)
    cap: int  # fingerprints of more students than this are idioms
    pairs: list  # flagged Pairs, most similar first
    clusters: list  # lists of students linked by flagged pairs (two or more)
    common: set  # the idiom fingerprints (not evidence, not marked)


@dataclasses.dataclass
class Analysis:
    assignment: str
    students: list  # every student with a submission folder
    skipped: list  # (student, notebook, why) of notebooks that could not be read
    exercises: list
    threshold: float

    def repeated(self) -> list[tuple[tuple[str, str], list[str]]]:
        """Pairs of students flagged together in two or more exercises."""
        seen: dict[tuple[str, str], list[str]] = defaultdict(list)
        for ex in self.exercises:
            for p in ex.pairs:
                seen[p.a, p.b].append(ex.grade_id)
        return sorted(((k, v) for k, v in seen.items() if len(v) > 1), key=lambda x: -len(x[1]))


def common_cap(n: int) -> int:
    """A fingerprint held by more than this many of ``n`` students is ignored as an idiom."""
    return max(COMMON_MIN, math.ceil(COMMON_FRACTION * n))


def compare(codes: dict[str, Code], threshold: float = THRESHOLD, min_shared: int = MIN_SHARED):
    """Flagged pairs (most similar first) and the idiom fingerprints, by an inverted index."""
    index: dict[int, list[str]] = defaultdict(list)
    for sid in sorted(codes):
        for h in codes[sid].prints:
            index[h].append(sid)
    cap = common_cap(len(codes))
    common = {h for h, who in index.items() if len(who) > cap}
    counts: Counter = Counter()
    for who in index.values():
        if 1 < len(who) <= cap:
            for i, a in enumerate(who):
                for b in who[i + 1 :]:
                    counts[a, b] += 1
    own = {}  # per student, the fingerprints that are not idioms: what a share is out of
    pairs = []
    for (a, b), shared in counts.items():
        if shared < min_shared:
            continue
        for sid in (a, b):
            if sid not in own:
                own[sid] = sum(h not in common for h in codes[sid].prints)
        pair = Pair(a, b, shared, shared / own[a], shared / own[b])
        if pair.similarity >= threshold:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-p.similarity, -p.shared, p.a, p.b))
    return pairs, common, cap


def clusters(pairs: list[Pair]) -> list[list[str]]:
    """Connected groups of students linked by flagged pairs, largest first."""
    parent: dict[str, str] = {}

    def root(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[root(p.a)] = root(p.b)
    groups: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        groups[root(x)].append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def _cell_source(cell) -> str:
    src = cell.get("source", "")
    return "".join(map(str, src)) if isinstance(src, list) else str(src)


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None  # a student's notebook may hold anything


def _read(path: Path) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("no cells")
    return nb


def solution_cells(course, aid: str) -> list[tuple[str, str, str]]:
    """(notebook, grade_id, released stub source) of every solution code cell, in order."""
    notebooks = course.notebooks(aid)
    if not notebooks:
        raise ValueError(
            f"similarity: assignment {aid!r} is not released in {course.root} "
            "(expected source/ASSIGNMENT/*.ipynb: run `python -m autograder release` first)"
        )
    out = []
    for nb_id in notebooks:
        source = _read(course.source / aid / f"{nb_id}.ipynb")
        release_path = course.release_dir / aid / f"{nb_id}.ipynb"
        if not release_path.is_file():
            raise ValueError(f"similarity: no released notebook {release_path}: run `release`")
        stubs = {_grade_id(c): _cell_source(c) for c in _read(release_path)["cells"]}
        for cell in source["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
                out.append((nb_id, meta["grade_id"], stubs.get(meta["grade_id"], "")))
    return out


def read_student(folder: Path, stubs: dict, max_mb: float = 20) -> tuple[dict, list]:
    """One student's ``{(notebook, grade_id): Code}`` and ``[(student, notebook, why)]``.

    ``stubs`` maps each solution cell (notebook, grade_id) to its released source; a notebook
    larger than ``max_mb`` is not read (the assignment's ``max_notebook_mb``, as ``grade``).
    """
    sid, codes, skipped = folder.parent.name, {}, []
    for nb_id in sorted({nb for nb, _ in stubs}):
        path = folder / f"{nb_id}.ipynb"
        if not path.is_file():
            skipped.append((sid, nb_id, "notebook not submitted"))
            continue
        if path.stat().st_size > max_mb * 2**20:
            skipped.append((sid, nb_id, f"notebook larger than {max_mb:g} MB"))
            continue
        try:
            nb = _read(path)
        except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
            skipped.append((sid, nb_id, f"not a readable notebook ({type(exc).__name__})"))
            continue
        for cell in nb["cells"]:
            key = (nb_id, _grade_id(cell))
            if key not in stubs or key in codes or cell.get("cell_type") != "code":
                continue  # not a solution cell, or a duplicate id (nbgrader keeps the first)
            source = _cell_source(cell)
            codes[key] = Code(sid, source, fingerprints(source, stubs[key]))
    return {key: code for key, code in codes.items() if code.prints}, skipped


def analyse(
    course, aid: str, threshold: float = THRESHOLD, min_shared: int = MIN_SHARED, workers=None
) -> Analysis:
    """Every student's solution cells of ``aid`` (from ``submitted/``), compared per exercise.

    Students are read and fingerprinted in ``workers`` processes (default: one per core);
    the comparison, in this process, takes a small part of the time.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"similarity: threshold must be in (0, 1], got {threshold}")
    if workers is not None and workers < 1:
        raise ValueError(f"similarity: --workers must be at least 1, got {workers}")
    cells = solution_cells(course, aid)
    folders = sorted(
        p for p in course.submitted.glob(f"*/{aid}") if p.is_dir() and not p.is_symlink()
    )
    if not folders:
        raise ValueError(
            f"similarity: no submissions of {aid!r} in {course.submitted} "
            "(expected submitted/STUDENT/ASSIGNMENT/*.ipynb, as `grade` or nbgrader's collect "
            "leave them)"
        )
    stubs = {(nb, gid): stub for nb, gid, stub in cells}
    codes: dict[tuple[str, str], dict[str, Code]] = {key: {} for key in stubs}
    skipped = []
    workers = min(workers or os.cpu_count() or 1, max(1, len(folders) // 20))
    max_mb = course.limits(aid).max_notebook_mb
    read = functools.partial(read_student, stubs=stubs, max_mb=max_mb)
    if workers > 1:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(read, folders, chunksize=8))
    else:
        results = map(read, folders)
    for found, not_read in results:
        for key, code in found.items():
            codes[key][code.student_id] = code
        skipped += not_read
    exercises = []
    for (nb_id, gid), by_student in codes.items():
        pairs, common, cap = compare(by_student, threshold, min_shared)
        exercises.append(Exercise(nb_id, gid, by_student, cap, pairs, clusters(pairs), common))
    return Analysis(aid, [p.parent.name for p in folders], skipped, exercises, threshold)


# ------------------------------------------------------------------------------- page

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em}
th{background:#f3f4f6;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.notice{border:2px solid #9a6700;background:#fff8c5;padding:.6em 1em;margin:1em 0}
.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.85em;margin:.3em 0}
mark{background:#ffd8a8}details{margin:.4em 0 .8em}summary{cursor:pointer}.muted{color:#666}
"""

NOTICE = (
    "This page is evidence for a person to look at, never a penalty. Code can look alike for "
    "good reasons: a short exercise has few ways to be written, students may work together "
    "where that is allowed, and everyone learned from the same lecture notes. Read both "
    "solutions, and talk with the students, before drawing any conclusion."
)


def _marked(source: str, spans) -> str:
    """``source`` escaped for HTML, the character ranges ``spans`` inside ``<mark>``."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, pos = [], 0
    for s, e in merged:
        out.append(html.escape(source[pos:s]))
        out.append(f"<mark>{html.escape(source[s:e])}</mark>")
        pos = e
    out.append(html.escape(source[pos:]))
    return "".join(out)


def _pair_html(ex: Exercise, pair: Pair, open_: bool = False) -> str:
    esc = html.escape
    a, b = ex.codes[pair.a], ex.codes[pair.b]
    shared = (set(a.prints) & set(b.prints)) - ex.common
    sides = []
    for code, share in ((a, pair.share_a), (b, pair.share_b)):
        spans = [span for h in shared for span in code.prints[h]]
        sides.append(
            f"<div><b>{esc(code.student_id)}</b> <span class='muted'>{100 * share:.0f} % of "
            f"its {len(set(code.prints) - ex.common)} fingerprints (idioms left out) in the "
            "other</span>"
            f"<pre>{_marked(code.source, spans)}</pre></div>"
        )
    return (
        f"<details{' open' if open_ else ''}><summary>{esc(pair.a)} &amp; {esc(pair.b)}: "
        f"{100 * pair.similarity:.0f} %, "
        f"{pair.shared} shared fingerprints</summary><div class='side'>{''.join(sides)}</div>"
        "</details>"
    )


def _table(head, rows, numeric=()) -> str:
    esc = html.escape
    out = ["<table><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        cells = (
            f"<td{' class=n' if i in numeric else ''}>{esc(str(v))}</td>" for i, v in enumerate(row)
        )
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def render(data: Analysis) -> str:
    esc = html.escape
    flagged = sum(len(ex.pairs) for ex in data.exercises)
    parts = [
        f"<p class='notice'><b>{esc(NOTICE)}</b></p>",
        f"<p>{len(data.students)} students submitted; {len(data.exercises)} exercises (solution "
        f"cells) compared; {flagged} pair(s) at or above {100 * data.threshold:.0f} % "
        f"similarity. <a href='{esc(data.assignment)}.html'>Back to the report</a>.</p>",
        "<p class='muted'>Only what students wrote in the solution cells counts: the released "
        "stub (given lines, docstrings) is removed first. Names, comments, layout and the order "
        f"of functions do not matter. A pair is listed when it shares at least {MIN_SHARED} "
        f"fingerprints (runs of {K} tokens) and its similarity, the shared fingerprints over "
        f"the mean number of the two, is at least {100 * data.threshold:.0f} %; a fingerprint "
        "that many students share (an idiom of the class) is not counted. Marked: the code "
        "both hold. The most similar pairs are open; click a line to open or close it.</p>",
        "<h2>Exercises</h2>",
        _table(
            ["notebook", "exercise", "students with code", "flagged pairs", "groups"],
            [
                (ex.notebook, ex.grade_id, len(ex.codes), len(ex.pairs), len(ex.clusters))
                for ex in data.exercises
            ],
            numeric=(2, 3, 4),
        ),
    ]
    repeated = data.repeated()
    if repeated:
        parts.append("<h2>Students alike in several exercises</h2>")
        parts.append(
            _table(
                ["student", "student", "exercises"],
                [(a, b, ", ".join(gids)) for (a, b), gids in repeated],
            )
        )
    for ex in data.exercises:
        if not ex.pairs:
            continue
        parts.append(f"<h2>{esc(ex.grade_id)} <span class='muted'>({esc(ex.notebook)})</span></h2>")
        groups = [", ".join(g) for g in ex.clusters]
        parts.append("<p>Groups: " + esc("; ".join(groups)) + "</p>")
        parts.append(
            _table(
                ["student", "student", "similarity", "shared fingerprints"],
                [(p.a, p.b, f"{100 * p.similarity:.0f} %", p.shared) for p in ex.pairs],
                numeric=(2, 3),
            )
        )
        for n, pair in enumerate(ex.pairs[:MAX_PAIRS_SHOWN]):
            parts.append(_pair_html(ex, pair, open_=n < PAIRS_OPEN))
        if len(ex.pairs) > MAX_PAIRS_SHOWN:
            rest = len(ex.pairs) - MAX_PAIRS_SHOWN
            parts.append(f"<p class='muted'>{rest} less similar pair(s) listed above only.</p>")
    if data.skipped:
        parts.append("<h2>Notebooks not read</h2>")
        parts.append(_table(["student", "notebook", "why"], data.skipped))
    title = f"Similarity: {data.assignment}"
    return (
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style><body><h1>{esc(title)}</h1>{''.join(parts)}</body></html>"
    )


def page_path(course, aid: str) -> Path:
    return course.root / "reports" / f"{aid}-similarity.html"


def write_page(course, aid: str, threshold=THRESHOLD, workers=None) -> tuple[Path, Analysis]:
    """Analyse ``aid`` and write ``reports/ASSIGNMENT-similarity.html``; returns both."""
    data = analyse(course, aid, threshold, workers=workers)
    out = page_path(course, aid)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, render(data))
    return out, data
