"""The 4x4 stride-2 convolutions with the matrix-product kernel gradient (infozoo/nets/conv.py)
agree with TensorFlow's and Keras' convolutions."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from infozoo.nets import conv
from infozoo.nets.encoders import conv_decoder, conv_encoder

# (input size, in channels, out channels): the zoo's 28 -> 14 -> 7 -> 4 -> 2 chain has odd
# and even sizes; 5 and 9 are odd sizes whose SAME padding puts the extra row after.
ENC = [(28, 1, 3), (14, 4, 6), (7, 6, 5), (4, 5, 8), (5, 3, 2), (9, 2, 3), (1, 2, 2)]
DEC = [(7, 8, 4), (14, 4, 3), (3, 2, 5), (1, 3, 2), (2, 5, 1)]


def _cases():
    for h, ci, co in ENC:
        yield "conv", h, (4, 4, ci, co), ci
    for h, ci, co in DEC:
        yield "transpose", h, (4, 4, co, ci), ci


def _reference(kind, x, k):
    if kind == "conv":
        return tf.nn.conv2d(x, k, 2, "SAME")
    shape = [x.shape[0], 2 * x.shape[1], 2 * x.shape[2], k.shape[2]]
    return tf.nn.conv2d_transpose(x, k, shape, 2, "SAME")


def _ours(kind, x, k):
    return (conv.conv2d_s2 if kind == "conv" else conv.conv2d_transpose_s2)(x, k)


def _pass(fn, kind, x, k, dy):
    with tf.GradientTape() as tape:
        tape.watch([x, k])
        y = fn(kind, x, k)
    return [y, *tape.gradient(y, [x, k], output_gradients=dy)]


def _data(kind, h, kshape, cin, dtype, seed=0):
    rng = np.random.RandomState(seed)
    x = tf.constant(rng.randn(3, h, h, cin), dtype)
    k = tf.constant(rng.randn(*kshape), dtype)
    dy = tf.constant(rng.randn(*_reference(kind, x, k).shape), dtype)
    return x, k, dy


@pytest.mark.parametrize("kind,h,kshape,cin", list(_cases()))
def test_float64_equal_to_tensorflow(kind, h, kshape, cin):
    """Output, input gradient and kernel gradient in float64: the same sums in another order,
    so equal to ~1e-12 of the sums of absolute terms (at most a few hundred terms here)."""
    x, k, dy = _data(kind, h, kshape, cin, tf.float64)
    ref, ours = _pass(_reference, kind, x, k, dy), _pass(_ours, kind, x, k, dy)
    for r, o in zip(ref, ours):
        assert r.shape == o.shape
        np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=0, atol=1e-12)


def _kernel_grad_abs(kind, x, k, dy):
    """sum over the terms of each kernel-gradient entry of |term|, and the number of terms."""
    ax, ady = tf.abs(tf.cast(x, tf.float64)), tf.abs(tf.cast(dy, tf.float64))
    return _pass(_reference, kind, ax, tf.cast(k, tf.float64), ady)[2].numpy(), \
        int(np.prod(ax.shape[:3]) if kind == "transpose" else np.prod(ady.shape[:3]))


@pytest.mark.parametrize("kind,h,kshape,cin", list(_cases()))
def test_float32_kernel_gradient_within_rounding_bound(kind, h, kshape, cin):
    """float32: both kernel gradients are dot products of m terms summed in some order, so each
    is within gamma_m = m u / (1 - m u) (u = 2^-24) times the sum of |terms| of the exact value;
    the two differ by at most twice that. Output and input gradient are TensorFlow's own ops."""
    x, k, dy = _data(kind, h, kshape, cin, tf.float32, seed=1)
    ref, ours = _pass(_reference, kind, x, k, dy), _pass(_ours, kind, x, k, dy)
    np.testing.assert_array_equal(ours[0].numpy(), ref[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), ref[1].numpy())
    s, m = _kernel_grad_abs(kind, x, k, dy)
    u = 2.0 ** -24
    bound = 2 * m * u / (1 - m * u) * s
    assert np.all(np.abs(ours[2].numpy() - ref[2].numpy()) <= bound + 1e-30)
    exact = _pass(_reference, kind, tf.cast(x, tf.float64), tf.cast(k, tf.float64),
                  tf.cast(dy, tf.float64))[2].numpy()
    assert np.all(np.abs(ours[2].numpy() - exact) <= bound / 2 + 1e-30)


