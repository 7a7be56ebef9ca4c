"""A masked autoregressive step (Papamakarios et al. 2017, "Masked Autoregressive Flow", §3).

On the last axis of ``x`` (``D`` entries; for ``[H, W, C]`` inputs the channels
of each position), in the data -> latent direction of the contract:

    forward:  y_i = (x_i - mu_i(x_<i, c)) * exp(-alpha_i(x_<i, c))    (eq. 3 inverted: one pass)
    inverse:  x_i = y_i * exp(alpha_i) + mu_i(x_<i, c)                 (eq. 3: D sequential passes)
    log|det dy/dx| = -sum_i alpha_i                                    (eq. 5, per example)

``mu`` and ``alpha`` come from one MADE network (Germain et al. 2015, eqs.
10-13): dense layers whose weights are multiplied by binary masks so output
``i`` sees inputs ``< i`` only (in ``order``; ``"reverse"`` reverses it, so two
steps with alternating orders see every dependence). The maps are TFP's
``tfp.bijectors.MaskedAutoregressiveFlow`` (its ``inverse`` is this layer's
forward; its ``forward``, the sequential loop, this layer's inverse); the MADE
is a Keras 3 layer here (TFP's ``AutoregressiveNetwork`` is a tf_keras layer
that Keras 3 would not track or save). ``alpha`` is soft-clamped
(``coupling.soft_clamp``) and the last MADE layer is zero-initialised, so a
fresh step is the identity. A vector condition ``c`` of ``cond_shape (K,)``
enters every hidden unit through an unmasked dense layer (MAF §3.4).
"""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from infozoo.layers.base import Invertible, register_layer, sum_except_batch
from infozoo.layers.coupling import soft_clamp


def made_masks(d, hidden, reverse=False):
    """The MADE masks ``[in x h1, h1 x h2, ..., hL x 2d]`` (Germain et al. eqs. 10-13): input
    degrees ``1..d`` (reversed with ``reverse``), hidden degrees cycling over ``1..d-1``,
    ``mu_i`` and ``alpha_i`` (outputs ``2i``, ``2i+1``) see inputs of lower degree only."""
    deg_in = np.arange(1, d + 1)[::-1] if reverse else np.arange(1, d + 1)
    degs, masks = [deg_in], []
    for h in hidden:
        deg = 1 + np.arange(h) % max(1, d - 1)
        masks.append((deg[None, :] >= degs[-1][:, None]).astype("float32"))
        degs.append(deg)
    deg_out = np.repeat(deg_in, 2)
    masks.append((deg_out[None, :] > degs[-1][:, None]).astype("float32"))
    return masks


class _MaskedDense(keras.layers.Layer):
    """``x @ (W * mask) + b``: a dense layer whose connections are fixed by ``mask``."""

    def __init__(self, mask, zero=False, **kwargs):
        super().__init__(**kwargs)
        self.mask_value, self.zero = np.asarray(mask, "float32"), bool(zero)

    def build(self, input_shape):
        init = "zeros" if self.zero else "glorot_uniform"
        self.kernel = self.add_weight(name="kernel", shape=self.mask_value.shape,
                                      initializer=init)
        self.bias = self.add_weight(name="bias", shape=(self.mask_value.shape[1],),
                                    initializer="zeros")

    def call(self, x):
        mask = tf.constant(self.mask_value, self.kernel.dtype)
        return tf.matmul(x, self.kernel * mask) + self.bias


@register_layer
class MaskedAutoregressive(Invertible):
    """One MAF step on the last axis: ``hidden`` MADE widths, ``clamp`` on the log-scales,
    ``order`` ``"forward"`` or ``"reverse"``, optional vector condition ``cond_shape=(K,)``."""

    def __init__(self, hidden=(64, 64), activation="relu", clamp=2.0, order="forward",
                 cond_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [int(h) for h in ([hidden] if np.isscalar(hidden) else hidden)]
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must list at least one positive width, got {hidden}")
        if order not in ("forward", "reverse"):
            raise ValueError(f"order must be 'forward' or 'reverse', got {order!r}")
        self.activation, self.clamp, self.order = activation, float(clamp), order
        self.cond_shape = None if cond_shape is None else tuple(int(s) for s in cond_shape)
        if self.cond_shape is not None and len(self.cond_shape) != 1:
            raise ValueError(f"MaskedAutoregressive takes a vector condition cond_shape=(K,), "
                             f"got {self.cond_shape}")
        self.conditional = self.cond_shape is not None

    def build(self, input_shape):
        d = int(input_shape[-1])
        if d < 2:
            raise ValueError(f"MaskedAutoregressive needs at least 2 features on the last axis, "
                             f"got {d}")
        self.features = d
        masks = made_masks(d, self.hidden, self.order == "reverse")
        policy = self.dtype_policy   # the MADE computes in the policy's compute dtype
        self.made = [_MaskedDense(m, zero=(i == len(masks) - 1), dtype=policy, name=f"made_{i}")
                     for i, m in enumerate(masks)]
        shape = tuple(input_shape[:-1])
        for layer, m in zip(self.made, masks):
            layer.build((*shape, m.shape[0]))
        if self.conditional:
            self.cond_dense = keras.layers.Dense(self.hidden[0], use_bias=False, dtype=policy,
                                                 name="cond_dense")
            self.cond_dense.build((None, self.cond_shape[0]))
        self._act = keras.activations.get(self.activation)

    def _shift_log_scale(self, x, c):
        dt = self.made[0].compute_dtype
        h = tf.cast(x, dt)
        for i, layer in enumerate(self.made):
            h = layer(h)
            if i == 0 and c is not None:
                hc = self.cond_dense(tf.cast(c, dt))
                hc = tf.reshape(hc, tf.concat([[tf.shape(hc)[0]], tf.ones([tf.rank(h) - 2],
                                                                          tf.int32),
                                               [self.hidden[0]]], 0))
                h = h + hc
            if i < len(self.made) - 1:
                h = self._act(h)
        h = tf.cast(h, self.compute_dtype)
        h = tf.reshape(h, tf.concat([tf.shape(x), [2]], 0))
        return h[..., 0], soft_clamp(h[..., 1], self.clamp)

    def _maf(self, c):
        """TFP's MAF: its forward is the generative map ``x = y exp(alpha) + mu``."""
        return tfp.bijectors.MaskedAutoregressiveFlow(
            shift_and_log_scale_fn=lambda x: self._shift_log_scale(x, c))

    def _forward(self, x, c=None):
        maf = self._maf(c)
        y = maf.inverse(x)
        return y, sum_except_batch(maf.inverse_log_det_jacobian(x, event_ndims=1))

    def _inverse(self, y, c=None):
        maf = self._maf(c)
        x = maf.forward(y)
        return x, sum_except_batch(maf.forward_log_det_jacobian(y, event_ndims=1))

    def get_config(self):
        return {**super().get_config(), "hidden": list(self.hidden),
                "activation": self.activation, "clamp": self.clamp, "order": self.order,
                "cond_shape": None if self.cond_shape is None else list(self.cond_shape)}


__all__ = ["MaskedAutoregressive", "made_masks"]
