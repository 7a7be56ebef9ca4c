"""4x4 stride-2 SAME convolutions whose kernel gradient is four matrix products.

On a CPU with AMX, oneDNN's bf16 backward-weights pass of the WAE/DCGAN nets' 4x4 stride-2
convolutions (``brgconv_bwd_w``) is the largest single cost of a ``vae``/``vimae`` step
(docs/performance.md): forward and backward-data get 2-2.7x faster under bf16, backward-weights
hardly at all. The same gradient is four ordinary matrix products, which oneDNN runs well:

- ``y = conv2d(x, W, stride 2, SAME)``, ``W`` of shape ``(4, 4, C, O)``: pad ``x`` as TF's SAME
  does (total ``max((o - 1) * 2 + 4 - h, 0)``, the smaller half before), ``space_to_depth`` it
  with block 2 to ``X`` (channel ``(p * 2 + q) * C + c`` holds pixel ``(2u + p, 2v + q)``),
  then for each of the four block offsets ``(a, b)``
  ``dW[2a + p, 2b + q, c, o] = sum_{n,i,j} X[n, i + a, j + b, (p, q, c)] dy[n, i, j, o]``,
  a ``(4C) x (N * oh * ow)`` by ``(N * oh * ow) x O`` product.
- ``z = conv2d_transpose(x, W, stride 2, SAME)``, ``W`` of shape ``(4, 4, O, C)``, ``z`` of size
  ``2h x 2w``: SAME pads the forward convolution by 1 before, so ``z[2i + k - 1]`` receives
  ``x[i] W[k]``; with ``D = space_to_depth(pad(dz, 1))``,
  ``dW[2a + p, 2b + q, o, c] = sum_{n,i,j} D[n, i + a, j + b, (p, q, o)] x[n, i, j, c]``.

Each kernel entry is one dot product over the same terms as the convolution's own gradient
(one rounding to the output dtype after float32 accumulation under bf16), in a different
order. Forward and input gradient stay the ordinary oneDNN convolutions.

``Conv2D`` and ``Conv2DTranspose`` here are Keras' layers (same weights, names and config) that
use this gradient when they compute in bfloat16 or float16 with a 4x4 kernel, stride 2,
SAME padding, channels last and static spatial size; otherwise they are Keras' layers. In
float32 the matrix-product gradient was not faster in the microbenchmark (docs/performance.md),
so float32 keeps oneDNN's. The class names are Keras' because Keras stores a layer's weights
under its snake-cased class name: weights saved from either layer load into the other, and
``.keras`` files written before these layers existed still load (as Keras' layers).
"""
import keras
import tensorflow as tf

LOW_PRECISION = ("bfloat16", "float16")


def _same_pads(size, out):
    total = max((out - 1) * 2 + 4 - size, 0)
    return total // 2, total - total // 2


def _block_products(blocks, other, h, w, rows):
    """``[blocks[:, a:a+h, b:b+w, :]^T other for (a, b)]`` as one ``(2, 2, rows, cols)`` tensor."""
    other = tf.reshape(other, (-1, other.shape[-1]))
    prods = [tf.matmul(tf.reshape(blocks[:, a:a + h, b:b + w, :], (-1, rows)), other,
                       transpose_a=True) for a in range(2) for b in range(2)]
    return tf.stack(prods)


def _to_kernel(g, first, second):
    """``(a, b) x (p, q, first) x second`` block products -> kernel ``(4, 4, first, second)``."""
    g = tf.reshape(g, (2, 2, 2, 2, first, second))          # (a, b, p, q, first, second)
    return tf.reshape(tf.transpose(g, (0, 2, 1, 3, 4, 5)), (4, 4, first, second))


def conv_kernel_grad(x, dy, cin, cout):
    """Gradient w.r.t. ``W`` of ``sum(dy * conv2d(x, W, 2, "SAME"))``, ``W`` ``(4, 4, cin, cout)``."""
    h, w, oh, ow = x.shape[1], x.shape[2], dy.shape[1], dy.shape[2]
    (t, b), (l, r) = _same_pads(h, oh), _same_pads(w, ow)
    xs = tf.nn.space_to_depth(tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]), 2)
    return _to_kernel(_block_products(xs, dy, oh, ow, 4 * cin), cin, cout)


def conv_transpose_kernel_grad(x, dz, cout, cin):
    """Gradient w.r.t. ``W`` of ``sum(dz * conv2d_transpose(x, W, 2, "SAME"))``, ``W``
    ``(4, 4, cout, cin)``, output ``2h x 2w``."""
    d = tf.nn.space_to_depth(tf.pad(dz, [[0, 0], [1, 1], [1, 1], [0, 0]]), 2)
    return _to_kernel(_block_products(d, x, x.shape[1], x.shape[2], 4 * cout), cout, cin)


def conv2d_s2(x, kernel):
    """``conv2d(x, kernel, 2, "SAME")`` for a 4x4 kernel, with the matrix-product kernel
    gradient (module docstring). ``x``: NHWC with static H, W."""
    cin, cout = kernel.shape[2], kernel.shape[3]

    @tf.custom_gradient
    def f(x, kernel):
        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy, strides=[1, 2, 2, 1],
                padding="SAME")
            return dx, conv_kernel_grad(x, dy, cin, cout)
        return tf.nn.conv2d(x, kernel, 2, "SAME"), grad
    return f(x, kernel)


def conv2d_transpose_s2(x, kernel):
    """``conv2d_transpose(x, kernel, 2, "SAME")`` to ``2h x 2w`` for a 4x4 kernel
    ``(4, 4, cout, cin)``, with the matrix-product kernel gradient (module docstring)."""
    cout, cin = kernel.shape[2], kernel.shape[3]

    @tf.custom_gradient
    def f(x, kernel):
        shape = tf.stack([tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], cout])

        def grad(dz):
            return (tf.nn.conv2d(dz, kernel, 2, "SAME"),
                    conv_transpose_kernel_grad(x, dz, cout, cin))
        return tf.nn.conv2d_transpose(x, kernel, shape, 2, "SAME"), grad
    return f(x, kernel)


def _fast(layer, inputs, groups=1):
    return (layer.compute_dtype in LOW_PRECISION and layer.rank == 2
            and tuple(layer.kernel_size) == (4, 4) and tuple(layer.strides) == (2, 2)
            and layer.padding == "same" and layer.data_format == "channels_last"
            and tuple(layer.dilation_rate) == (1, 1) and groups == 1
            and len(inputs.shape) == 4 and inputs.shape[1] is not None
            and inputs.shape[2] is not None)


def _finish(layer, outputs):
    if layer.use_bias:
        outputs = keras.ops.add(outputs, keras.ops.reshape(layer.bias, (1, 1, 1, layer.filters)))
    return layer.activation(outputs) if layer.activation is not None else outputs


@keras.saving.register_keras_serializable(package="infozoo")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose 4x4 stride-2 SAME kernel gradient under bf16/float16 is
    four matrix products (module docstring); otherwise Keras' layer."""

    def call(self, inputs):
        if not _fast(self, inputs, self.groups):
            return super().call(inputs)
        return _finish(self, conv2d_s2(inputs, tf.cast(self.kernel, inputs.dtype)))


@keras.saving.register_keras_serializable(package="infozoo")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` whose 4x4 stride-2 SAME kernel gradient under
    bf16/float16 is four matrix products (module docstring); otherwise Keras' layer."""

    def call(self, inputs):
        if not _fast(self, inputs) or self.output_padding is not None:
            return super().call(inputs)
        return _finish(self, conv2d_transpose_s2(inputs, tf.cast(self.kernel, inputs.dtype)))
