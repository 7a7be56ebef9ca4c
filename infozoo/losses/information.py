"""The non-parametric upper bound of I(x; z) of IPAE (Zhang, Ozay, Sun, Okatani), eq. 10.

With a Gaussian stochastic encoder ``z = mu(x) + sigma(x) * eps`` (eq. 3) and
``p(z) ~= 1/N sum_j p(z | x_j)`` (eq. 6), Jensen's inequality (eq. 7) bounds
``H(z)`` by eq. 8; subtracting the analytic ``H(z|x)`` (eq. 9) the
``log|2 pi diag sigma_j^2|`` terms cancel exactly and leave eq. 10::

    I(x; z) <= 1 / (2 K N^2) sum_i sum_k sum_j || (mu_j - mu_i - sigma_i * eps_ik) / sigma_j ||^2

#### Conventions (the paper leaves them open)

- ``eps`` is drawn independently for every example ``i`` and sample ``k``
  (``eps[i, k]``; the paper writes ``eps_k``), as the reparameterisation trick does.
- ``N_j`` (the paper's "maximal value of j", §4.1): each ``i`` is paired with
  the ``N_j`` partners ``j = (i + s) mod N`` for ``s = 1 .. N_j`` within the
  (shuffled) batch, and the sum over ``j`` is divided by ``N_j`` instead of ``N``.
  ``N_j = 1`` pairs every example with its next neighbour; ``N_j >= N`` (or
  ``nj = 0``) is the full double sum of eq. 10 over all ``j`` (``j = i`` included).
- The value returned is per example ``i`` (``[N]``), so that the mean over the
  batch is eq. 10. Under a strategy, IPAE gathers the codes so ``N`` is the global batch.

#### Vectorisation

No Python loop over ``i``, ``j`` or ``k``. The partial case gathers the partners
(``[N, K, N_j, d]``). The full case never forms the ``N x N`` matrix: with
precisions ``w_j = 1 / sigma_j^2`` and ``a_ik = mu_i + sigma_i * eps_ik``, per coordinate
``sum_j w_j (mu_j - a)^2 = W (a - m)^2 + V`` where ``W = sum_j w_j``,
``m = sum_j w_j mu_j / W`` (the precision-weighted mean) and
``V = sum_j w_j (mu_j - m)^2``. Both parts are non-negative (no cancellation), and the
cost is ``O(N K d)``.
"""
import tensorflow as tf


def full_batch_nj(nj, n):
    """True when ``nj`` asks for every ``j`` of a batch of ``n`` (``nj = 0`` or ``nj >= n``)."""
    return nj <= 0 or nj >= n


def pairwise_information_bound(mu, sigma, eps, nj=1):
    """Per-example terms of IPAE eq. 10; their mean over the batch is the bound.

    ``mu``, ``sigma``: ``[N, d]`` (``sigma > 0``); ``eps``: ``[N, K, d]`` standard normal;
    ``nj``: partners per example (Python int; ``0`` or ``>= N``: the whole batch).
    Returns ``b [N]`` with ``b_i = 1 / (2 K N_j) sum_k sum_{j in J(i)} ||(mu_j - mu_i -
    sigma_i eps_ik) / sigma_j||^2``.
    """
    mu = tf.convert_to_tensor(mu)
    sigma = tf.cast(sigma, mu.dtype)
    eps = tf.cast(eps, mu.dtype)
    k = tf.cast(tf.shape(eps)[1], mu.dtype)
    a = mu[:, None, :] + sigma[:, None, :] * eps               # z_ik, eq. 3   [N, K, d]
    w = 1.0 / tf.square(sigma)                                  # 1 / sigma_j^2 [N, d]
    n_static = mu.shape[0]
    nj = int(nj)
    if n_static is not None and not full_batch_nj(nj, n_static):
        return _partial(mu, w, a, k, nj)
    if n_static is None and nj > 0:
        n = tf.shape(mu)[0]
        return tf.cond(nj >= n, lambda: _full(mu, w, a, k),
                       lambda: _partial(mu, w, a, k, nj))
    return _full(mu, w, a, k)


def _full(mu, w, a, k):
    """``N_j = N``: eq. 10 summed over every ``j`` via precision-weighted moments, ``O(N K d)``."""
    n = tf.cast(tf.shape(mu)[0], mu.dtype)
    W = tf.reduce_sum(w, 0)                                     # sum_j 1/sigma_j^2     [d]
    m = tf.reduce_sum(w * mu, 0) / W                            # weighted mean of mu_j [d]
    V = tf.reduce_sum(w * tf.square(mu - m), 0)                 # sum_j (mu_j - m)^2 w_j [d]
    # eq. 10, inner sum: sum_j ||(mu_j - a_ik) / sigma_j||^2 = sum_d [W_d (a_ikd - m_d)^2 + V_d]
    inner = tf.reduce_sum(W * tf.square(a - m) + V, -1)         # [N, K]
    return tf.reduce_sum(inner, 1) / (2.0 * k * n)              # 1/(2 K N) sum_k sum_j  (eq. 10)


def _partial(mu, w, a, k, nj):
    """``N_j < N``: partners ``j = (i + s) mod N``, ``s = 1..N_j``, gathered at once."""
    n = tf.shape(mu)[0]
    idx = (tf.range(n)[:, None] + tf.range(1, nj + 1)[None, :]) % n   # [N, N_j]
    mu_j = tf.gather(mu, idx)                                   # [N, N_j, d]
    w_j = tf.gather(w, idx)
    diff = mu_j[:, None, :, :] - a[:, :, None, :]   # eq. 10: mu_j - mu_i - sigma_i eps_ik [N,K,Nj,d]
    quad = tf.reduce_sum(tf.square(diff) * w_j[:, None, :, :], [1, 2, 3])  # eq. 10: sum_k sum_j
    return quad / (2.0 * k * float(nj))             # eq. 10: 1/(2 K N_j)
