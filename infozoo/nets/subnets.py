"""Subnet constructors: the plain (non-invertible) networks inside coupling layers.

A *subnet constructor* is any callable ``(input_shape, output_channels) ->
keras.layers.Layer`` (FrEIA's ``subnet_constructor``), where ``input_shape`` is
the per-example shape the subnet reads (``(H, W, C)`` or ``(D,)``). If it also
accepts ``dtype`` and ``name`` keywords (or ``**kwargs``), the coupling passes
its own dtype policy and a name. The coupling template zero-initialises the
subnet's last layer, so every coupling starts as the identity (Glow §3.3,
FrEIA); the zoo's constructors also build that layer with zero initialisers, so
the random stream of a seeded run is the same as without the template's reset.

``ConvSubnet`` and ``DenseSubnet`` are the zoo's two constructors; they are
Keras-serialisable, so a coupling built with them has a ``get_config`` round
trip. A custom constructor must be registered with
``keras.saving.register_keras_serializable`` for the same.

Every layer takes the dtype policy of the subnet, activations included, so a
``float64`` coupling computes in float64 throughout.
"""
import inspect

import keras
import tensorflow as tf


def leaky_relu(x, negative_slope):
    """``tf.nn.leaky_relu`` whose gradient reads the output, not the input.

    For a slope in [0, 1] the output has the sign of the input, so
    ``LeakyReluGrad(g, features=y)`` is the exact gradient (the same select, at 0 too).
    As the pre-activation is not kept for the backward pass, TensorFlow's
    oneDNN remapper fuses conv + bias + leaky ReLU into one convolution, and the
    activation runs as the convolution's post-op in its own precision (bf16 under
    ``mixed_bfloat16``) instead of as a separate pass over memory. The gradient of
    the gradient is the one TensorFlow registers for ``LeakyReluGrad`` (zero in the
    features: the second derivative is zero almost everywhere), and forward-mode
    autodiff (``tf.autodiff.ForwardAccumulator``) and ``batch_jacobian`` with pfor give
    the same values as the plain op (tests/test_layers.py).
    """
    @tf.custom_gradient
    def _f(x):
        y = tf.nn.leaky_relu(x, alpha=negative_slope)

        def grad(g):
            return tf.raw_ops.LeakyReluGrad(gradients=g, features=y, alpha=negative_slope)
        return y, grad
    return _f(x)


