"""Image sharpness by the variance of the Laplacian (PIE paper §5.2, Table 1).

Definition used here: convert each image to grey scale (``tf.image.rgb_to_grayscale``
for 3 channels; 1-channel images as they are), convolve it with the Laplace
filter ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` (``VALID`` padding, so image borders
add no artificial edges), take the variance of the response over the pixels of
each image, and average over images. Images are used on the scale they are given
(infozoo feeds ``[0, 1]``); the sharpness scales with the square of the pixel
scale, so values are only comparable on the same scale. Higher is sharper.

The paper does not state the pixel scale or the padding, and its Table 1 lists a
negative value (-0.18) for the true images, which a variance cannot be, so its
numbers are not comparable with these.
"""
import numpy as np
import tensorflow as tf

from infozoo.util.batching import batched

LAPLACE = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def to_grey(images):
    """``[N, H, W, C]`` with C in (1, 3) -> ``[N, H, W, 1]`` float32."""
    images = tf.convert_to_tensor(images, tf.float32)
    c = images.shape[-1]
    if c == 3:
        return tf.image.rgb_to_grayscale(images)
    if c == 1:
        return images
    raise ValueError(f"sharpness needs 1 (grey) or 3 (RGB) channels, got {c}")


def laplace_response(images):
    """The Laplace-filtered grey image, ``[N, H-2, W-2]``."""
    kernel = tf.reshape(tf.constant(LAPLACE, tf.float32), [3, 3, 1, 1])
    return tf.nn.conv2d(to_grey(images), kernel, strides=1, padding="VALID")[..., 0]


def sharpness_per_image(images):
    """Variance of the Laplace response of each image, ``[N]``."""
    return tf.math.reduce_variance(laplace_response(images), axis=[1, 2])


def sharpness(images, batch_size=1000):
    """Mean over images of :func:`sharpness_per_image`, computed in batches (a Python float)."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"sharpness needs a non-empty [N, H, W, C] batch, got shape {images.shape}")
    return float(np.sum(batched(sharpness_per_image, images, batch_size), dtype=np.float64)
                 / len(images))
