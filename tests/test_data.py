"""Tests for nncourse.data: generators, bundled digits, IDX reader, splits, preprocessing."""

import gzip
import struct

import numpy as np
import pytest

from nncourse import data

GENERATORS = {
    "linearly_separable": (data.linearly_separable, 2),
    "xor": (data.xor, 2),
    "blobs": (data.blobs, 3),
    "moons": (data.moons, 2),
    "circles": (data.circles, 2),
    "spirals": (data.spirals, 2),
}


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_shapes_dtypes_balance(name):
    fn, k = GENERATORS[name]
    X, y = fn(n_samples=101, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.unique(y, return_counts=True)[1]
    assert len(counts) == k and counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", sorted(GENERATORS) + ["regression_1d"])
def test_generator_seeding(name):
    fn = data.regression_1d if name == "regression_1d" else GENERATORS[name][0]
    a = fn(n_samples=50, seed=3)
    b = fn(n_samples=50, rng=3)
    c = fn(n_samples=50, rng=np.random.default_rng(3))
    d = fn(n_samples=50, seed=4)
    for u, v, w in zip(a, b, c):
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(u, w)
    assert not np.array_equal(a[0], d[0])


def test_generator_rng_and_seed_together_rejected():
    with pytest.raises(ValueError, match="not both"):
        data.moons(rng=1, seed=1)
    with pytest.raises(TypeError, match="Generator"):
        data.moons(rng="seed")


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5, 1.5])
def test_linearly_separable_margin(margin):
    X, y, w, b = data.linearly_separable(300, margin=margin, noise=0.3, seed=1, return_params=True)
    assert np.isclose(np.linalg.norm(w), 1.0)
    signed = X @ w + b
    assert np.all(np.sign(signed) == y)  # labels are sign(w.x + b) in {-1, +1}
    assert np.min(np.abs(signed)) >= margin


def test_linearly_separable_label_codings():
    _, y_pm = data.linearly_separable(40, seed=0)
    _, y_01 = data.linearly_separable(40, seed=0, labels="01")
    assert set(np.unique(y_pm)) == {-1, 1}
    np.testing.assert_array_equal(y_01, (y_pm + 1) // 2)
    with pytest.raises(ValueError, match="labels"):
        data.linearly_separable(40, labels="bool")


def test_xor_not_linearly_separable_but_quadrant_rule_holds():
    X, y = data.xor(400, noise=0.1, seed=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))
    # Best linear separator through least squares gets about chance accuracy.
    A = np.c_[X, np.ones(len(X))]
    coef = np.linalg.lstsq(A, 2 * y - 1, rcond=None)[0]
    assert np.mean((A @ coef > 0) == y) < 0.7
    _, ypm = data.xor(40, seed=0, labels="pm1")
    assert set(np.unique(ypm)) == {-1, 1}


def test_blobs_explicit_centers():
    centers = np.array([[0.0, 0.0], [10.0, 10.0]])
    X, y = data.blobs(200, centers=centers, cluster_std=0.1, seed=0)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centers[k], atol=0.05)
    with pytest.raises(ValueError, match="centers"):
        data.blobs(10, centers=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="cluster_std"):
        data.blobs(10, cluster_std=-1.0)


def test_circles_radii_and_factor():
    X, y = data.circles(200, noise=0.0, factor=0.3, seed=0)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)
    with pytest.raises(ValueError, match="factor"):
        data.circles(10, factor=1.0)


def test_moons_noise_free_on_arcs():
    X, y = data.moons(100, noise=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0)


def test_spirals_three_arms():
    X, y = data.spirals(300, n_arms=3, noise=0.0, seed=0)
    assert np.array_equal(np.bincount(y), [100, 100, 100])
    assert np.linalg.norm(X, axis=1).max() <= 1.0 + 1e-12
    with pytest.raises(ValueError, match="n_arms"):
        data.spirals(30, n_arms=1)


@pytest.mark.parametrize("kind", ["sine", "step"])
def test_regression_1d(kind):
    X, y = data.regression_1d(200, kind=kind, noise=0.0, seed=0)
    assert X.shape == (200, 1) and y.shape == (200, 1) and y.dtype == np.float64
    assert np.all(np.diff(X[:, 0]) >= 0)
    expected = np.sin(X) if kind == "sine" else (X >= 0).astype(float)
    np.testing.assert_allclose(y, expected)
    _, y_noisy = data.regression_1d(200, kind=kind, noise=0.5, seed=0)
    assert 0.3 < np.std(y_noisy - expected) < 0.7
    with pytest.raises(ValueError, match="kind"):
        data.regression_1d(10, kind="cubic")


