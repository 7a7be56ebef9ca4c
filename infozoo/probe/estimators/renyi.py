"""``renyi``: the matrix-based Renyi-alpha functional of :mod:`infozoo.probe.renyi`.

It is *not* Shannon mutual information: ``I_alpha(X; T) = S_alpha(A_X) + S_alpha(A_T) -
S_alpha(A_XT)`` of kernel Gram matrices, in ``[0, log2 n]``, and it drifts with the kernel
width and the dimension (see ``docs/information.md``, the benchmark). Registered so it can be
compared with the Shannon estimators through the same interface; its figures are labelled
``renyi`` everywhere. ``O(n^3)`` (``eigvalsh`` of ``n x n``): keep ``n`` to a few thousand.
"""
import numpy as np

from infozoo.probe import renyi as _renyi


class RenyiMatrix:
    """``renyi``: options ``alpha`` (1.01), ``gamma`` ("median" or a number), ``factor`` (1)."""
    name = "renyi"
    shannon = False
    deterministic = True
    uses_x = True

    def __init__(self, alpha=_renyi.DEFAULT_ALPHA, gamma="median", factor=1.0):
        self.alpha = _renyi.check_alpha(alpha)
        self.gamma = _renyi.check_gamma(gamma)
        self.factor = float(factor)
        if not self.factor > 0:
            raise ValueError(f"renyi: factor must be > 0, got {factor}")
        self.options = {"alpha": self.alpha, "gamma": self.gamma, "factor": self.factor}

    def __call__(self, x, y, strategy=None):
        from infozoo.probe.estimators import base
        x, y = base.check_pair(x, y, dtype=np.float64)
        return float(_renyi.mutual_information(x, y, self.alpha, self.gamma, self.factor)), None
