"""Plain (non-invertible) networks used inside coupling layers.

The last layer of every subnet is zero-initialised, so each coupling block
starts as the identity (FrEIA, Glow).
"""
import keras


def _activation(name):
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.1)
    return keras.layers.Activation(name)


def conv_subnet(out_channels, hidden=100, hidden_layers=2, kernel_size=3,
                activation="leaky_relu", dtype=None, name=None):
    """``hidden_layers`` x (conv kxk -> activation), then a zero-initialised 1x1 conv.

    With the defaults this is the INN-AE paper's MNIST subnet (§3.1: 100
    channels, kernel 3, leaky ReLU 0.1), as in the authors' FrEIA code.
    """
    layers = []
    for _ in range(hidden_layers):
        layers += [keras.layers.Conv2D(hidden, kernel_size, padding="same", dtype=dtype),
                   _activation(activation)]
    layers.append(keras.layers.Conv2D(out_channels, 1, kernel_initializer="zeros", dtype=dtype))
    return keras.Sequential(layers, name=name)


def dense_subnet(out_features, hidden=180, hidden_layers=1, activation="relu",
                 dtype=None, name=None):
    """``hidden_layers`` x (dense -> activation), then a zero-initialised dense layer."""
    layers = []
    for _ in range(hidden_layers):
        layers += [keras.layers.Dense(hidden, dtype=dtype), _activation(activation)]
    layers.append(keras.layers.Dense(out_features, kernel_initializer="zeros", dtype=dtype))
    return keras.Sequential(layers, name=name)


def make_subnet(kind, out, dtype=None, name=None, **kwargs):
    if kind == "conv":
        return conv_subnet(out, dtype=dtype, name=name, **kwargs)
    if kind == "dense":
        kwargs.pop("kernel_size", None)
        return dense_subnet(out, dtype=dtype, name=name, **kwargs)
    raise ValueError(f"unknown subnet kind {kind!r}: use 'conv' or 'dense'")