def _layers(kind, filters, policy):
    cls = (keras.layers.Conv2D, conv.Conv2D) if kind == "conv" else \
        (keras.layers.Conv2DTranspose, conv.Conv2DTranspose)
    return [c(filters, 4, strides=2, padding="same", use_bias=True, dtype=policy) for c in cls]


@pytest.mark.parametrize("kind,h,kshape,cin", list(_cases()))
def test_mixed_bfloat16_layer_equals_keras_layer(kind, h, kshape, cin, monkeypatch):
    """Under mixed_bfloat16 the layer takes the matrix-product kernel gradient (counted) and
    agrees with Keras' layer: output and input gradient are the same bf16 ops (equal); each
    kernel-gradient entry is a float32-accumulated dot product rounded once to bf16, so both
    are within one bf16 rounding (u = 2^-8 of the value) plus gamma_m(float32) * sum |terms|
    of the exact gradient of the same bf16 inputs."""
    filters = kshape[3] if kind == "conv" else kshape[2]
    keras.utils.set_random_seed(h * 100 + cin)  # the layers' initial kernels
    ref, ours = _layers(kind, filters, "mixed_bfloat16")
    x, _, _ = _data(kind, h, kshape, cin, tf.float32, seed=2)
    ref.build(x.shape)
    ours.build(x.shape)
    for a, b in zip(ref.weights, ours.weights):
        b.assign(a)
    calls = []
    name = "conv_kernel_grad" if kind == "conv" else "conv_transpose_kernel_grad"
    real = getattr(conv, name)
    monkeypatch.setattr(conv, name, lambda *a: calls.append(1) or real(*a))
    xb = tf.cast(x, tf.bfloat16)
    dy = tf.cast(tf.random.stateless_normal(ref(xb).shape, (3, 4)), tf.bfloat16)
    out = []
    for layer in (ref, ours):
        with tf.GradientTape() as tape:
            tape.watch(xb)
            y = layer(xb)
        out.append([y, *tape.gradient(y, [xb, layer.kernel, layer.bias], output_gradients=dy)])
    assert calls, "the bf16 layer did not use the matrix-product kernel gradient"
    (y0, dx0, dk0, db0), (y1, dx1, dk1, db1) = out
    assert y1.dtype == tf.bfloat16 and dk1.dtype == tf.float32
    np.testing.assert_array_equal(y1.numpy(), y0.numpy())
    np.testing.assert_array_equal(dx1.numpy(), dx0.numpy())
    np.testing.assert_array_equal(db1.numpy(), db0.numpy())
    kb = tf.cast(tf.cast(ref.kernel, tf.bfloat16), tf.float64)
    xd, dyd = tf.cast(xb, tf.float64), tf.cast(dy, tf.float64)
    exact = _pass(_reference, kind, xd, kb, dyd)[2].numpy()
    s, m = _kernel_grad_abs(kind, xd, kb, dyd)
    u32 = 2.0 ** -24
    bound = 2.0 ** -8 * np.abs(exact) + m * u32 / (1 - m * u32) * s + 1e-30
    assert np.all(np.abs(dk1.numpy() - exact) <= bound)
    if not _tf_bf16_kernel_grad_reads_padding(kind, h):
        assert np.all(np.abs(dk0.numpy() - exact) <= bound)


def _tf_bf16_kernel_grad_reads_padding(kind, h):
    """TensorFlow 2.21's bf16 Conv2DBackpropFilter (oneDNN) with stride 2 on a 1x1 input returns
    values up to 1e32 in the kernel taps that see only padding on an AMD EPYC with avx512_bf16
    and no AMX (2026-12-08; correct on the AMX CPU): Keras' layer is not a reference there.
    test_stride2_bf16_kernel_gradient_on_a_1x1_input checks infozoo's layer on it alone."""
    return kind == "conv" and h == 1


