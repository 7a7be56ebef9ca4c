"""Which image was it? A lower bound on ``I(X; T_l)`` under input noise that needs no density.

``input-noise`` (:mod:`infozoo.probe.estimators.input_noise`) models each layer's response to
the input noise to first order; this check models nothing. The ``n`` rows ``x_1 .. x_n`` are
the law of ``X`` (uniform, as in ``input-noise``); each is fed as ``y_i = x_i + sigma z_i``
(``draws`` independent ``z`` per row) and every entry ``T_l(y_i)`` of the model's
``representations`` is decoded to the row whose clean entry ``T_l(x_j)`` is nearest
(Euclidean). Any decoder's error probability ``P_e`` bounds the information from below by
Fano's inequality (Cover & Thomas, eq. 2.140):

    I(X; T_l) >= log2 n - h2(P_e) - P_e log2(n - 1)   bits,

whatever the network does to the noise; it is computed at the upper end of a Clopper-Pearson
interval of ``P_e`` (level ``ci``), so the bound holds at that level for the ``n * draws``
decodings. Nearest-clean decoding is not the best decoder, so the bound can be loose; where it
lies above an estimate, the estimate is wrong. It is defined for every entry, including the
wide and ReLU layers that ``input-noise`` leaves out.
"""
import numpy as np


def fano_bits(p_error, n):
    """Fano's lower bound ``log2 n - h2(p) - p log2(n - 1)`` in bits (0 where it is negative)."""
    p = float(np.clip(p_error, 0.0, 1.0))
    h2 = 0.0 if p in (0.0, 1.0) else -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return max(0.0, float(np.log2(n) - h2 - p * np.log2(max(n - 1, 1))))


def _nearest(queries, refs):
    """Index of the nearest row of ``refs`` for every row of ``queries`` (squared Euclidean,
    expanded in float64)."""
    q2 = (queries ** 2).sum(1)[:, None]
    r2 = (refs ** 2).sum(1)[None, :]
    return np.argmin(q2 + r2 - 2.0 * queries @ refs.T, axis=1)


def identification(model, x, sigma, draws=1, seed=0, ci=0.95, batch_size=256):
    """Per entry of ``model.representations`` (a zoo model, or a plain Keras model through
    :mod:`infozoo.probe.keras_models`): ``{"name", "dim", "accuracy", "fano_bits" (the lower
    bound at level ``ci``), "ceiling" (log2 n), "noise_rms" (RMS of T(y_i) - T(x_i)),
    "spread_rms" (RMS of the clean entries about their mean)}``. ``x``: ``n`` rows, ``sigma``:
    the input noise's standard deviation in input units."""
    import tensorflow as tf
    from scipy.stats import beta
    from infozoo.probe.keras_models import representations_of
    x = np.asarray(x, np.float32)
    n = len(x)
    if n < 2:
        raise ValueError(f"identification needs at least 2 rows, got {n}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 (the input noise's standard deviation), got {sigma}")
    reps_fn = representations_of(model, x)

    def entries(xs):
        batches = [reps_fn(tf.constant(xs[i:i + batch_size]))
                   for i in range(0, len(xs), batch_size)]
        parts = [[np.asarray(r.value, np.float64).reshape(len(r.value), -1) for r in reps]
                 for reps in batches]
        return [r.name for r in batches[0]], [np.concatenate(col) for col in zip(*parts)]

    names, clean = entries(x)
    rng = np.random.RandomState(seed)
    hits = np.zeros(len(clean))
    noise_ss = np.zeros(len(clean))
    for _ in range(draws):
        y = x + np.float32(sigma) * rng.standard_normal(x.shape).astype(np.float32)
        _, noisy = entries(y)
        for k, (c, t) in enumerate(zip(clean, noisy)):
            hits[k] += np.sum(_nearest(t, c) == np.arange(n))
            noise_ss[k] += np.sum((t - c) ** 2)
    trials = n * draws
    out = []
    for k, (name, c) in enumerate(zip(names, clean)):
        errors = trials - hits[k]
        p_hi = 1.0 if errors == trials else float(beta.ppf(0.5 + ci / 2, errors + 1, trials - errors))
        p_hi = min(p_hi, (n - 1) / n)  # past chance the bound grows again: keep it at 0 there
        out.append({"name": name, "dim": int(c.shape[1]), "accuracy": hits[k] / trials,
                    "fano_bits": fano_bits(p_hi, n), "ceiling": float(np.log2(n)),
                    "noise_rms": float(np.sqrt(noise_ss[k] / trials)),
                    "spread_rms": float(np.sqrt(((c - c.mean(0)) ** 2).sum(1).mean()))})
    return out
