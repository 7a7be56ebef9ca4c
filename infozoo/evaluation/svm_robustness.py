"""Linear classifier on codes and its robustness to corrupted inputs.

IPAE §4.2: a linear SVM trained (without fine-tuning) on the learned codes;
VIMAE §5.3 (Tables 2-4): the same on codes of corrupted inputs, ``z ~ q(z | x + nu)``
with Gaussian noise ``nu ~ N(0, sigma^2)`` per pixel, ``sigma in {0.2, 0.3, 0.4}``, and
Bernoulli masks (each pixel set to 0 with probability ``p in {0.2, 0.5}``).

Choices the papers leave open (documented in docs/vimae.md):

- The SVM is scikit-learn's ``LinearSVC`` (one-vs-rest, squared hinge, ``C = 1``)
  on standardised codes (a linear rescaling fitted on the training codes), trained on
  the codes of (up to ``train_size``) *clean* training inputs and tested on the codes
  of the test inputs, clean or corrupted. This measures how well the clean decision
  rule survives the corruption. ``train_on_corrupted=True`` instead trains on codes
  of equally corrupted training inputs (the whole algorithm on corrupted data).
- Corrupted inputs are not clipped to [0, 1]. The noise is drawn with a fixed seed.
- VIMAE uses M1+TSVM with 1,000 labels; this is a supervised linear SVM.
"""
import numpy as np

from infozoo.util.batching import batched

SIGMAS = (0.2, 0.3, 0.4)
MASK_PS = (0.2, 0.5)


def corruption_names(sigmas=SIGMAS, ps=MASK_PS):
    return ["clean"] + [f"gauss_{s:g}" for s in sigmas] + [f"mask_{p:g}" for p in ps]


def corrupt(x, name, seed=0):
    """``x`` corrupted by ``name`` (``clean``, ``gauss_<sigma>``, ``mask_<p>``), float32."""
    x = np.asarray(x, np.float32)
    if name == "clean":
        return x
    kind, level = name.split("_", 1)
    level = float(level)
    rng = np.random.RandomState(seed)
    if kind == "gauss":
        return (x + rng.normal(0.0, level, x.shape)).astype(np.float32)
    if kind == "mask":
        return (x * (rng.rand(*x.shape) >= level)).astype(np.float32)
    raise ValueError(f"unknown corruption {name!r}")


def encode_batched(encode_fn, x, batch_size=500):
    """Flattened float64 codes ``encode_fn(x)``, in batches."""
    return batched(encode_fn, x, batch_size).astype(np.float64).reshape(len(x), -1)


def fit_linear_svm(z_train, y_train, C=1.0, max_iter=5000, seed=0):
    """A fitted ``StandardScaler -> LinearSVC`` pipeline."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    clf = make_pipeline(StandardScaler(), LinearSVC(C=C, max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.asarray(z_train, np.float64), np.asarray(y_train))
    return clf


def linear_svm_accuracy(z_train, y_train, z_test, y_test, C=1.0, seed=0):
    """Test accuracy (in [0, 1]) of a linear SVM trained on ``(z_train, y_train)``."""
    clf = fit_linear_svm(z_train, y_train, C=C, seed=seed)
    return float(np.mean(clf.predict(np.asarray(z_test, np.float64)) == np.asarray(y_test)))


def robustness_table(encode_fn, x_train, y_train, x_test, y_test, sigmas=SIGMAS, ps=MASK_PS,
                     train_size=10000, seed=0, batch_size=500, train_on_corrupted=False, C=1.0):
    """``{corruption: test accuracy}`` of a linear SVM on the codes ``encode_fn(x)``.

    ``train_size``: training examples for the SVM (a fixed random subset; ``None`` or 0: all).
    """
    rng = np.random.RandomState(seed)
    if train_size and len(x_train) > train_size:
        sel = rng.choice(len(x_train), int(train_size), replace=False)
        x_train, y_train = x_train[sel], np.asarray(y_train)[sel]
    z_train = encode_batched(encode_fn, x_train, batch_size)
    clf = None if train_on_corrupted else fit_linear_svm(z_train, y_train, C=C, seed=seed)
    out = {}
    for i, name in enumerate(corruption_names(sigmas, ps)):
        z_test = encode_batched(encode_fn, corrupt(x_test, name, seed + 1 + i), batch_size)
        if train_on_corrupted:
            zc = encode_batched(encode_fn, corrupt(x_train, name, seed + 101 + i), batch_size)
            c = fit_linear_svm(zc, y_train, C=C, seed=seed)
        else:
            c = clf
        out[name] = float(np.mean(c.predict(z_test) == np.asarray(y_test)))
    return out


def markdown_table(rows, columns=None, percent=True, label="model"):
    """``rows``: ``{row name: {column: accuracy}}`` -> a markdown table (accuracies in %)."""
    columns = list(columns or next(iter(rows.values())).keys())
    lines = [f"| {label} | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name, vals in rows.items():
        cells = []
        for c in columns:
            v = vals.get(c)
            cells.append("n/a" if v is None else (f"{100 * v:.1f}" if percent else f"{v:.4g}"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