@pytest.mark.parametrize("seed", range(8))
def test_stride2_bf16_kernel_gradient_on_a_1x1_input(seed):
    """Where TensorFlow's bf16 kernel gradient can read padding as data (above), infozoo's is
    exact: the taps that see only padding get exactly 0, the one tap that sees the pixel gets
    x * dy rounded once (a single product per batch entry, summed in float32: 3 terms)."""
    rng = np.random.RandomState(seed)
    x = tf.constant(rng.randn(3, 1, 1, 2), tf.bfloat16)
    k = tf.constant(rng.randn(4, 4, 2, 2), tf.bfloat16)
    dy = tf.constant(rng.randn(3, 1, 1, 2), tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(k)
        y = conv.conv2d_s2(x, k)
    dk = tape.gradient(y, k, output_gradients=dy).numpy().astype(np.float64)
    xd, dyd = x.numpy().astype(np.float64), dy.numpy().astype(np.float64)
    exact = np.zeros((4, 4, 2, 2))
    exact[1, 1] = np.einsum("bi,bo->io", xd[:, 0, 0], dyd[:, 0, 0])  # SAME pads 1 before, 2 after
    s = np.einsum("bi,bo->io", np.abs(xd[:, 0, 0]), np.abs(dyd[:, 0, 0]))
    mask = np.ones((4, 4), bool)
    mask[1, 1] = False
    np.testing.assert_array_equal(dk[mask], 0.0)
    assert np.all(np.abs(dk[1, 1] - exact[1, 1]) <= 2.0 ** -8 * np.abs(exact[1, 1]) + 4 * 2.0 ** -24 * s)


def test_float32_layer_is_keras_layer(monkeypatch):
    """In float32 (and for other kernel sizes or strides) the layers are Keras' layers."""
    monkeypatch.setattr(conv, "conv2d_s2", None)
    monkeypatch.setattr(conv, "conv2d_transpose_s2", None)
    x = tf.random.stateless_normal((2, 7, 7, 3), (1, 2))
    for kind in ("conv", "transpose"):
        ref, ours = _layers(kind, 4, "float32")
        ours.build(x.shape)
        ref.build(x.shape)
        for a, b in zip(ref.weights, ours.weights):
            b.assign(a)
        np.testing.assert_array_equal(ours(x).numpy(), ref(x).numpy())
    other = conv.Conv2D(4, 3, strides=2, padding="same", dtype="mixed_bfloat16")
    assert other(tf.cast(x, tf.bfloat16)).shape == (2, 4, 4, 4)


def test_saved_round_trip_and_keras_layers_interchange(tmp_path):
    """A conv encoder/decoder pair saves and loads (.keras) with identical outputs, and its
    weights load into the same nets built from Keras' plain layers and back."""
    enc = conv_encoder((8, 8, 1), channels=(4, 6))
    dec = conv_decoder(5, (8, 8, 1), channels=(6, 4))
    assert isinstance(enc.layers[0], conv.Conv2D)
    assert isinstance(dec.layers[3], conv.Conv2DTranspose)
    x = tf.random.stateless_normal((3, 8, 8, 1), (5, 6))
    z = tf.random.stateless_normal((3, 5), (7, 8))
    for net, inp in ((enc, x), (dec, z)):
        path = str(tmp_path / f"{net.name}.keras")
        net.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded.layers[0 if net is enc else 3]).__module__ == "infozoo.nets.conv"
        np.testing.assert_array_equal(loaded(inp, training=False).numpy(),
                                      net(inp, training=False).numpy())
        plain = keras.Sequential(
            [_plain(layer) for layer in net.layers], name=net.name)
        plain.build(net.input_shape)
        wpath = str(tmp_path / f"{net.name}.weights.h5")
        net.save_weights(wpath)
        plain.load_weights(wpath)
        np.testing.assert_array_equal(plain(inp, training=False).numpy(),
                                      net(inp, training=False).numpy())


def _plain(layer):
    for ours, theirs in ((conv.Conv2D, keras.layers.Conv2D),
                         (conv.Conv2DTranspose, keras.layers.Conv2DTranspose)):
        if type(layer) is ours:
            return theirs.from_config(layer.get_config())
    return type(layer).from_config(layer.get_config())
