"""Random draws for the samplers: every ``sample``/``sample_r`` takes ``seed=``.

``seed`` is an int or an integer scalar tensor (stateless draws: the same seed gives the
same samples; a SavedModel's ``sample`` endpoint passes its ``seed`` input as a tensor), a
``keras.random.SeedGenerator`` (a reproducible stream), or ``None``: TensorFlow's global
generator, fresh draws on every call.
"""
import keras
import tensorflow as tf


def _is_tensor(seed):
    return isinstance(seed, (tf.Tensor, tf.Variable))


def _stateless(seed):
    """The ``[2]`` seed of the stateless ops for an integer scalar tensor."""
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])


def normal(shape, dtype, seed=None):
    """Standard normal draws of ``shape`` (a list or a 1-D int tensor)."""
    if seed is None:
        return tf.random.normal(shape, dtype=dtype)
    if _is_tensor(seed):
        return tf.random.stateless_normal(shape, _stateless(seed), dtype=dtype)
    return keras.random.normal(shape, dtype=dtype, seed=seed)


def randint(shape, maxval, seed=None):
    """Integers uniform on ``[0, maxval)`` (``maxval`` may be a tensor)."""
    if seed is None:
        return tf.random.uniform(shape, 0, maxval, dtype=tf.int32)
    if _is_tensor(seed):
        return tf.random.stateless_uniform(shape, _stateless(seed), 0, maxval, dtype=tf.int32)
    return keras.random.randint(shape, 0, maxval, dtype="int32", seed=seed)


def sub_seed(seed, i):
    """A seed for the ``i``-th of several draws made under one ``seed`` (an int gives
    distinct ints; a generator or ``None`` is shared, it advances by itself)."""
    if isinstance(seed, int) and not isinstance(seed, bool):
        return (seed * 1_000_003 + i + 1) % 2 ** 31
    if _is_tensor(seed):
        return (tf.cast(seed, tf.int64) * 1_000_003 + i + 1) % 2 ** 31
    return seed
