"""Backend selection: numpy, cupy (skipped cleanly without a GPU), auto, env var."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from nncourse import backend


def test_use_numpy_and_helpers():
    assert backend.use("numpy") is np and backend.xp is np and backend.name == "numpy"
    assert backend.use("NumPy") is np
    a = np.arange(3)
    assert backend.get_array_module(a) is np and backend.get_array_module([1]) is np
    assert backend.to_numpy(a) is a
    np.testing.assert_array_equal(backend.to_numpy([1, 2]), [1, 2])
    assert "numpy" in backend.available()


@pytest.mark.parametrize("bad", ["bogus", "", 3, None])
def test_unknown_backend(bad):
    with pytest.raises(
        ValueError, match=r"backend.use: expected one of \('numpy', 'cupy', 'auto'\), got"
    ):
        backend.use(bad)
    assert backend.name in ("numpy", "cupy")  # unchanged


def test_cupy_without_gpu_is_a_clear_error_and_auto_falls_back():
    if "cupy" in backend.available():
        pytest.skip("a GPU is usable here; the no-GPU path cannot be exercised")
    with pytest.raises(ValueError, match=r"backend.use\('cupy'\): CuPy .*Use 'numpy' or 'auto'"):
        backend.use("cupy")
    assert backend.use("auto") is np and backend.name == "numpy"


def test_cupy_round_trip(xp):
    a = xp.asarray([1.0, 2.0])
    assert backend.get_array_module(a) is xp
    out = backend.to_numpy(a)
    assert isinstance(out, np.ndarray) and out.tolist() == [1.0, 2.0]


def run_with_env(value):
    code = "import nncourse.backend as b; print(b.name)"
    env = dict(os.environ, NNCOURSE_BACKEND=value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_env_var_is_honoured():
    assert run_with_env("numpy").stdout.strip() == "numpy"
    assert run_with_env("auto").stdout.strip() in backend.available()
    bad = run_with_env("bogus")
    assert bad.returncode != 0 and "backend.use: expected one of" in bad.stderr
