"""``copula``: MI of an elliptical copula (Gaussian or Student-t) fitted to the ranks.

#### Mathematical details

MI depends only on the copula: ``I(X; Y) = I(F(X); G(Y))`` for the per-dimension CDFs
``F``, ``G`` (a per-dimension monotone map changes no MI). Each dimension goes to
``u = (rank - 1/2) / n`` on all ``n`` rows, and two copula families are fitted by maximum
likelihood:

- Gaussian copula (Ince et al. 2017): normal scores ``z = Phi^-1(u)``, correlation ``R``,
  ``I = 1/2 (log det R_xx + log det R_yy - log det R)``, bias-corrected as in
  :mod:`.gaussian` (exact for Gaussians and any per-dimension bijection of them);
- Student-t copula (Demarta & McNeil 2005): t-scores ``q = t_nu^-1(u)``, shape ``R`` by
  the EM fixed point of the multivariate t (weights ``(nu + D) / (nu + q^T R^-1 q)``,
  rescaled to a correlation), ``nu`` by profile likelihood on a grid (hill climb); its MI is that of
  the multivariate t with the same ``nu`` and ``R``:
  ``I = I_Gauss(R) + g(d_x) + g(d_y) - g(d_x + d_y)``, ``g(k) = log Gamma(nu/2) -
  log Gamma((nu+k)/2) + (nu+k)/2 (psi((nu+k)/2) - psi(nu/2))`` (Arellano-Valle,
  Contreras-Reyes & Genton 2013, Eq. 7 for the entropies; :mod:`.known`). The extra term is
  the dependence a shared scale carries (heavy tails together), which no Gaussian figure
  sees.

The t copula is used (``extra["family"] = "student"``) only when its AIC score (the
log-likelihood less the number of parameters: correlations and ``nu``) beats both the
Gaussian copula's and that of two *independent* per-side t copulas by more than ``margin``
nats (default 5.4: ``chi2_1`` at 0.999 / 2): a shared heavy-tailed scale must be supported
across the sides, not only within each (two independent multivariate t's would otherwise
read a spurious shared-scale term; without the parameter count the joint model's
``d_x d_y`` extra correlations alone gain about ``d_x d_y / 2`` nats on independent data). ``family="gaussian"`` / ``"student"`` force
one. ``extra``: ``family``, ``nu``, ``gauss_bits`` (the Gaussian-copula figure),
``loglik`` per model (nats).

It is a two-family parametric model: exact (up to sampling) for per-dimension bijections of
Gaussians and of multivariate Student-t pairs, a Gaussian-copula lower-bound-like figure for
any other dependence (the non-elliptical part of a copula is invisible to it).

Interval (``ci=``): ``half-samples`` as for ``ksg`` (:func:`~.base.halfsample_interval`):
the whole estimator (ranks, family, ``nu``, ``R``) re-run on 10 random halves.
"""
import math

import numpy as np
from scipy import special

from infozoo.probe.estimators import base

NU_GRID = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 25.0, 50.0, 100.0)


def uniform_scores(a):
    """``(rank - 1/2) / n`` per dimension (average ranks for ties)."""
    from scipy import stats
    return (stats.rankdata(a, axis=0) - 0.5) / len(a)


def _logdet(m):
    return 2.0 * float(np.sum(np.log(np.diag(np.linalg.cholesky(m)))))


def _corr(s):
    d = np.sqrt(np.diag(s))
    return s / np.outer(d, d)


def _mahalanobis(q, r):
    """``q_i^T R^-1 q_i`` per row and ``log det R`` (one Cholesky, one matrix product)."""
    from scipy import linalg
    c = linalg.cho_factor(r, lower=True)
    rinv = linalg.cho_solve(c, np.eye(len(r)))
    return np.einsum("ij,ij->i", q @ rinv, q), 2.0 * float(np.sum(np.log(np.diag(c[0]))))


def t_fit(q, nu, r0=None, iters=30, tol=1e-4):
    """Shape ``R`` (a correlation) of a centred multivariate t with ``nu`` dof by EM (until
    no entry moves by ``tol``); returns ``(R, per-row copula log-density)``: the joint t
    log-density minus the marginal t log-densities."""
    n, D = q.shape
    r = _corr(q.T @ q / n) if r0 is None else r0
    for _ in range(iters):
        m, _ = _mahalanobis(q, r)
        w = (nu + D) / (nu + m)
        r_new = _corr((q * w[:, None]).T @ q / n)
        done = np.max(np.abs(r_new - r)) < tol
        r = r_new
        if done:
            break
    m, logdet = _mahalanobis(q, r)
    joint = (special.gammaln((nu + D) / 2) - special.gammaln(nu / 2)
             - 0.5 * D * math.log(nu * math.pi) - 0.5 * logdet
             - 0.5 * (nu + D) * np.log1p(m / nu))
    marg = (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(nu * math.pi)
            - 0.5 * (nu + 1) * np.log1p(q * q / nu)).sum(axis=1)
    return r, joint - marg


