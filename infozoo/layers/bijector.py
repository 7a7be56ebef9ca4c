"""One thin adapter: any infozoo invertible layer (or Flow) as a ``tfp.bijectors.Bijector``.

TFP's convention is that a bijector maps base samples to data, so by default
(``generative=True``) the bijector's ``forward`` is the layer's ``inverse``
(latent -> data) and ``tfd.TransformedDistribution(base, as_bijector(flow))``
is the model density of the data. With ``generative=False`` the bijector runs
the layer's own direction. A multi-scale ``Flow`` is a bijector onto its flat
``[z, r_1, ..., r_L]``; the transformed distribution of a standard-normal base
is its density when every split prior is standard normal (``g="zero",
eps=1``), otherwise use ``flow.log_prob``.

Keras owns every variable. The bijector's ``trainable_variables`` (and so a
``TransformedDistribution``'s) are the layer's own TensorFlow variables, the
ones a ``GradientTape`` sees when the layer runs, so TFP's idiom of
optimising ``dist.trainable_variables`` trains the flow. They are collected
when the bijector is made, from the built layer (Keras refuses new variables
on a built layer, so the list cannot go stale).

A condition ``c`` (for a conditional flow) is given to ``as_bijector`` and
fixed for the bijector; ``bijector.copy(condition=...)`` makes one for another
condition.

Example::

    flow = model.flow                          # e.g. an INN autoencoder's Flow
    dist = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0., 1.), flow.compute_output_shape((None, 28, 28, 1))[1:]),
        as_bijector(flow, event_shape=(28, 28, 1)))
    dist.log_prob(x)   # = log N(F(x)) + log|det dF/dx|
"""
import tensorflow as tf
import tensorflow_probability as tfp


def _tf_variable(v):
    """The ``tf.Variable`` behind a Keras 3 variable (TensorFlow backend)."""
    return getattr(v, "value", v) if not isinstance(v, tf.Variable) else v


class LayerBijector(tfp.bijectors.Bijector):
    """A TFP bijector whose maps and log-dets come from an infozoo ``Invertible`` layer."""

    def __init__(self, layer, event_shape, generative=True, condition=None, name=None):
        parameters = dict(layer=layer, event_shape=event_shape, generative=generative,
                          condition=condition, name=name)
        self.layer = layer
        self.generative = bool(generative)
        self.event_shape_ = tuple(int(s) for s in event_shape)
        self.condition = condition
        latent_shape = tuple(int(s) for s in
                             layer.compute_output_shape((None, *self.event_shape_))[1:])
        # TFP's forward maps ``_in`` to ``_out``.
        self._in, self._out = ((latent_shape, self.event_shape_) if generative
                               else (self.event_shape_, latent_shape))
        # tf.Module tracks tf.Variables held in attributes: these are the layer's own.
        self._layer_variables = tuple(_tf_variable(v) for v in layer.variables)
        super().__init__(forward_min_event_ndims=len(self._in),
                         inverse_min_event_ndims=len(self._out),
                         is_constant_jacobian=False, validate_args=False,
                         parameters=parameters, name=name or f"infozoo_{layer.name}")

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        # No batch-shaped tensor parameters: the layer's weights are shared by every
        # example, so the batch shape is [] (the condition, one per example, is not a
        # batch parameter of the bijector: its examples line up with the inputs').
        return dict()

    @property
    def trainable_variables(self):
        return tuple(v for v in self._layer_variables if v.trainable)

    @property
    def variables(self):
        return self._layer_variables

    def _apply(self, t, event_in, use_layer_forward):
        """Runs the layer on ``t`` with any batch shape; returns (value, logdet)."""
        batch_shape = tf.shape(t)[:tf.rank(t) - len(event_in)]
        flat = tf.reshape(t, tf.concat([[-1], event_in], 0))
        c = self.condition
        run = self.layer.forward if use_layer_forward else self.layer.inverse
        y, ld = run(flat, c) if c is not None else run(flat)
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


def as_bijector(layer, event_shape, generative=True, condition=None, name=None):
    """``layer`` (an ``Invertible`` or ``Flow`` for data of ``event_shape``) as a TFP bijector.

    ``condition``: the condition ``c`` of a conditional layer (one row per example)."""
    if not layer.bijective:
        raise ValueError(f"{layer.name} drops information (bijective=False): it has no "
                         f"density-preserving bijector")
    if layer.conditional and condition is None:
        raise ValueError(f"{layer.name} is conditional: pass condition=c to as_bijector")
    if not layer.conditional and condition is not None:
        raise ValueError(f"{layer.name} takes no condition")
    if not layer.built:
        layer.build((None, *event_shape))
    return LayerBijector(layer, event_shape, generative, condition, name)