@pytest.mark.parametrize(
    "call, exc, msg",
    [
        (lambda: data.moons(0), ValueError, "moons: expected a positive int n_samples, got 0"),
        (lambda: data.xor(-5), ValueError, "n_samples"),
        (
            lambda: data.circles(2.5),
            TypeError,
            "circles: expected a positive int n_samples, got 2.5",
        ),
        (lambda: data.moons(10, noise=-0.1), ValueError, "noise"),
        (lambda: data.spirals(10, noise=float("nan")), ValueError, "noise"),
        (lambda: data.linearly_separable(10, margin=-1), ValueError, "margin"),
        (lambda: data.regression_1d(10, x_range=(1, -1)), ValueError, "x_range"),
    ],
)
def test_generator_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ----------------------------------------------------------------------------- digits


def test_load_digits_counts_and_range():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 16.0
    np.testing.assert_array_equal(X, np.round(X))
    np.testing.assert_array_equal(
        np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    )
    # First image of the UCI test set is a zero.
    assert y[0] == 0
    np.testing.assert_array_equal(X[0, :8], [0, 0, 5, 13, 9, 1, 0, 0])


def test_load_digits_images_and_copies():
    images, y = data.load_digits(return_images=True)
    X, _ = data.load_digits()
    assert images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    X[:] = -1  # callers own their copy; the cache is untouched
    assert data.load_digits()[0].min() == 0.0


def test_digits_licence_shipped():
    text = (data.DIGITS_PATH.parent / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text and "10.24432/C50P49" in text


# ----------------------------------------------------------------------------- MNIST / IDX


def _idx_bytes(array, code=0x08):
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, code, array.ndim)
    header += b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_mnist(folder, kind, images, labels, gz):
    for stem, arr in ((f"{kind}-images-idx3-ubyte", images), (f"{kind}-labels-idx1-ubyte", labels)):
        raw = _idx_bytes(arr.astype(np.uint8))
        if gz:
            with gzip.open(folder / (stem + ".gz"), "wb") as fh:
                fh.write(raw)
        else:
            (folder / stem).write_bytes(raw)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["train", "t10k"])
def test_load_mnist_roundtrip(tmp_path, gz, kind):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    _write_mnist(tmp_path, kind, images, labels, gz)
    X, y = data.load_mnist(tmp_path, kind=kind)
    assert X.shape == (5, 784) and X.dtype == np.float32
    np.testing.assert_array_equal(X, images.reshape(5, -1))
    np.testing.assert_array_equal(y, labels)
    assert y.dtype == np.int64
    X3, _ = data.load_mnist(str(tmp_path), kind=kind, flatten=False, dtype=np.float64)
    assert X3.shape == (5, 28, 28) and X3.dtype == np.float64


def test_read_idx_other_types(tmp_path):
    a = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    (tmp_path / "a.idx").write_bytes(_idx_bytes(a, code=0x0C))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a.idx"), a)


def test_load_mnist_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist(tmp_path, kind="t10k")
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert str(tmp_path.resolve()) in msg
    # only the labels missing: the message names just them
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte") as info:
        data.load_mnist(tmp_path)
    assert "missing train-images" not in str(info.value)


def test_load_mnist_bad_kind(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        data.load_mnist(tmp_path, kind="validation")


def test_load_mnist_corrupt_files(tmp_path):
    images = np.zeros((4, 3, 3), np.uint8)
    labels = np.zeros(4, np.uint8)
    _write_mnist(tmp_path, "train", images, labels, gz=False)
    img = tmp_path / "train-images-idx3-ubyte"
    good = img.read_bytes()

    img.write_bytes(good[:-5])  # truncated data
    with pytest.raises(ValueError, match="truncated"):
        data.load_mnist(tmp_path)
    img.write_bytes(good[:10])  # truncated header
    with pytest.raises(ValueError, match="truncated"):
        data.load_mnist(tmp_path)
    img.write_bytes(b"\x12\x34" + good[2:])  # wrong magic
    with pytest.raises(ValueError, match="not an IDX file"):
        data.load_mnist(tmp_path)
    img.write_bytes(good + b"\x00")  # trailing bytes
    with pytest.raises(ValueError, match="longer than"):
        data.load_mnist(tmp_path)
    img.write_bytes(_idx_bytes(np.zeros((3, 3, 3), np.uint8)))  # 3 images, 4 labels
    with pytest.raises(ValueError, match="3 images .* 4 labels"):
        data.load_mnist(tmp_path)
    img.write_bytes(_idx_bytes(np.zeros((4, 9), np.uint8)))  # labels-like shape for images
    with pytest.raises(ValueError, match="images"):
        data.load_mnist(tmp_path)


def test_load_mnist_corrupt_gzip(tmp_path):
    _write_mnist(tmp_path, "train", np.zeros((2, 2, 2)), np.zeros(2), gz=True)
    gz = tmp_path / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-12])  # cut the gzip stream short
    with pytest.raises(ValueError, match="gzip"):
        data.load_mnist(tmp_path)
    gz.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="gzip"):
        data.load_mnist(tmp_path)


