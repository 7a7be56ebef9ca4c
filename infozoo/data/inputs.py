"""What a model's inputs must be, defined once for the Python methods (numpy, checked by
``ZooModel.check_input``/``check_sample``) and the SavedModel endpoints (graph assertions,
``infozoo.run.export``), so both refuse the same inputs with the same words.

- images ``x``: a non-empty batch of finite values in the model's ``input_range``: floats in
  [0, 1] for image data (uint8 pixels must be divided by 255 first), with a tolerance of
  ``TOLERANCE`` for float rounding; ``None`` (toy25's 2-D points) takes any finite values;
- codes ``z``: a non-empty batch of finite values;
- ``sample(n, temperature)``: ``n >= 1``, ``temperature`` finite and ``>= 0`` (0: the mode).

No TensorFlow at import.
"""
import math

import numpy as np

from infozoo.data import catalog

#: the input range of image data
PIXELS = catalog.PIXELS
#: slack on the range for float rounding (a reconstruction may overshoot by a little)
TOLERANCE = 1e-3
N_MESSAGE = "sample: n must be >= 1"
TEMPERATURE_MESSAGE = "sample: temperature must be a finite number >= 0 (1: the prior, 0: its mode)"


def range_of_dataset(dataset):
    """The input range of models trained on ``dataset``: None for toy25 (points, not pixels;
    :mod:`infozoo.data.catalog` says which)."""
    return catalog.value_range_of(dataset)


def check_range_value(input_range):
    """``input_range`` as ``(lo, hi)`` floats or None; ValueError otherwise."""
    if input_range is None:
        return None
    try:
        lo, hi = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise ValueError(f"input_range must be None or (lo, hi), got {input_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"input_range must be finite with lo < hi, got {input_range!r}")
    return (lo, hi)


def range_message(name, input_range):
    lo, hi = input_range
    return f"{name}: images must be floats in [{lo}, {hi}] (divide uint8 pixels by 255)"


def empty_message(name):
    return f"{name}: the batch is empty"


def nonfinite_message(name):
    return f"{name}: the input contains NaN or infinite values"


def check_range(x, input_range, name="x"):
    """ValueError unless the numpy batch ``x`` lies in ``input_range`` (None: any)."""
    if input_range is None or x.size == 0:
        return
    lo, hi = input_range
    x_lo, x_hi = float(np.min(x)), float(np.max(x))
    if x_lo < lo - TOLERANCE or x_hi > hi + TOLERANCE:
        raise ValueError(f"{range_message(name, input_range)}; got values in "
                         f"[{x_lo:g}, {x_hi:g}]")


def check_sample(n, temperature):
    """ValueError unless ``n`` is an integer >= 1 and ``temperature`` a finite number >= 0
    (Python numbers, numpy scalars or eager tensors)."""
    n, t = np.asarray(n), np.asarray(temperature)
    if n.ndim or not np.issubdtype(n.dtype, np.integer):
        raise ValueError(f"{N_MESSAGE} (an integer), got {n.tolist()!r}")
    if int(n) < 1:
        raise ValueError(f"{N_MESSAGE}, got {int(n)}")
    if t.ndim or not np.issubdtype(t.dtype, np.number) or not math.isfinite(float(t)) \
            or float(t) < 0:
        raise ValueError(f"{TEMPERATURE_MESSAGE}, got {t.tolist()!r}")


def graph_checks(name, spec, a, input_range):
    """The SavedModel endpoints' assertions (``tf.debugging``) on argument ``a`` named
    ``name`` (``x``, ``z``, ``n``, ``temperature``) of ``tf.TensorSpec`` ``spec``."""
    import tensorflow as tf
    if name == "n":
        return [tf.debugging.assert_positive(a, message=N_MESSAGE)]
    if name == "temperature":
        return [tf.debugging.assert_all_finite(a, message=TEMPERATURE_MESSAGE),
                tf.debugging.assert_non_negative(a, message=TEMPERATURE_MESSAGE)]
    if not spec.shape.rank:
        return []
    checks = [tf.debugging.assert_positive(tf.shape(a)[0], message=empty_message(name)),
              tf.debugging.assert_all_finite(a, message=nonfinite_message(name))]
    if name == "x" and input_range is not None:
        lo, hi = input_range
        msg = range_message(name, input_range)
        checks += [tf.debugging.assert_greater_equal(
                       tf.reduce_min(a), tf.constant(lo - TOLERANCE, a.dtype), message=msg),
                   tf.debugging.assert_less_equal(
                       tf.reduce_max(a), tf.constant(hi + TOLERANCE, a.dtype), message=msg)]
    return checks
