"""One thin adapter: any infozoo invertible layer (or Flow) as a ``tfp.bijectors.Bijector``.

TFP's convention is that a bijector maps base samples to data, so by default
(``generative=True``) the bijector's ``forward`` is the layer's ``inverse``
(latent -> data) and ``tfd.TransformedDistribution(base, as_bijector(flow))``
is the model density of the data. With ``generative=False`` the bijector runs
the layer's own direction. Keras owns every variable; the bijector holds none.

Example::

    flow = model.flow                          # e.g. an INN autoencoder's Flow
    dist = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), flow.compute_output_shape((None, 28, 28, 1))[1:]),
        as_bijector(flow, event_shape=(28, 28, 1)))
    dist.log_prob(x)   # = log N(F(x)) + log|det dF/dx|
"""
import tensorflow as tf
import tensorflow_probability as tfp


class LayerBijector(tfp.bijectors.Bijector):
    """A TFP bijector whose maps and log-dets come from an infozoo ``Invertible`` layer."""

    def __init__(self, layer, event_shape, generative=True, name=None):
        self.layer = layer
        self.generative = bool(generative)
        data_shape = tuple(int(s) for s in event_shape)
        latent_shape = tuple(int(s) for s in layer.compute_output_shape((None, *data_shape))[1:])
        # TFP's forward maps ``_in`` to ``_out``.
        self._in, self._out = (latent_shape, data_shape) if generative else (data_shape,
                                                                               latent_shape)
        super().__init__(forward_min_event_ndims=len(self._in),
                         inverse_min_event_ndims=len(self._out),
                         is_constant_jacobian=False, validate_args=False,
                         parameters=dict(locals()), name=name or f"infozoo_{layer.name}")

    def _apply(self, t, event_in, use_layer_forward):
        """Runs the layer on ``t`` with any batch shape; returns (value, logdet)."""
        batch_shape = tf.shape(t)[:tf.rank(t) - len(event_in)]
        flat = tf.reshape(t, tf.concat([[-1], event_in], 0))
        y, ld = (self.layer.forward(flat) if use_layer_forward else self.layer.inverse(flat))
        y = tf.reshape(y, tf.concat([batch_shape, tf.shape(y)[1:]], 0))
        return y, tf.reshape(ld, batch_shape)

    def _forward(self, x):
        return self._apply(x, self._in, not self.generative)[0]

    def _inverse(self, y):
        return self._apply(y, self._out, self.generative)[0]

    def _forward_log_det_jacobian(self, x):
        return self._apply(x, self._in, not self.generative)[1]

    def _inverse_log_det_jacobian(self, y):
        return self._apply(y, self._out, self.generative)[1]

    def _forward_event_shape(self, input_shape):
        return tf.TensorShape(self._out)

    def _inverse_event_shape(self, output_shape):
        return tf.TensorShape(self._in)

    def _forward_event_shape_tensor(self, input_shape):
        return tf.constant(self._out, tf.int32)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.constant(self._in, tf.int32)


def as_bijector(layer, event_shape, generative=True, name=None):
    """``layer`` (an ``Invertible`` or ``Flow`` for data of ``event_shape``) as a TFP bijector."""
    if not layer.bijective:
        raise ValueError(f"{layer.name} drops information (bijective=False): it has no "
                         f"density-preserving bijector")
    if not layer.built:
        layer.build((None, *event_shape))
    return LayerBijector(layer, event_shape, generative, name)