# ----------------------------------------------------------------------------- split, one-hot


def test_split_sizes_disjoint_and_seeded():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.arange(100)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = data.train_val_test_split(X, y, 0.2, 0.1, seed=0)
    assert (len(ytr), len(yva), len(yte)) == (70, 20, 10)
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yva, yte])), y)
    for Xp, yp in ((Xtr, ytr), (Xva, yva), (Xte, yte)):
        np.testing.assert_array_equal(Xp[:, 0], 2 * yp)  # rows stay paired with labels
    again = data.train_val_test_split(X, y, 0.2, 0.1, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again[0][1], ytr)
    other = data.train_val_test_split(X, y, 0.2, 0.1, seed=1)
    assert not np.array_equal(other[0][1], ytr)


def test_split_stratified_keeps_proportions():
    y = np.repeat([0, 1, 2], [100, 60, 40])
    X = np.zeros((200, 1))
    (_, ytr), (_, yva), (_, yte) = data.train_val_test_split(X, y, 0.2, 0.2, seed=0, stratify=True)
    np.testing.assert_array_equal(np.bincount(yva), [20, 12, 8])
    np.testing.assert_array_equal(np.bincount(yte), [20, 12, 8])
    np.testing.assert_array_equal(np.bincount(ytr), [60, 36, 24])


def test_split_zero_val_gives_empty_part():
    (Xtr, _), (Xva, yva), _ = data.train_val_test_split(np.zeros((10, 3)), np.zeros(10), 0.0, 0.2)
    assert Xva.shape == (0, 3) and len(yva) == 0 and len(Xtr) == 8


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(val=0.5, test=0.5), ValueError, "must be < 1"),
        (dict(val=0.7, test=0.4), ValueError, "must be < 1"),
        (dict(val=-0.1), ValueError, r"expected 0 <= val < 1, got -0.1"),
        (dict(test=1.0), ValueError, "expected 0 <= test < 1, got 1.0"),
        (dict(val="0.1"), TypeError, "expected a real number val"),
    ],
)
def test_split_bad_fractions(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        data.train_val_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)


def test_split_bad_data():
    with pytest.raises(ValueError, match="empty"):
        data.train_val_test_split(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        data.train_val_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="too few"):
        data.train_val_test_split(np.zeros((2, 2)), np.zeros(2), 0.3, 0.3)