def gauss_loglik(z):
    """Gaussian-copula log-likelihood of normal scores ``z`` (correlation by ML), nats."""
    n = len(z)
    r = _corr(z.T @ z / n)
    L = np.linalg.cholesky(r)
    m = np.sum(np.linalg.solve(L, z.T) ** 2, axis=0)
    return float(np.sum(-0.5 * _logdet(r) - 0.5 * m + 0.5 * np.sum(z * z, axis=1)))


def _gauss_bits_corr(r, dx, n, correct=True):
    """``I_Gauss(R)`` in bits with the Gaussian sample log-determinant bias correction."""
    def bias(k):
        i = np.arange(1, k + 1)
        return float(np.sum(special.digamma((n - i) / 2.0)) + k * math.log(2.0 / n))
    D = len(r)
    mi = 0.5 * (_logdet(r[:dx, :dx]) + _logdet(r[dx:, dx:]) - _logdet(r))
    if correct:
        mi -= 0.5 * (bias(dx) + bias(D - dx) - bias(D))
    return mi / base.LN2


def student_excess_nats(dx, dy, nu):
    from infozoo.probe.estimators.known import student_g
    return float(student_g(dx, nu) + student_g(dy, nu) - student_g(dx + dy, nu))


class Copula:
    """``copula``: options ``family`` (``"auto"``, ``"gaussian"``, ``"student"``),
    ``margin`` (5.4 nats), ``nu_grid`` (1 to 100, 9 values)."""
    name = "copula"
    shannon = True
    deterministic = True
    uses_x = True
    interval = "half-samples"
    min_rows = 20
    FAMILIES = ("auto", "gaussian", "student")

    def __init__(self, family="auto", margin=5.4, nu_grid=NU_GRID):
        if family not in self.FAMILIES:
            raise ValueError(f"copula: family must be one of {self.FAMILIES}, got {family!r}")
        self.family, self.margin = family, float(margin)
        self.nu_grid = tuple(float(v) for v in nu_grid)
        if not self.nu_grid or min(self.nu_grid) <= 0 or not self.margin >= 0:
            raise ValueError("copula: nu_grid must hold numbers > 0 and margin must be >= 0")
        self.info = {}
        self.options = {"family": family, "margin": self.margin}

    def _profile(self, u):
        """Best ``(loglik, nu, R)`` of the t copula on the grid: a hill climb from its
        middle (the profile log-likelihood in ``nu`` is unimodal here; 3-5 fits, not 9)."""
        cache = {}

        def fit(i):
            if i not in cache:
                q = special.stdtrit(self.nu_grid[i], u)
                r, rows = t_fit(q, self.nu_grid[i])
                cache[i] = (float(rows.sum()), self.nu_grid[i], r)
            return cache[i]
        i = len(self.nu_grid) // 2
        step = 1 if i + 1 < len(self.nu_grid) and fit(i + 1)[0] > fit(i)[0] else -1
        while 0 <= i + step < len(self.nu_grid) and fit(i + step)[0] > fit(i)[0]:
            i += step
        return fit(i)

    def compute(self, x, y):
        from infozoo.probe.estimators.gaussian import Gaussian
        x, y = base.check_pair(x, y, dtype=np.float64, min_n=self.min_rows)
        keep = lambda a: a[:, a.max(axis=0) > a.min(axis=0)]  # noqa: E731 (constants: nothing)
        x, y = keep(x), keep(y)
        if x.shape[1] == 0 or y.shape[1] == 0:
            return 0.0, {"family": "gaussian", "nu": None, "gauss_bits": 0.0}
        n, dx, dy = len(x), x.shape[1], y.shape[1]
        u = uniform_scores(np.concatenate([x, y], axis=1))
        z = special.ndtri(u)
        gbits = Gaussian().compute(z[:, :dx], z[:, dx:])[0]
        info = {"family": "gaussian", "nu": None, "gauss_bits": gbits}
        if self.family == "gaussian":
            return gbits, info
        ll_t, nu, r = self._profile(u)
        ll_g = gauss_loglik(z)
        info["loglik"] = {"gaussian": ll_g, "student": ll_t}
        # AIC: the log-likelihood less the parameter count (correlations, nu's)
        pairs = lambda k: k * (k - 1) / 2  # noqa: E731
        D = dx + dy
        aic_t, aic_g = ll_t - pairs(D) - 1, ll_g - pairs(D)
        if self.family == "auto" and not aic_t > aic_g + self.margin:
            return gbits, info
        if self.family == "auto":  # only now worth the per-side fits
            ll_sep = self._profile(u[:, :dx])[0] + self._profile(u[:, dx:])[0]
            info["loglik"]["student_per_side"] = ll_sep
            if not aic_t > ll_sep - pairs(dx) - pairs(dy) - 2 + self.margin:
                return gbits, info
        info.update(family="student", nu=nu)
        bits = (_gauss_bits_corr(r, dx, n) + student_excess_nats(dx, dy, nu) / base.LN2)
        return bits, info

    def __call__(self, x, y, strategy=None):
        value, self.info = self.compute(x, y)
        return value, None
