"""Known-answer families: paired samples whose Shannon MI is known in closed form.

Used by ``tests/test_estimators.py`` (small ``n``) and ``bin/bench_mi``. Each
:class:`Task` draws ``(x, y)`` for a given ``n`` and seed and knows its MI in bits.

- ``gauss-dense-d``: ``X ~ N(0, I_d)``, ``Y = B X + E``, ``E ~ N(0, I_d)``, ``B`` a fixed dense
  random matrix scaled to a target MI: ``I = 1/2 log det(I + B B^T)``;
- ``gauss-sparse-d``: ``s`` coordinate pairs with correlation ``rho``, the rest independent:
  ``I = -s/2 log(1 - rho^2)``;
- ``*-bij``: the same pushed through smooth bijections of each side (``x -> Phi(x)``, the
  normal CDF; ``y -> y^3 + y``): MI is unchanged;
- ``student-d``: ``(X, Y) = G / sqrt(W / nu)``, ``G`` a sparse-correlation Gaussian, ``W ~
  chi2_nu``: ``I = I_Gauss + c(nu, d, d)``, ``c = g(d) + g(d) - g(2d)``, ``g(k) = log
  Gamma(nu/2) - log Gamma((nu+k)/2) + (nu+k)/2 (psi((nu+k)/2) - psi(nu/2))`` (Arellano-Valle,
  Contreras-Reyes, Genton 2013, Eq. 7 for the entropies);
- ``indep-d``: independent pairs, ``I = 0``;
- :func:`linear_noisy`: ``I(X; A X + sigma Z) = 1/2 log det(I + A A^T / sigma^2)`` for ``X ~
  N(0, I)``, the closed form the ``noisy`` estimator is checked against.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

LN2 = math.log(2.0)


@dataclass
class Task:
    name: str
    family: str
    dim: int
    mi_bits: float
    sampler: object

    def sample(self, n, seed=0):
        return self.sampler(int(n), np.random.RandomState(seed))


def _dense_b(d, target_bits, seed=1):
    g = np.random.RandomState(seed).randn(d, d) / math.sqrt(d)
    mi = lambda c: 0.5 * np.linalg.slogdet(np.eye(d) + c * c * g @ g.T)[1] / LN2  # noqa: E731
    lo, hi = 0.0, 100.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mi(mid) < target_bits else (lo, mid)
    return 0.5 * (lo + hi) * g, mi(0.5 * (lo + hi))


def gauss_dense(d, target_bits):
    b, mi = _dense_b(d, target_bits)
    return mi, lambda n, r: (lambda x: (x, x @ b.T + r.randn(n, d)))(r.randn(n, d))


def _sparse_pairs(d):
    return 1 if d < 5 else 2


def gauss_sparse(d, rho=0.9):
    s = _sparse_pairs(d)

    def sample(n, r):
        x = r.randn(n, d)
        y = r.randn(n, d)
        y[:, :s] = rho * x[:, :s] + math.sqrt(1 - rho * rho) * y[:, :s]
        return x, y
    return -0.5 * s * math.log(1 - rho * rho) / LN2, sample


def bijected(sample):
    def s(n, r):
        x, y = sample(n, r)
        return special.ndtr(x), y ** 3 + y
    return s


def student_g(k, nu):
    return (special.gammaln(nu / 2) - special.gammaln((nu + k) / 2)
            + (nu + k) / 2 * (special.digamma((nu + k) / 2) - special.digamma(nu / 2)))


def student_mi_nats(dx, dy, nu, gauss_nats):
    """MI of a multivariate Student-t pair with dof ``nu`` and a scale matrix whose
    Gaussian MI is ``gauss_nats``."""
    return gauss_nats + student_g(dx, nu) + student_g(dy, nu) - student_g(dx + dy, nu)


def student(d, nu=3.0, rho=0.6):
    s = _sparse_pairs(d)
    gauss = -0.5 * s * math.log(1 - rho * rho)

    def sample(n, r):
        x = r.randn(n, d)
        y = r.randn(n, d)
        y[:, :s] = rho * x[:, :s] + math.sqrt(1 - rho * rho) * y[:, :s]
        w = np.sqrt(r.chisquare(nu, size=(n, 1)) / nu)
        return x / w, y / w
    return student_mi_nats(d, d, nu, gauss) / LN2, sample


def independent(d):
    return 0.0, lambda n, r: (r.randn(n, d), r.standard_exponential((n, d)))


DIMS = (1, 2, 5, 25)
#: the Beyond-Normal-style families (Czyz et al. 2023): Gaussians, their bijections and
#: Student-t at 5, 25 and 50 dimensions, beside the low-dimensional ones
BEYOND_NORMAL_DIMS = (1, 2, 5, 25, 50)
DENSE_BITS = {1: 0.5, 2: 1.0, 5: 1.5, 25: 2.0, 50: 2.0}


def tasks(dims=DIMS):
    """The benchmark's task list (23 tasks for the default dims, 29 with 50)."""
    out = []
    for d in dims:
        mi, s = gauss_dense(d, DENSE_BITS.get(d, 1.0))
        out += [Task(f"gauss-dense-{d}", "gauss-dense", d, mi, s),
                Task(f"gauss-dense-{d}-bij", "gauss-dense-bij", d, mi, bijected(s))]
        mi, s = gauss_sparse(d)
        out += [Task(f"gauss-sparse-{d}", "gauss-sparse", d, mi, s),
                Task(f"gauss-sparse-{d}-bij", "gauss-sparse-bij", d, mi, bijected(s))]
        mi, s = student(d)
        out.append(Task(f"student-{d}", "student", d, mi, s))
        if d != 2:
            mi, s = independent(d)
            out.append(Task(f"indep-{d}", "indep", d, mi, s))
    return out


def linear_noisy(dx, dt, sigma, seed=0):
    """``(A, mi_bits)`` for ``T = A X``, ``X ~ N(0, I_dx)``: ``I(X; T + sigma Z)``."""
    a = np.random.RandomState(seed).randn(dt, dx) / math.sqrt(dx)
    return a, 0.5 * np.linalg.slogdet(np.eye(dt) + a @ a.T / sigma ** 2)[1] / LN2
