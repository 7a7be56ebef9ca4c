"""Datasets by name, as float32 NHWC images in [0, 1], and their ``tf.data`` pipelines.

- ``mnist``, ``fashion_mnist``, ``cifar10``: tensorflow-datasets. A dataset
  that is not prepared locally and cannot be downloaded fails within seconds
  (TFDS itself would retry for minutes) with :class:`DatasetUnavailable`.
- ``digits``: scikit-learn's bundled 8x8 digits; no download.
- ``data_dir``: MNIST-style IDX files (``train-images-idx3-ubyte[.gz]``...), a
  Keras-style ``.npz`` (``x_train, y_train, x_test, y_test``), or a TFDS data dir.
"""
import glob
import gzip
import os
import socket
import struct
import sys
import threading
import zipfile

import numpy as np

from infozoo.data import catalog

#: infozoo name -> TensorFlow Datasets name (from the catalog)
TFDS_NAMES = {s.name: s.tfds_name for s in catalog.DATASETS.values() if s.tfds_name}
TFDS_HOST = ("storage.googleapis.com", 443)
IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be had here; the message says what to use instead."""


def dataset_names():
    return catalog.names()


# -- IDX / npz files ----------------------------------------------------------------
def read_idx(path):
    """Reads an IDX file (optionally gzipped) into a numpy array; clear errors when corrupt."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DatasetUnavailable(f"cannot read IDX file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetUnavailable(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DatasetUnavailable(f"{path} is truncated (header)")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetUnavailable(f"{path} is truncated or corrupt: header says {dims} "
                                 f"({int(np.prod(dims))} bytes), file has {body.size}")
    return body.reshape(dims)


def _find(data_dir, stem):
    for cand in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(data_dir, cand)
        if os.path.isfile(p):
            return p
    return None


def _from_dir(data_dir, name):
    if not os.path.isdir(data_dir):
        raise DatasetUnavailable(f"--data-dir {data_dir} does not exist")
    paths = {k: _find(data_dir, v) for k, v in IDX_FILES.items()}
    if all(paths.values()):
        arr = {k: read_idx(p) for k, p in paths.items()}
        return arr["x_train"], arr["y_train"], arr["x_test"], arr["y_test"]
    npz = sorted(glob.glob(os.path.join(data_dir, "*.npz")))
    if npz:
        try:
            with np.load(npz[0]) as f:
                return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise DatasetUnavailable(f"{npz[0]} is not a Keras-style dataset .npz with "
                                     f"x_train, y_train, x_test, y_test: {e}") from None
    found = [os.path.basename(p) for p in paths.values() if p]
    if found:
        missing = [v for k, v in IDX_FILES.items() if not paths[k]]
        raise DatasetUnavailable(
            f"--data-dir {data_dir} holds {', '.join(found)} but not {', '.join(missing)} "
            f"(optionally .gz): MNIST-style IDX data needs all four files (train and test "
            f"images and labels); add the missing ones, or use a Keras-style .npz")
    if name in TFDS_NAMES:
        return _from_tfds(name, data_dir)
    raise DatasetUnavailable(
        f"--data-dir {data_dir} holds neither MNIST-style IDX files "
        f"({', '.join(IDX_FILES.values())}, optionally .gz) nor a Keras-style .npz")


# -- TFDS -----------------------------------------------------------------------------
def _network_available(timeout=3.0):
    """True if the TFDS download host answers within ``timeout`` seconds (DNS included)."""
    result = []

    def probe():
        try:
            with socket.create_connection(TFDS_HOST, timeout=timeout):
                result.append(True)
        except Exception:  # noqa: BLE001  (OSError, or anything a patched socket raises)
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(result and result[0])


def _tfds_dir(data_dir):
    return (data_dir or os.environ.get("TFDS_DATA_DIR")
            or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def _tfds_prepared(name, data_dir):
    root = os.path.join(_tfds_dir(data_dir), name)
    return bool(glob.glob(os.path.join(root, "*", "dataset_info.json"))
                or glob.glob(os.path.join(root, "*", "*", "dataset_info.json")))


def _from_tfds(name, data_dir=None):
    tfds_name = TFDS_NAMES[name]
    prepared = _tfds_prepared(tfds_name, data_dir)
    if not prepared and not _network_available():
        raise DatasetUnavailable(
            f"dataset {name!r} is not prepared in {_tfds_dir(data_dir)} and tensorflow-datasets "
            f"cannot download it (no network). Use --data-dir DIR with MNIST-style IDX files or "
            f"a Keras-style .npz (Fashion-MNIST: apt-get install dataset-fashion-mnist, then "
            f"--dataset fashion_mnist --data-dir /usr/share/datasets/fashion-mnist), or "
            f"--dataset digits, which needs no download.")
    import tensorflow_datasets as tfds
    try:
        splits = tfds.load(tfds_name, split=["train", "test"], data_dir=data_dir,
                           download=not prepared, batch_size=-1, as_supervised=True)
    except Exception as e:  # noqa: BLE001  (TFDS raises many kinds)
        raise DatasetUnavailable(f"tensorflow-datasets could not load {name!r}: {e}. "
                                 f"Use --data-dir DIR or --dataset digits.") from None
    (xtr, ytr), (xte, yte) = tfds.as_numpy(splits)
    return xtr, ytr, xte, yte


# -- digits ---------------------------------------------------------------------------
def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    perm = np.random.RandomState(0).permutation(len(x))
    x, y = x[perm], d.target[perm].astype(np.int64)
    n = 1437  # 80 % train, 20 % test, fixed split
    return x[:n], y[:n], x[n:], y[n:]


# -- public ---------------------------------------------------------------------------
def _to_float(x, what="images", error=DatasetUnavailable):
    """float32 NHWC in [0, 1]: integers are divided by 255; floats must already be in
    [0, 1] or be pixel values in [0, 255] (then divided by 255, and a note says so).
    Bad data raise ``error`` (the Python API's checks raise ValueError)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise error(f"{what} must be [N, H, W] or [N, H, W, C], got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise error(f"{what} have dtype {x.dtype}; expected integers or floats")
    if x.size and np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        return x.astype(np.float32)  # check_images names the bad examples
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
    if lo < 0 or hi > 255:
        raise error(f"{what} have values in [{lo:g}, {hi:g}]; expected pixels in "
                    f"[0, 1] or [0, 255]: rescale the data first")
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float32) / 255.0
    if hi > 1.0 + 1e-6:
        print(f"Note: {what} are floats with values up to {hi:g}: read as pixels in [0, 255] "
              f"and divided by 255.", file=sys.stderr, flush=True)
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32)


def _check_split(x, y, split, error=DatasetUnavailable, source="the files"):
    if len(x) != len(y):
        raise error(f"the {split} set has {len(x)} images but {len(y)} labels: {source} do "
                    f"not belong together")
    if len(x) == 0:
        raise error(f"the {split} set is empty: " + (
            "check --data-dir, --train-size and --test-size" if source == "the files"
            else f"{source} need at least one example each"))


def check_arrays(arrays):
    """``(x_train, y_train, x_test, y_test)`` given to ``infozoo.fit(data=...)`` as checked
    numpy arrays (images float32 NHWC in [0, 1], labels int64, None labels as zeros), the
    rules :func:`load_arrays` applies to files; a ValueError says what is wrong."""
    if not isinstance(arrays, (tuple, list)) or len(arrays) != 4:
        got = (f"{len(arrays)} item(s)" if isinstance(arrays, (tuple, list))
               else type(arrays).__name__)
        raise ValueError(f"data= wants a tuple (x_train, y_train, x_test, y_test) (labels may "
                         f"be None), got {got}")
    out = []
    for (x, y), split in zip((arrays[:2], arrays[2:]), ("training", "test")):
        try:
            x = np.asarray(x)
        except ValueError as e:
            raise ValueError(f"data=: the {split} images are not one array ({e})") from None
        if x.ndim != 4:
            hint = " (add the channel axis: x[..., None])" if x.ndim == 3 else ""
            raise ValueError(f"data=: the {split} images have shape {list(x.shape)}; expected "
                             f"[N, height, width, channels]{hint}")
        y = _labels(y, len(x), split)
        _check_split(x, y, split, ValueError, "the arrays of data=")
        x = _to_float(x, f"data=: the {split} images", ValueError)
        if out and x.shape[1:] != out[0].shape[1:]:
            raise ValueError(f"data=: the test images have shape {list(x.shape[1:])}, the "
                             f"training images {list(out[0].shape[1:])}")
        check_images(x, None, f"data=: the {split} images")
        out += [x, y]
    return tuple(out)


def _labels(y, n, split):
    if y is None:
        return np.zeros(n, np.int64)
    y = np.asarray(y)
    if y.ndim > 1 and y.size == len(y):
        y = y.reshape(-1)
    ints = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and
        np.all(y == np.round(y)))
    if y.ndim != 1 or np.issubdtype(y.dtype, np.bool_) or not ints:
        first = y.reshape(-1)[:3].tolist() if y.size else []
        raise ValueError(f"data=: the {split} labels must be integer class indices, one per "
                         f"image (or None), got {y.dtype} of shape {list(y.shape)}, e.g. "
                         f"{first}")
    return y.astype(np.int64)


def load_arrays(name, data_dir=None, train_size=None, test_size=None):
    """``(x_train, y_train, x_test, y_test)``, images float32 NHWC in [0, 1]."""
    spec = catalog.find(name)
    if spec is not None and spec.generated:  # toy25: made in memory, its name sets it up
        try:
            xtr, ytr, xte, yte = spec.generate(name)
        except ValueError as e:
            raise DatasetUnavailable(str(e)) from None
        return xtr[:train_size], ytr[:train_size], xte[:test_size], yte[:test_size]
    if data_dir:
        xtr, ytr, xte, yte = _from_dir(data_dir, name)
    elif name == "digits":
        xtr, ytr, xte, yte = _digits()
    elif name in TFDS_NAMES:
        xtr, ytr, xte, yte = _from_tfds(name)
    else:
        raise DatasetUnavailable(f"unknown dataset {name!r}; available: "
                                 f"{', '.join(dataset_names())}, or --data-dir DIR")
    ytr, yte = np.asarray(ytr).reshape(-1), np.asarray(yte).reshape(-1)
    _check_split(xtr, ytr, "training")
    _check_split(xte, yte, "test")
    xtr, xte = _to_float(xtr, "training images"), _to_float(xte, "test images")
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    return xtr[:train_size], ytr[:train_size], xte[:test_size], yte[:test_size]


def hold_out(x, y, n):
    """``(x_train, y_train, x_val)``: the last ``n`` training examples held out for validation
    (early stopping; never the test set). ``n = 0``: no split, ``x_val`` is None."""
    n = int(n or 0)
    if not n:
        return x, y, None
    if n >= len(x):
        raise ValueError(f"data.val_size {n} leaves no training examples of the {len(x)}: "
                         f"lower data.val_size (or raise --train-size)")
    return x[:-n], y[:-n], x[-n:]


def as_array(x):
    """A numpy array of images from an array or a ``tf.data`` dataset (of images or tuples)."""
    import tensorflow as tf
    if isinstance(x, tf.data.Dataset):
        batches = [b[0] if isinstance(b, (tuple, list)) else b for b in x]
        return np.concatenate([np.asarray(b) for b in batches], 0)
    return np.asarray(x)


def check_images(x, shape=None, what="training data"):
    """Clear errors for wrong shapes and NaN/inf before anything trains on ``x``."""
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{what} has images of shape {tuple(x.shape[1:])}, the model expects "
                         f"{tuple(shape)}: check --dataset/--data-dir against the config")
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.unique(np.nonzero(bad)[0])[:5].tolist()
        raise ValueError(f"{what} contains NaN or infinite values (first bad examples: {idx}); "
                         f"clean the data first")


def train_pipeline(x, batch_size, seed=0, shuffle_buffer=10000, skip_batches=0):
    """Shuffled, repeated, batched training stream (drop_remainder so replicas split evenly).

    The order depends only on ``seed``: ``skip_batches`` resumes the stream exactly.
    """
    import tensorflow as tf
    ds = tf.data.Dataset.from_tensor_slices(x).cache()
    ds = ds.shuffle(min(shuffle_buffer, len(x)), seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True)
    if skip_batches:
        ds = ds.skip(skip_batches)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_pipeline(x, batch_size):
    import tensorflow as tf
    return tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(tf.data.AUTOTUNE)
