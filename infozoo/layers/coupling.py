"""Affine coupling (INN-AE paper eqs. 1-4; PIE paper eq. 18)."""
import math

import tensorflow as tf

from infozoo.layers.base import Invertible, register_layer, sum_except_batch
from infozoo.nets.subnets import make_subnet


def soft_clamp(s, clamp):
    """``clamp * 2/pi * atan(s / clamp)``: log-scales bounded in (-clamp, clamp).

    FrEIA writes 0.636 for 2/pi; the exact constant is used here. ``clamp <= 0``
    disables clamping.
    """
    if clamp <= 0:
        return s
    return clamp * (2.0 / math.pi) * tf.atan(s / clamp)


@register_layer
class AffineCoupling(Invertible):
    """GLOW-style double affine coupling on the last axis.

    Forward (eqs. 1-2):  ``y1 = x1 * exp(s2(x2)) + t2(x2)``;
    ``y2 = x2 * exp(s1(y1)) + t1(y1)``. Inverse: eqs. 3-4. The log-scales pass
    through :func:`soft_clamp`, so the scales ``exp(s)`` are positive and
    bounded, which is also the form of PIE's eq. 18 (``s = exp(log s)``), with
    log-det ``sum(log|s1|) + sum(log|s2|)``.

    ``subnet`` is ``"conv"`` (channels of an NHWC tensor) or ``"dense"``
    (features of a flat tensor). ``separate_st`` uses two subnets per half (one
    for s, one for t) as RealNVP/FrEIA's ``RNVPCouplingBlock``; otherwise one
    subnet outputs both, as Glow/FrEIA's ``GLOWCouplingBlock``.
    """

    def __init__(self, subnet="conv", hidden=100, hidden_layers=2, kernel_size=3,
                 activation="leaky_relu", clamp=1.0, separate_st=False, **kwargs):
        super().__init__(**kwargs)
        self.subnet = subnet
        self.hidden = hidden
        self.hidden_layers = hidden_layers
        self.kernel_size = kernel_size
        self.activation = activation
        self.clamp = float(clamp)
        self.separate_st = bool(separate_st)

    def _net(self, out, name):
        return make_subnet(self.subnet, out, hidden=self.hidden,
                           hidden_layers=self.hidden_layers, kernel_size=self.kernel_size,
                           activation=self.activation, dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        c = int(input_shape[-1])
        if c < 2:
            raise ValueError(f"AffineCoupling needs at least 2 features on the last axis, got {c}")
        self.len1, self.len2 = c // 2, c - c // 2
        inner = tuple(input_shape[1:-1])
        # net2 reads x2 and scales x1 (eq. 1); net1 reads y1 and scales x2 (eq. 2).
        if self.separate_st:
            self.s2, self.t2 = self._net(self.len1, "s2"), self._net(self.len1, "t2")
            self.s1, self.t1 = self._net(self.len2, "s1"), self._net(self.len2, "t1")
            for net, n_in in ((self.s2, self.len2), (self.t2, self.len2),
                              (self.s1, self.len1), (self.t1, self.len1)):
                net.build((None, *inner, n_in))
        else:
            self.net2 = self._net(2 * self.len1, "net2")
            self.net1 = self._net(2 * self.len2, "net1")
            self.net2.build((None, *inner, self.len2))
            self.net1.build((None, *inner, self.len1))

    def _scale_shift(self, which, u):
        n = self.len1 if which == 2 else self.len2
        if self.separate_st:
            s, t = getattr(self, f"s{which}")(u), getattr(self, f"t{which}")(u)
        else:
            st = getattr(self, f"net{which}")(u)
            s, t = st[..., :n], st[..., n:]
        return soft_clamp(s, self.clamp), t

    def _forward(self, x):
        x1, x2 = x[..., :self.len1], x[..., self.len1:]
        s2, t2 = self._scale_shift(2, x2)
        y1 = x1 * tf.exp(s2) + t2                      # eq. 1
        s1, t1 = self._scale_shift(1, y1)
        y2 = x2 * tf.exp(s1) + t1                      # eq. 2
        return tf.concat([y1, y2], -1), sum_except_batch(s1) + sum_except_batch(s2)

    def _inverse(self, y):
        y1, y2 = y[..., :self.len1], y[..., self.len1:]
        s1, t1 = self._scale_shift(1, y1)
        x2 = (y2 - t1) * tf.exp(-s1)                   # eq. 4
        s2, t2 = self._scale_shift(2, x2)
        x1 = (y1 - t2) * tf.exp(-s2)                   # eq. 3
        return tf.concat([x1, x2], -1), -(sum_except_batch(s1) + sum_except_batch(s2))

    def get_config(self):
        return {**super().get_config(), "subnet": self.subnet, "hidden": self.hidden,
                "hidden_layers": self.hidden_layers, "kernel_size": self.kernel_size,
                "activation": self.activation, "clamp": self.clamp,
                "separate_st": self.separate_st}