@keras.saving.register_keras_serializable(package="infozoo")
class LeakyReLU(keras.layers.Layer):
    """``max(x, slope * x)`` with the slope in the compute dtype.

    TensorFlow's ``LeakyRelu`` op (behind ``keras.layers.LeakyReLU``) stores its
    slope as a float32 attribute, so a float64 model would multiply by
    ``float32(0.1)`` (error ~1.5e-9): float64 uses ``tf.maximum``. In float32,
    bfloat16 and float16 both give the same numbers, and the op is used through
    :func:`leaky_relu`, whose gradient reads the output, so that the preceding
    convolution fuses it (docs/performance.md).
    """

    def __init__(self, negative_slope=0.1, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= float(negative_slope) <= 1:
            raise ValueError(f"negative_slope must be in [0, 1], got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, x):
        if x.dtype == tf.float64:
            return tf.maximum(x, tf.constant(self.negative_slope, x.dtype) * x)
        return leaky_relu(x, self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


def _activation(name, dtype=None):
    if name == "leaky_relu":
        return LeakyReLU(negative_slope=0.1, dtype=dtype)
    return keras.layers.Activation(name, dtype=dtype)


@keras.saving.register_keras_serializable(package="infozoo")
class ConvSubnet:
    """``hidden_layers`` x (conv kxk -> activation), then a zero-initialised 1x1 conv.

    With the defaults this is the INN-AE paper's MNIST subnet (§3.1: 100
    channels, kernel 3, leaky ReLU 0.1), as in the authors' FrEIA code.
    """

    def __init__(self, hidden=100, hidden_layers=2, kernel_size=3, activation="leaky_relu"):
        self.hidden, self.hidden_layers = int(hidden), int(hidden_layers)
        self.kernel_size, self.activation = int(kernel_size), activation

    def __call__(self, input_shape, output_channels, dtype=None, name=None):
        if len(tuple(input_shape)) != 3:
            raise ValueError(f"ConvSubnet reads [H, W, C] inputs, got per-example shape "
                             f"{tuple(input_shape)}: use DenseSubnet for flat inputs")
        layers = []
        for _ in range(self.hidden_layers):
            layers += [keras.layers.Conv2D(self.hidden, self.kernel_size, padding="same",
                                           dtype=dtype),
                       _activation(self.activation, dtype)]
        layers.append(keras.layers.Conv2D(int(output_channels), 1, kernel_initializer="zeros",
                                          dtype=dtype))
        return keras.Sequential(layers, name=name)

    def get_config(self):
        return {"hidden": self.hidden, "hidden_layers": self.hidden_layers,
                "kernel_size": self.kernel_size, "activation": self.activation}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"ConvSubnet({self.get_config()})"


@keras.saving.register_keras_serializable(package="infozoo")
class DenseSubnet:
    """``hidden_layers`` x (dense -> activation), then a zero-initialised dense layer.

    Reads the last axis, so it also works per pixel on ``[H, W, C]`` inputs.
    """

    def __init__(self, hidden=180, hidden_layers=1, activation="relu"):
        self.hidden, self.hidden_layers, self.activation = int(hidden), int(hidden_layers), activation

    def __call__(self, input_shape, output_channels, dtype=None, name=None):
        layers = []
        for _ in range(self.hidden_layers):
            layers += [keras.layers.Dense(self.hidden, dtype=dtype),
                       _activation(self.activation, dtype)]
        layers.append(keras.layers.Dense(int(output_channels), kernel_initializer="zeros",
                                         dtype=dtype))
        return keras.Sequential(layers, name=name)

    def get_config(self):
        return {"hidden": self.hidden, "hidden_layers": self.hidden_layers,
                "activation": self.activation}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"DenseSubnet({self.get_config()})"


def subnet_constructor(kind, hidden=100, hidden_layers=2, kernel_size=3,
                       activation="leaky_relu"):
    """The zoo constructor named ``kind`` (``"conv"`` or ``"dense"``)."""
    if kind == "conv":
        return ConvSubnet(hidden, hidden_layers, kernel_size, activation)
    if kind == "dense":
        return DenseSubnet(hidden, hidden_layers, activation)
    raise ValueError(f"unknown subnet kind {kind!r}: use 'conv', 'dense' or a subnet "
                     f"constructor (a callable (input_shape, output_channels) -> keras layer)")


def as_constructor(subnet, **defaults):
    """``subnet`` as a constructor: a kind string (with ``defaults``: hidden, hidden_layers,
    kernel_size, activation), a serialised constructor (dict), or a callable."""
    if isinstance(subnet, str):
        return subnet_constructor(subnet, **defaults)
    if isinstance(subnet, dict):
        subnet = keras.saving.deserialize_keras_object(subnet)
    if not callable(subnet):
        raise ValueError(f"subnet must be 'conv', 'dense' or a callable (input_shape, "
                         f"output_channels) -> keras layer, got {subnet!r}")
    return subnet


def serialize_constructor(subnet):
    """A kind string stays a string; a constructor object is Keras-serialised."""
    return subnet if isinstance(subnet, str) else keras.saving.serialize_keras_object(subnet)


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind == p.VAR_KEYWORD for p in params)


def zero_last_layer(net):
    """Zero the trainable variables of the last weighted leaf layer of ``net`` (or of ``net``)."""
    leaves = [l for l in net._flatten_layers(include_self=False, recursive=True)
              if not l._flatten_layers(include_self=False) and l.trainable_variables]
    target = leaves[-1] if leaves else net
    for v in target.trainable_variables:
        v.assign(tf.zeros(v.shape, v.dtype))


def build_subnet(ctor, input_shape, output_channels, dtype=None, name=None, zero_last=True):
    """``ctor(input_shape, output_channels)`` (with ``dtype``/``name`` if it takes them), built
    for ``[batch, *input_shape]``, its last layer zeroed if ``zero_last``."""
    kw = {k: v for k, v in (("dtype", dtype), ("name", name)) if _accepts(ctor, k)}
    net = ctor(tuple(input_shape), int(output_channels), **kw)
    if not isinstance(net, keras.layers.Layer):
        raise ValueError(f"the subnet constructor {ctor!r} returned {type(net).__name__}, "
                         f"not a keras layer")
    net.build((None, *input_shape))
    if zero_last:
        zero_last_layer(net)
    net._infozoo_zero_last = bool(zero_last)  # for re-initialisations (init_normal)
    return net


def init_normal(layer, std):
    """Every trainable variable under ``layer`` drawn from N(0, std^2), then the last layer of
    each zero-initialised subnet zeroed again (the INN-AE authors' ``init_param``, sigma 0.1).
    Draws use Keras' global seed (``keras.utils.set_random_seed``)."""
    for v in layer.trainable_variables:
        v.assign(keras.random.normal(v.shape, stddev=std, dtype=v.dtype))
    for sub in layer._flatten_layers(include_self=True, recursive=True):
        if getattr(sub, "_infozoo_zero_last", False):
            zero_last_layer(sub)
