"""Matrix-based Renyi alpha-entropy and mutual information (TensorFlow, float64).

#### Mathematical Details

For a batch ``t_1 .. t_n`` of a representation ``T`` (flattened to ``[n, d]``), the
Gaussian Gram matrix is ``K_ij = exp(-||t_i - t_j||^2 / (2 sigma^2))`` and
``A = K / tr(K)`` (so ``tr A = 1`` and the eigenvalues of ``A`` are a probability
vector). The matrix-based Renyi alpha-entropy (Sanchez Giraldo, Rao & Principe 2014) is

    S_alpha(A) = 1 / (1 - alpha) * log2( sum_i lambda_i(A)^alpha )        (bits)

with ``0 <= S_alpha <= log2 n``; ``alpha = 1`` is the limit
``-sum lambda log2 lambda``. The joint entropy of two representations of the same
batch uses the normalised Hadamard product, ``A_XT = (A_X o A_T) / tr(A_X o A_T)``, and

    I_alpha(X; T) = S_alpha(A_X) + S_alpha(A_T) - S_alpha(A_XT).

#### Kernel width (explicit and configurable)

Silverman-style, as Yu & Principe (2019) do for autoencoders:
``sigma = gamma * n^(-1 / (4 + d))`` with ``d`` the (flattened) dimension of the
representation and ``n`` the batch size. ``gamma`` is

- ``"median"`` (default): the median pairwise Euclidean distance of that
  representation over the batch, so the width follows each layer's scale (a fixed
  ``gamma = 1`` on raw 784-dimensional pixels gives ``K ~ I`` and a meaningless
  ``S ~ log2 n``);
- a positive number: a fixed ``gamma`` for every layer (data in the same units).

``factor`` multiplies ``sigma`` (a sensitivity knob; default 1). A batch whose
distances are all 0 (a constant layer) gets ``K = 1`` and ``S = 0``; if only the
median is 0 (more than half of the pairs duplicated) the mean distance is used.

#### Numerical safety

Everything is float64; squared distances are clipped at 0 with an exact zero
diagonal; ``K`` is symmetrised, ``(K + K^T) / 2``; only eigenvalues are computed
(``tf.linalg.eigvalsh``, no eigenvectors, no gradients through them: the probe is
a measurement), clipped at 0 and renormalised to sum 1 before the power. Never put
these functions under ``jit_compile=True`` on a CPU: XLA's CPU ``eigvalsh`` is a
Jacobi solver roughly 100x slower than LAPACK.

#### References

L. G. Sanchez Giraldo, M. Rao, J. C. Principe (2014), Measures of entropy from data
using infinitely divisible kernels. S. Yu, J. C. Principe (2019), Understanding
autoencoders with information theoretic concepts.
"""
import math

import tensorflow as tf

DTYPE = tf.float64
from infozoo.probe.settings import DEFAULT_ALPHA  # noqa: E402,F401  (Renyi order 1.01)


def check_alpha(alpha):
    alpha = float(alpha)
    if not alpha > 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be > 0 and finite, got {alpha}")
    return alpha


def check_gamma(gamma):
    """``"median"`` or a positive float (the ``gamma`` of the width rule)."""
    if isinstance(gamma, str):
        if gamma == "median":
            return gamma
        try:
            gamma = float(gamma)
        except ValueError:
            raise ValueError(f"gamma must be 'median' or a positive number, got {gamma!r}") from None
    gamma = float(gamma)
    if not gamma > 0 or not math.isfinite(gamma):
        raise ValueError(f"gamma must be 'median' or a positive number, got {gamma}")
    return gamma


def flatten64(x):
    """``[n, ...] -> [n, d]`` float64."""
    x = tf.convert_to_tensor(x)
    return tf.cast(tf.reshape(x, [tf.shape(x)[0], -1]), DTYPE)


def pairwise_sq_dists(x):
    """Squared Euclidean distances ``[n, n]`` of the rows of ``x`` ``[n, d]`` (float64),
    symmetric, clipped at 0, exactly 0 on the diagonal."""
    sq = tf.reduce_sum(x * x, axis=1)
    d = sq[:, None] + sq[None, :] - 2.0 * tf.matmul(x, x, transpose_b=True)
    d = tf.maximum(0.5 * (d + tf.transpose(d)), 0.0)
    return tf.linalg.set_diag(d, tf.zeros_like(sq))


