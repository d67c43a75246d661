"""Shared fixtures: run the numerical core on every usable array backend.

``xp`` is parametrised over ``numpy`` and ``cupy``; the CuPy cases run when
``nncourse.backend.available()`` lists CuPy and are skipped with the reason
otherwise. ``NNCOURSE_BACKEND=cupy pytest`` makes CuPy the default backend for
the whole run (tests that do not ask for ``xp`` then run on the GPU too); when
CuPy is requested that way but unusable, the run stops with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from nncourse import backend
except RuntimeError as exc:  # NNCOURSE_BACKEND=cupy on a machine without a usable GPU
    pytest.exit(f"NNCOURSE_BACKEND={os.environ.get('NNCOURSE_BACKEND')!r}: {exc}", returncode=4)

DEFAULT_BACKEND = backend.name  # numpy, or what NNCOURSE_BACKEND selected

# MathJax for the feedback pages' math: the copy that `npm ci --prefix deploy/hub` (CI's and
# `make hub`'s set-up step) installed, so that no test installs it with npm while it runs; set
# before any test imports autograder.reporting.mathsvg, and inherited by the commands tests start
_HUB_NODE = Path(__file__).resolve().parents[1] / "deploy" / "hub"
if (
    not os.environ.get("AUTOGRADER_VENDOR")
    and (_HUB_NODE / "node_modules" / "mathjax-full" / "js" / "mathjax.js").is_file()
):
    os.environ["AUTOGRADER_VENDOR"] = str(_HUB_NODE)


def cupy_unavailable_reason() -> str | None:
    """None when CuPy is usable, else why not (from ``backend.use('cupy')``)."""
    if "cupy" in backend.available():
        return None
    previous = backend.name
    try:
        backend.use("cupy")
    except RuntimeError as exc:
        return str(exc)
    finally:
        backend.use(previous)
    return "backend.available() does not list cupy"


@pytest.fixture(autouse=True)
def _restore_backend():
    """Every test starts and ends on the session's default backend."""
    backend.use(DEFAULT_BACKEND)
    yield
    backend.use(DEFAULT_BACKEND)


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module of the backend under test, made the active backend."""
    if request.param == "cupy":
        why = cupy_unavailable_reason()
        if why is not None:
            pytest.skip(f"CuPy backend not available: {why}")
    return backend.use(request.param)


@pytest.fixture
def numpy_backend():
    """For checks that only exist on the host (NaN scans, label ranges)."""
    return backend.use("numpy")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)


# `make test` runs `pytest -n auto --dist loadscope` with the scheduler below: every test file
# is one unit of work, kept whole on one worker (its module fixtures start real hubs, clusters,
# browsers and slide builds once), except the files listed here, whose cases are independent
# notebook runs (one per assignment, each up to a minute of one core): each case is a unit of
# its own, so the notebooks spread over the workers. (xdist's own `loadgroup` marks would say
# the same, but its renaming of node ids no longer takes effect under pytest 9.)
SPREAD_OVER_WORKERS = {"test_notebooks.py", "test_autograder_notebooks.py"}


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesWholeNotebooksSpread(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return nodeid if Path(path).name in SPREAD_OVER_WORKERS else path

    return FilesWholeNotebooksSpread(config, log)
