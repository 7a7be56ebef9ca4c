"""Encoder and decoder networks of the stochastic-encoder family (IPAE, VAE, VIMAE).

Each builder returns a ``keras.Sequential`` *trunk*: the encoder trunk maps an
image ``[B, H, W, C]`` to a flat feature vector (the code head is added by the
model: ``(mu, sigma)`` for a Gaussian encoder, ``z`` for a deterministic one), the
decoder maps a code ``[B, d]`` to *pre-activation* outputs ``[B, H, W, C]`` (the
model applies the output activation, so the Bernoulli loss can use logits).

- ``mlp_encoder`` / ``mlp_decoder``: the fully connected nets of IPAE.
  §4.1 (toy set): ``x -relu-> 2048 -> (mu, sigma) [16] ~> z -relu-> 2048 -> 2``
  is ``hidden=[2048], activation="relu"``; §4.2 (MNIST): ``x -sigmoid-> 1024 ->
  (mu, sigma) [8] ~> z -sigmoid-> 1024 -> 784`` is ``hidden=[1024], activation="sigmoid"``.
  The decoder mirrors ``hidden``. VIMAE §5.1 (3 layers of 256, z = 2) is
  ``hidden=[256, 256, 256]``.
- ``conv_encoder`` / ``conv_decoder``: the WAE/DCGAN nets of the VIMAE appendix.
  Encoder: ``len(channels)`` x (Conv(k x k, stride 2, SAME) -> BN -> ReLU), flatten.
  Decoder: FC to ``s x s x channels[0]`` (then ReLU; the appendix omits it, WAE's
  code applies it), then for every further entry FSConv(k x k, stride 2, SAME) ->
  BN -> ReLU, then FSConv to ``C`` channels with stride 1. ``s = H / 2^(len(channels)-1)``
  must be an integer. MNIST (28x28, 4x4): encoder ``[128, 256, 512, 1024]``, decoder
  ``[1024, 512, 256]`` (7x7x1024 -> 14 -> 28). CelebA 64x64 / CIFAR 32x32 (5x5):
  decoder ``[1024, 512, 256, 128]`` (8 or 4 -> ... -> 64 or 32). For 8x8 inputs use
  e.g. encoder ``[32, 64]`` and decoder ``[64, 32]`` (4x4x64 -> 8x8).

Batch norm is synchronised (``synchronized=True``): under a ``tf.distribute`` strategy
the statistics are those of the global batch, so N replicas train as one device.
"""
import keras
import numpy as np

from infozoo.nets.batch_norm import BatchNormalization
from infozoo.nets.conv import Conv2D, Conv2DTranspose

ARCHS = ("mlp", "conv")
#: moving-average momentum of the batch norms (0.9, the decay of WAE's batch_norm; Keras: 0.99)
BN_MOMENTUM = 0.9


def _dense_stack(units, activation, prefix):
    return [keras.layers.Dense(int(u), activation=activation, name=f"{prefix}_dense{i}")
            for i, u in enumerate(units)]


def mlp_encoder(input_shape, hidden=(2048,), activation="relu", name="encoder"):
    """Flatten, then ``Dense(h, activation)`` for every ``h`` in ``hidden`` (IPAE §4.1/§4.2)."""
    net = keras.Sequential([keras.layers.Flatten(name="flatten"),
                            *_dense_stack(hidden, activation, "enc")], name=name)
    net.build((None, *input_shape))
    return net


def mlp_decoder(code_size, output_shape, hidden=(2048,), activation="relu", name="decoder"):
    """``Dense(h, activation)`` for ``h`` in reversed ``hidden``, then a linear layer to
    ``prod(output_shape)`` values, reshaped to ``output_shape`` (pre-activation)."""
    dim = int(np.prod(output_shape))
    net = keras.Sequential([*_dense_stack(list(hidden)[::-1], activation, "dec"),
                            keras.layers.Dense(dim, name="dec_out"),
                            keras.layers.Reshape(tuple(output_shape), name="dec_reshape")],
                           name=name)
    net.build((None, int(code_size)))
    return net