def _median_offdiag(dist):
    """Median of the ``n (n - 1) / 2`` off-diagonal distances (mean of the two middle ones)."""
    upper = tf.linalg.band_part(tf.ones_like(dist), 0, -1) - tf.linalg.band_part(
        tf.ones_like(dist), 0, 0)
    vals = tf.sort(tf.boolean_mask(dist, upper > 0))
    m = tf.shape(vals)[0]
    lo, hi = (m - 1) // 2, m // 2
    return tf.cond(m > 0, lambda: 0.5 * (tf.gather(vals, lo) + tf.gather(vals, hi)),
                   lambda: tf.zeros([], DTYPE))


def kernel_width(sq_dists, dim, gamma="median", factor=1.0):
    """``sigma = factor * gamma * n^(-1/(4+d))`` for the batch with squared distances
    ``sq_dists`` ``[n, n]`` and flattened dimension ``dim`` (see the module docstring)."""
    n = tf.cast(tf.shape(sq_dists)[0], DTYPE)
    if gamma == "median":
        dist = tf.sqrt(sq_dists)
        med = _median_offdiag(dist)
        mean = tf.reduce_sum(dist) / tf.maximum(n * (n - 1.0), 1.0)
        g = tf.where(med > 0, med, tf.where(mean > 0, mean, tf.ones([], DTYPE)))
    else:
        g = tf.constant(float(gamma), DTYPE)
    return tf.constant(float(factor), DTYPE) * g * tf.pow(n, -1.0 / (4.0 + float(dim)))


def gram_from_sq_dists(sq_dists, sigma):
    """Gaussian Gram matrix ``exp(-D / (2 sigma^2))``, symmetrised (float64)."""
    k = tf.exp(-sq_dists / (2.0 * tf.square(tf.cast(sigma, DTYPE))))
    return 0.5 * (k + tf.transpose(k))


def gram(x, gamma="median", factor=1.0):
    """``(K, sigma)`` of a batch ``x`` ``[n, ...]`` with the width rule."""
    x = flatten64(x)
    d2 = pairwise_sq_dists(x)
    dim = x.shape[1]
    if dim is None:
        raise ValueError("the flattened dimension of the representation must be static")
    sigma = kernel_width(d2, int(dim), gamma, factor)
    return gram_from_sq_dists(d2, sigma), sigma


def normalize(k):
    """``K / tr(K)``."""
    return k / tf.linalg.trace(k)


def entropy_of_eigenvalues(lam, alpha=DEFAULT_ALPHA):
    """``S_alpha`` (bits) of the eigenvalues of a trace-normalised Gram matrix:
    clipped at 0 and renormalised to sum 1 first."""
    lam = tf.maximum(tf.cast(lam, DTYPE), 0.0)
    lam = lam / tf.reduce_sum(lam)
    alpha = check_alpha(alpha)
    if alpha == 1.0:
        safe = tf.where(lam > 0, lam, tf.ones_like(lam))
        return -tf.reduce_sum(tf.where(lam > 0, lam * tf.math.log(safe), 0.0)) / math.log(2.0)
    s = tf.reduce_sum(tf.pow(lam, alpha))
    return tf.math.log(s) / ((1.0 - alpha) * math.log(2.0))


def matrix_entropy(k, alpha=DEFAULT_ALPHA):
    """``S_alpha(K / tr K)`` in bits for a (Gram) matrix ``K`` ``[n, n]``."""
    a = normalize(tf.cast(k, DTYPE))
    a = 0.5 * (a + tf.transpose(a))
    return entropy_of_eigenvalues(tf.linalg.eigvalsh(a), alpha)


def joint_entropy(k1, k2, alpha=DEFAULT_ALPHA):
    """``S_alpha`` of the normalised Hadamard product ``K1 o K2`` (bits)."""
    return matrix_entropy(tf.cast(k1, DTYPE) * tf.cast(k2, DTYPE), alpha)


def mutual_information_from_grams(kx, kt, alpha=DEFAULT_ALPHA):
    """``I_alpha(X; T) = S(X) + S(T) - S(X, T)`` from two Gram matrices (bits)."""
    return matrix_entropy(kx, alpha) + matrix_entropy(kt, alpha) - joint_entropy(kx, kt, alpha)


def entropy(x, alpha=DEFAULT_ALPHA, gamma="median", factor=1.0):
    """``S_alpha(T)`` in bits of a batch ``x`` ``[n, ...]`` (width rule of the module)."""
    return matrix_entropy(gram(x, gamma, factor)[0], alpha)


def mutual_information(x, t, alpha=DEFAULT_ALPHA, gamma="median", factor=1.0):
    """``I_alpha(X; T)`` in bits of two batches of the same ``n`` examples."""
    return mutual_information_from_grams(gram(x, gamma, factor)[0], gram(t, gamma, factor)[0],
                                         alpha)
