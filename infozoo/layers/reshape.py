"""Volume-preserving rearrangements: downsampling, permutation, reshape (log-det 0)."""
import keras
import numpy as np
import tensorflow as tf

from infozoo.layers.base import Invertible, register_layer, zero_logdet


def _halve(shape, factor=4):
    b, h, w, c = shape
    if h is not None and (h % 2 or w % 2):
        raise ValueError(f"downsampling needs even height and width, got {h}x{w}: "
                         "pad or crop the images, or use fewer convolutional blocks")
    return (b, None if h is None else h // 2, None if w is None else w // 2, c * factor)


def _double(shape):
    b, h, w, c = shape
    return (b, None if h is None else h * 2, None if w is None else w * 2, c // 4)


@register_layer
class HaarDownsampling(Invertible):
    """Orthonormal 2x2 Haar transform: ``[B, H, W, C] -> [B, H/2, W/2, 4C]``.

    Output channels are ordered ``[average, horizontal, vertical, diagonal]``,
    each block ``C`` wide, so the low-pass image comes first. Orthonormal, so
    log-det 0 (FrEIA's ``HaarDownsampling`` with rebalance 1).
    """

    def compute_output_shape(self, input_shape):
        return _halve(tuple(input_shape))

    def compute_inverse_shape(self, output_shape):
        return _double(tuple(output_shape))

    def _forward(self, x):
        # space_to_depth puts pixel (dy, dx) of each 2x2 block at channels (2 dy + dx) C..:
        # a reorder whose gradient is depth_to_space (strided slices' is four zero-filled
        # StridedSliceGrads); the same sums in the same order, so the same numbers
        a, b, c, d = tf.split(tf.nn.space_to_depth(x, 2), 4, axis=-1)
        y = tf.concat([a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d], -1) * 0.5
        return y, zero_logdet(x)

    def _inverse(self, y):
        A, H, V, D = tf.split(y * 0.5, 4, axis=-1)
        a, b = A + H + V + D, A - H + V - D
        c, d = A + H - V - D, A - H - V + D
        return tf.nn.depth_to_space(tf.concat([a, b, c, d], -1), 2), zero_logdet(y)


@register_layer
class Squeeze(Invertible):
    """Checkerboard squeeze (RealNVP, i-RevNet): ``tf.nn.space_to_depth`` with block 2."""

    def compute_output_shape(self, input_shape):
        return _halve(tuple(input_shape))

    def compute_inverse_shape(self, output_shape):
        return _double(tuple(output_shape))

    def _forward(self, x):
        return tf.nn.space_to_depth(x, 2), zero_logdet(x)

    def _inverse(self, y):
        return tf.nn.depth_to_space(y, 2), zero_logdet(y)


@register_layer
class Reshape(Invertible):
    """Reshape between two fixed per-example shapes (``(-1,)`` target flattens)."""

    #: flattened, a reshape is the identity: the probe leaves it out
    probe_skip = True

    def __init__(self, source_shape, target_shape=(-1,), **kwargs):
        super().__init__(**kwargs)
        self.source_shape = tuple(int(s) for s in source_shape)
        target = tuple(int(s) for s in target_shape)
        if target == (-1,):
            target = (int(np.prod(self.source_shape)),)
        if int(np.prod(target)) != int(np.prod(self.source_shape)):
            raise ValueError(f"cannot reshape {self.source_shape} to {target}: sizes differ")
        self.target_shape = target

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def compute_inverse_shape(self, output_shape):
        return (output_shape[0], *self.source_shape)

    def _forward(self, x):
        return tf.reshape(x, [-1, *self.target_shape]), zero_logdet(x)

    def _inverse(self, y):
        return tf.reshape(y, [-1, *self.source_shape]), zero_logdet(y)

    def get_config(self):
        return {**super().get_config(), "source_shape": list(self.source_shape),
                "target_shape": list(self.target_shape)}


@register_layer
class FixedPermutation(Invertible):
    """A fixed random permutation of the last axis, drawn from ``seed``."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def build(self, input_shape):
        n = int(input_shape[-1])
        perm = np.random.RandomState(self.seed).permutation(n)
        self.perm = tf.constant(perm, tf.int32)
        self.perm_inv = tf.constant(np.argsort(perm), tf.int32)

    def _forward(self, x):
        return tf.gather(x, self.perm, axis=-1), zero_logdet(x)

    def _inverse(self, y):
        return tf.gather(y, self.perm_inv, axis=-1), zero_logdet(y)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@register_layer
class Inverted(Invertible):
    """Runs a layer backwards: ``forward = layer.inverse`` (e.g. Haar upsampling)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = (layer if isinstance(layer, keras.layers.Layer)
                      else keras.saving.deserialize_keras_object(layer))

    @property
    def bijective(self):
        return self.layer.bijective

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(tuple(self.layer.compute_inverse_shape(tuple(input_shape))))

    def compute_output_shape(self, input_shape):
        return self.layer.compute_inverse_shape(input_shape)

    def compute_inverse_shape(self, output_shape):
        return self.layer.compute_output_shape(output_shape)

    def _forward(self, x):
        return self.layer.inverse(x)

    def _inverse(self, y):
        return self.layer.forward(y)

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}
