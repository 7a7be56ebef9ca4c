import gzip
import os
import struct
import time

import numpy as np
import pytest

from infozoo.settings import config
from infozoo.data import loaders as data
from infozoo.run import train


def _write_idx(path, arr, gz=True):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.RandomState(0)
    xtr, xte = rng.randint(0, 256, (20, 6, 6)), rng.randint(0, 256, (7, 6, 6))
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", xtr)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.randint(0, 10, 20))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", xte, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.randint(0, 10, 7))
    return tmp_path, xtr, xte


def test_idx_files_parse(idx_dir):
    d, xtr, xte = idx_dir
    a, ya, b, yb = data.load_arrays("fashion_mnist", str(d))
    assert a.shape == (20, 6, 6, 1) and b.shape == (7, 6, 6, 1) and a.dtype == np.float32
    np.testing.assert_allclose(a[..., 0], xtr / 255.0, rtol=1e-6)
    np.testing.assert_allclose(b[..., 0], xte / 255.0, rtol=1e-6)
    assert ya.shape == (20,) and 0.0 <= a.min() and a.max() <= 1.0
    a5 = data.load_arrays("fashion_mnist", str(d), train_size=5, test_size=3)
    assert len(a5[0]) == 5 and len(a5[2]) == 3


def test_corrupt_idx_is_a_clear_error(idx_dir):
    d, _, _ = idx_dir
    with gzip.open(d / "train-images-idx3-ubyte.gz", "rb") as f:
        raw = f.read()
    with gzip.open(d / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(data.DatasetUnavailable, match="truncated or corrupt"):
        data.load_arrays("mnist", str(d))
    (d / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(data.DatasetUnavailable, match="cannot read IDX"):
        data.load_arrays("mnist", str(d))


def test_keras_npz(tmp_path):
    rng = np.random.RandomState(1)
    np.savez(tmp_path / "mnist.npz", x_train=rng.randint(0, 256, (9, 4, 4), dtype=np.uint8),
             y_train=np.arange(9), x_test=rng.randint(0, 256, (3, 4, 4), dtype=np.uint8),
             y_test=np.arange(3))
    a, _, b, _ = data.load_arrays("mnist", str(tmp_path))
    assert a.shape == (9, 4, 4, 1) and b.shape == (3, 4, 4, 1) and a.max() <= 1.0


def test_empty_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(data.DatasetUnavailable, match="neither MNIST-style IDX"):
        data.load_arrays("digits", str(tmp_path))


def test_digits_needs_no_download():
    a, ya, b, yb = data.load_arrays("digits")
    assert a.shape == (1437, 8, 8, 1) and b.shape == (360, 8, 8, 1)
    assert 0.0 <= a.min() and a.max() <= 1.0 and set(np.unique(ya)) == set(range(10))


def test_offline_tfds_fails_fast_and_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_network_available", lambda timeout=3.0: False)
    t = time.time()
    with pytest.raises(data.DatasetUnavailable) as e:
        data.load_arrays("mnist")
    assert time.time() - t < 10
    assert "--data-dir" in str(e.value) and "--dataset digits" in str(e.value)


def test_network_probe_is_bounded(monkeypatch):
    monkeypatch.setattr(data, "TFDS_HOST", ("10.255.255.1", 9))  # never answers
    monkeypatch.setattr(data.socket, "create_connection",
                        lambda *a, **k: time.sleep(30))
    t = time.time()
    assert data._network_available(timeout=0.5) is False
    assert time.time() - t < 2


def test_fallback_to_digits_when_default_dataset_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_network_available", lambda timeout=3.0: False)
    cfg = config.resolve("inn", {})
    assert cfg.data.dataset == "mnist"
    cfg2, arrays = train.load_data(cfg, {})
    err = capsys.readouterr().err.strip().splitlines()
    # one plain line, not a Python warning with a source line
    assert len(err) == 1 and "falling back to --dataset digits" in err[0], err
    assert cfg2.data.dataset == "digits" and arrays[0].shape[1:] == (8, 8, 1)
    # an explicit --dataset is never replaced
    with pytest.raises(data.DatasetUnavailable):
        train.load_data(config.resolve("inn", {"dataset": "mnist"}), {"dataset": "mnist"})


def test_check_images_rejects_nan_and_wrong_shapes():
    x = np.zeros((4, 8, 8, 1), np.float32)
    data.check_images(x, (8, 8, 1))
    with pytest.raises(ValueError, match="model expects"):
        data.check_images(x, (28, 28, 1))
    x[2, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinite values \(first bad examples: \[2\]\)"):
        data.check_images(x)


def test_train_pipeline_resumes_exactly():
    x = np.arange(40, dtype=np.float32).reshape(40, 1)
    full = [b.numpy() for b in data.train_pipeline(x, 8, seed=3).take(12)]
    resumed = [b.numpy() for b in data.train_pipeline(x, 8, seed=3, skip_batches=7).take(5)]
    for a, b in zip(full[7:], resumed):
        np.testing.assert_array_equal(a, b)
    epoch = np.sort(np.concatenate(full[:5]).ravel())
    np.testing.assert_array_equal(epoch, np.arange(40))  # one epoch sees every example once
