"""Random draws for the samplers: every ``sample``/``sample_r`` takes ``seed=``.

``seed`` is an int (stateless draws: the same seed gives the same samples), a
``keras.random.SeedGenerator`` (a reproducible stream), or ``None``: TensorFlow's global
generator, fresh draws on every call (also inside an exported SavedModel, which has no
seed argument).
"""
import keras
import tensorflow as tf


def normal(shape, dtype, seed=None):
    """Standard normal draws of ``shape`` (a list or a 1-D int tensor)."""
    if seed is None:
        return tf.random.normal(shape, dtype=dtype)
    return keras.random.normal(shape, dtype=dtype, seed=seed)


def randint(shape, maxval, seed=None):
    """Integers uniform on ``[0, maxval)`` (``maxval`` may be a tensor)."""
    if seed is None:
        return tf.random.uniform(shape, 0, maxval, dtype=tf.int32)
    return keras.random.randint(shape, 0, maxval, dtype="int32", seed=seed)


def sub_seed(seed, i):
    """A seed for the ``i``-th of several draws made under one ``seed`` (an int gives
    distinct ints; a generator or ``None`` is shared, it advances by itself)."""
    if isinstance(seed, int) and not isinstance(seed, bool):
        return (seed * 1_000_003 + i + 1) % 2 ** 31
    return seed