def conv_encoder(input_shape, channels=(128, 256, 512, 1024), kernel_size=4, batch_norm=True,
                 name="encoder"):
    """WAE/DCGAN encoder trunk (VIMAE appendix): (Conv stride 2 SAME -> BN -> ReLU) x n, flatten."""
    if len(input_shape) != 3:
        raise ValueError(f"the conv encoder expects images [H, W, C], got {tuple(input_shape)}")
    layers = []
    for i, ch in enumerate(channels):
        layers.append(Conv2D(int(ch), int(kernel_size), strides=2, padding="same",
                             use_bias=not batch_norm, name=f"enc_conv{i}"))
        if batch_norm:
            layers.append(BatchNormalization(
                momentum=BN_MOMENTUM, synchronized=True, name=f"enc_bn{i}"))
        layers.append(keras.layers.ReLU(name=f"enc_relu{i}"))
    layers.append(keras.layers.Flatten(name="flatten"))
    net = keras.Sequential(layers, name=name)
    net.build((None, *input_shape))
    return net


def decoder_start_size(output_shape, channels):
    """Spatial size ``(h0, w0)`` of the decoder's first feature map; ValueError if not integral."""
    h, w = int(output_shape[0]), int(output_shape[1])
    f = 2 ** (len(channels) - 1)
    if h % f or w % f:
        raise ValueError(f"the conv decoder with {len(channels)} entries in dec_channels upsamples "
                         f"by {f}, which does not divide the image size {h}x{w}: use fewer "
                         f"dec_channels (e.g. 3 for 28x28, 2 for 8x8)")
    return h // f, w // f


def conv_decoder(code_size, output_shape, channels=(1024, 512, 256), kernel_size=4,
                 batch_norm=True, name="decoder"):
    """WAE/DCGAN decoder (VIMAE appendix): FC -> reshape -> (FSConv stride 2 -> BN -> ReLU) x
    (n - 1) -> FSConv stride 1 to the image channels (pre-activation)."""
    if not channels:
        raise ValueError("dec_channels must have at least one entry (the FC feature map)")
    h0, w0 = decoder_start_size(output_shape, channels)
    c0 = int(channels[0])
    layers = [keras.layers.Dense(h0 * w0 * c0, name="dec_fc"),
              keras.layers.Reshape((h0, w0, c0), name="dec_reshape"),
              keras.layers.ReLU(name="dec_fc_relu")]
    for i, ch in enumerate(channels[1:]):
        layers.append(Conv2DTranspose(int(ch), int(kernel_size), strides=2, padding="same",
                                      use_bias=not batch_norm, name=f"dec_fsconv{i}"))
        if batch_norm:
            layers.append(BatchNormalization(
                momentum=BN_MOMENTUM, synchronized=True, name=f"dec_bn{i}"))
        layers.append(keras.layers.ReLU(name=f"dec_relu{i}"))
    layers.append(keras.layers.Conv2DTranspose(int(output_shape[-1]), int(kernel_size), strides=1,
                                               padding="same", name="dec_out"))
    net = keras.Sequential(layers, name=name)
    net.build((None, int(code_size)))
    return net


def make_encoder_decoder(arch, input_shape, code_size, hidden=(2048,), activation="relu",
                         enc_channels=(128, 256, 512, 1024), dec_channels=(1024, 512, 256),
                         kernel_size=4, batch_norm=True):
    """``(encoder_trunk, decoder)`` for ``arch`` in ``ARCHS``."""
    if arch == "mlp":
        return (mlp_encoder(input_shape, hidden, activation),
                mlp_decoder(code_size, input_shape, hidden, activation))
    if arch == "conv":
        return (conv_encoder(input_shape, enc_channels, kernel_size, batch_norm),
                conv_decoder(code_size, input_shape, dec_channels, kernel_size, batch_norm))
    raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
