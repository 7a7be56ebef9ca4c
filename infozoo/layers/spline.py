"""Rational-quadratic spline coupling (Durkan et al. 2019, "Neural Spline Flows", §3.1).

The coupling template of ``infozoo.layers.coupling`` with a monotone
rational-quadratic spline as the half-update: each entry ``a_i`` of one half is
mapped by ``tfp.bijectors.RationalQuadraticSpline`` with ``bins`` bins on
``[-bound, bound]`` (identity outside, eq. 4-7 of the paper), whose bin widths,
heights and interior knot slopes are the subnet's output for that entry:

    widths, heights = softmax(q(.)) * (2 bound - bins * min_bin) + min_bin   (sum to 2 bound)
    slopes = min_slope + softplus(q(.) + log(exp(1 - min_slope) - 1))        (1 at a zero output)

with ``q = soft_clamp(., clamp)`` (as the affine couplings' log-scales): the ratio of
two bins' widths stays below ``exp(2 clamp)`` and the slopes below ``softplus(clamp + 0.54)``,
so the inverse stays well conditioned in float32 however large the subnet's outputs
(unclamped, outputs of ~100 gave bins of width ``min_bin`` with slopes of ~100 and float32
round trips off by 1 on inputs of scale 30). ``clamp <= 0`` turns this off (the paper's
unbounded parametrisation). A zero-initialised subnet (the template's default) gives equal bins and unit
slopes: the identity. The log-det is the sum of the spline's per-entry
log-derivatives (eq. 8); the inverse solves the spline's quadratic (eq. 6 of
the paper's appendix, TFP's implementation). Conditions, subnets and mixed
precision work as for every coupling (``infozoo.layers.coupling``).
"""
import math

import tensorflow as tf
import tensorflow_probability as tfp

from infozoo.layers.base import register_layer, sum_except_batch
from infozoo.layers.coupling import Coupling, soft_clamp


@register_layer
class RQSplineCoupling(Coupling):
    """Coupling whose half-updates are rational-quadratic splines (Neural Spline Flows; FrEIA's
    ``RationalQuadraticSpline``, normflows' ``CoupledRationalQuadraticSpline``)."""

    def __init__(self, subnet="conv", bins=8, bound=3.0, min_bin=1e-3, min_slope=1e-3,
                 clamp=3.0, **kwargs):
        super().__init__(subnet, **kwargs)
        self.bins, self.bound, self.clamp = int(bins), float(bound), float(clamp)
        self.min_bin, self.min_slope = float(min_bin), float(min_slope)
        if self.bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        if self.bound <= 0:
            raise ValueError(f"bound must be > 0 (the spline acts on [-bound, bound]), got {bound}")
        if not 0 <= self.min_bin * self.bins < 2 * self.bound:
            raise ValueError(f"min_bin * bins ({self.min_bin * self.bins}) must be below the "
                             f"interval's width 2 * bound ({2 * self.bound})")
        if not 0 < self.min_slope < 1:
            raise ValueError(f"min_slope must be in (0, 1), got {min_slope}")

    @property
    def _params(self):
        return 3 * self.bins - 1   # widths, heights, interior slopes per entry

    def _make_nets(self, in2, in1):
        self.net2 = self._net(in2, self.len1 * self._params, "net2")
        self.net1 = self._net(in1, self.len2 * self._params, "net1")

    def _spline(self, raw):
        k, dt = self.bins, raw.dtype
        raw = soft_clamp(raw, self.clamp)
        w, h, d = raw[..., :k], raw[..., k:2 * k], raw[..., 2 * k:]
        free = tf.constant(2 * self.bound - k * self.min_bin, dt)
        widths = tf.nn.softmax(w, -1) * free + tf.constant(self.min_bin, dt)
        heights = tf.nn.softmax(h, -1) * free + tf.constant(self.min_bin, dt)
        shift = math.log(math.expm1(1.0 - self.min_slope))
        slopes = tf.constant(self.min_slope, dt) + tf.nn.softplus(d + tf.constant(shift, dt))
        return tfp.bijectors.RationalQuadraticSpline(widths, heights, slopes,
                                                     range_min=-self.bound)

    def _half(self, which, a, cond_in, rev):
        raw = self._run(getattr(self, f"net{which}"), cond_in)
        raw = tf.reshape(raw, tf.concat([tf.shape(a), [self._params]], 0))
        spline = self._spline(raw)
        if rev:
            return spline.inverse(a), sum_except_batch(spline.inverse_log_det_jacobian(a, 0))
        return spline.forward(a), sum_except_batch(spline.forward_log_det_jacobian(a, 0))

    def get_config(self):
        return {**super().get_config(), "bins": self.bins, "bound": self.bound,
                "min_bin": self.min_bin, "min_slope": self.min_slope, "clamp": self.clamp}


__all__ = ["RQSplineCoupling"]