def test_one_hot():
    Y = data.one_hot(np.array([2, 0, 1, 2]))
    np.testing.assert_array_equal(Y, np.eye(3)[[2, 0, 1, 2]])
    assert Y.dtype == np.float64
    assert data.one_hot(np.array([1, 0]), num_classes=5).shape == (2, 5)
    np.testing.assert_array_equal(data.one_hot(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="1-D"):
        data.one_hot(np.zeros((2, 2), int))
    with pytest.raises(ValueError, match=">= 0"):
        data.one_hot(np.array([-1, 0]))
    with pytest.raises(ValueError, match="num_classes=2"):
        data.one_hot(np.array([0, 3]), num_classes=2)
    with pytest.raises(ValueError, match="integer"):
        data.one_hot(np.array([0.5, 1.0]))
    with pytest.raises(TypeError, match="dtype"):
        data.one_hot(np.array(["a", "b"]))


# ----------------------------------------------------------------------------- preprocessing


def _correlated(n=500, seed=0):
    rng = np.random.default_rng(seed)
    A = np.array([[3.0, 0.0, 0.0], [1.0, 0.5, 0.0], [-2.0, 0.3, 0.2]])
    return rng.standard_normal((n, 3)) @ A.T + np.array([5.0, -2.0, 1.0])


def test_standardizer_zero_mean_unit_std_and_inverse():
    X = _correlated()
    s = data.Standardizer()
    Z = s.fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(s.inverse_transform(Z), X)


def test_standardizer_constant_feature_guard():
    X = np.c_[np.arange(5.0), np.full(5, 7.0)]
    Z = data.Standardizer().fit_transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(Z[:, 1], 0.0)


@pytest.mark.parametrize(
    "cls", [data.Standardizer, data.PCAWhitening, data.ZCAWhitening], ids=lambda c: c.__name__
)
def test_preprocessor_protocol_errors(cls):
    p = cls()
    with pytest.raises(data.NotFittedError, match="fit"):
        p.transform(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        p.fit(np.zeros(5))
    with pytest.raises(ValueError, match="empty"):
        p.fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        p.fit(np.array([[1.0, np.nan], [0.0, 1.0]]))
    X = _correlated()
    p.fit(X)
    with pytest.raises(ValueError, match="expected X with 3 features .* got 2"):
        p.transform(np.zeros((4, 2)))


@pytest.mark.parametrize(
    "cls", [data.Standardizer, data.PCAWhitening, data.ZCAWhitening], ids=lambda c: c.__name__
)
def test_fit_statistics_unchanged_by_transform(cls):
    X = _correlated()
    p = cls().fit(X)
    before = {k: np.copy(v) for k, v in vars(p).items() if isinstance(v, np.ndarray)}
    Z1 = p.transform(X[:10])
    p.transform(_correlated(seed=7) * 10 + 3)  # other data: must not refit
    for k, v in vars(p).items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, before[k], err_msg=k)
    np.testing.assert_array_equal(p.transform(X[:10]), Z1)
    # statistics come from the training set: the mean matches X's mean
    np.testing.assert_allclose(p.mean_, X.mean(axis=0))


@pytest.mark.parametrize("cls", [data.PCAWhitening, data.ZCAWhitening], ids=lambda c: c.__name__)
def test_whitened_training_covariance_is_identity(cls):
    X = _correlated()
    Z = cls().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.eye(3), atol=1e-3)
    # not true of held-out data exactly, but close
    Zt = cls().fit(X).transform(_correlated(n=5000, seed=1))
    np.testing.assert_allclose(np.cov(Zt.T, bias=True), np.eye(3), atol=0.1)


def test_eps_guards_small_eigenvalues():
    X = _correlated()
    X = np.c_[X, X[:, 0] * 2.0]  # rank-deficient: one eigenvalue is 0
    for cls in (data.PCAWhitening, data.ZCAWhitening):
        Z = cls(eps=1e-5).fit_transform(X)
        assert np.all(np.isfinite(Z))
        assert np.abs(Z).max() < 100
        cov = Z.T @ Z / len(Z)
        # three directions whitened, the null direction stays ~0 instead of exploding
        np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(cov)), [0, 1, 1, 1], atol=1e-3)
    with pytest.raises(ValueError, match="eps"):
        data.ZCAWhitening(eps=0)


def test_pca_whitening_components_and_inverse():
    X = _correlated()
    p = data.PCAWhitening().fit(X)
    assert np.all(np.diff(p.eigenvalues_) <= 0)  # descending
    np.testing.assert_allclose(p.inverse_transform(p.transform(X)), X, atol=1e-10)
    p2 = data.PCAWhitening(n_components=2).fit(X)
    Z = p2.transform(X)
    assert Z.shape == (500, 2)
    np.testing.assert_allclose(Z.T @ Z / 500, np.eye(2), atol=1e-4)
    with pytest.raises(ValueError, match="n_components"):
        data.PCAWhitening(n_components=4).fit(X)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        p2.inverse_transform(np.zeros((3, 3)))


def test_zca_symmetric_and_closest_whitening():
    X = _correlated()
    z = data.ZCAWhitening(eps=1e-9).fit(X)
    np.testing.assert_allclose(z.W_, z.W_.T, atol=1e-12)
    Xc = X - X.mean(axis=0)
    Z = z.transform(X)
    np.testing.assert_allclose(z.inverse_transform(Z), X, atol=1e-8)
    zca_dist = np.linalg.norm(Z - Xc)
    # Any other whitening is Z @ Q for an orthogonal Q (PCA whitening among them)
    pca = data.PCAWhitening(eps=1e-9).fit_transform(X)
    assert np.linalg.norm(pca - Xc) > zca_dist
    rng = np.random.default_rng(0)
    for _ in range(20):
        Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        assert np.linalg.norm(Z @ Q - Xc) >= zca_dist - 1e-9
