"""Shared fixtures: run the numerical core on every usable array backend.

``xp`` is parametrised over ``numpy`` and ``cupy``; the CuPy cases run when
``nncourse.backend.available()`` lists CuPy and are skipped with the reason
otherwise. ``NNCOURSE_BACKEND=cupy pytest`` makes CuPy the default backend for
the whole run (tests that do not ask for ``xp`` then run on the GPU too); when
CuPy is requested that way but unusable, the run stops with the reason.
"""

from __future__ import annotations

import os

import pytest

try:
    from nncourse import backend
except RuntimeError as exc:  # NNCOURSE_BACKEND=cupy on a machine without a usable GPU
    pytest.exit(f"NNCOURSE_BACKEND={os.environ.get('NNCOURSE_BACKEND')!r}: {exc}", returncode=4)

DEFAULT_BACKEND = backend.name  # numpy, or what NNCOURSE_BACKEND selected


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


# `make test` runs `pytest -n auto --dist loadgroup`: the files listed here hold independent
# notebook runs (one case per assignment, each a minute of one core) and are spread over the
# workers case by case; every other file stays whole on one worker, as its module fixtures
# start real hubs, clusters, browsers and slide builds once.
SPREAD_OVER_WORKERS = {"test_notebooks.py", "test_autograder_notebooks.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name not in SPREAD_OVER_WORKERS:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
