"""Coupling blocks on one template (INN-AE paper eqs. 1-4; PIE eq. 18; Glow §3.3; NICE).

#### The template

The last axis of ``x`` is cut into ``x1`` (the first ``C // 2`` entries) and
``x2``; two half-updates are written once (FrEIA's ``_BaseCouplingBlock``):

    forward:  y1 = u(x1 | net2([x2, c]));   y2 = u(x2 | net1([y1, c]))
    inverse:  x2 = u^-1(y2 | net1([y1, c]));  x1 = u^-1(y1 | net2([x2, c]))

A subclass says what a half-update ``u`` is:

- ``GLOWCoupling``: affine, one subnet per half giving ``(s, t)`` jointly,
  ``u(a) = a * exp(s) + t`` (eqs. 1-2 of the INN-AE paper, Glow's affine coupling);
- ``RNVPCoupling``: affine with separate subnets for ``s`` and ``t`` (RealNVP,
  FrEIA's ``RNVPCouplingBlock``);
- ``AdditiveCoupling``: ``u(a) = a + t`` (NICE), log-det 0.

The affine log-scales pass through :func:`soft_clamp`, so ``exp(s)`` is
positive and bounded (PIE's eq. 18 with ``s = exp(log s)``); the log-det is
``sum(s1) + sum(s2)`` per example.

#### Subnets and conditions

``subnet`` is a *subnet constructor* (see ``infozoo.nets.subnets``): a callable
``(input_shape, output_channels) -> keras layer``, or ``"conv"``/``"dense"``
with ``hidden``, ``hidden_layers``, ``kernel_size``, ``activation`` for the
zoo's ``ConvSubnet``/``DenseSubnet``. The template zero-initialises each
subnet's last layer, so a fresh coupling is the identity.

With ``cond_shape`` (the per-example shape of ``c``) the coupling is
conditional: ``c`` (or ``cond_net(c)`` when a conditioning network
constructor is given, with ``cond_channels`` outputs) is concatenated to every
subnet input on the last axis; a vector condition ``(K,)`` is broadcast over
the positions of an ``[H, W, C]`` input, a spatial one ``(H, W, K)`` is used
as is. The inverse recomputes each subnet on the same input, so the coupling
stays exactly invertible for any ``c``.
"""
import math

import tensorflow as tf

from infozoo.layers.base import Invertible, register_layer, sum_except_batch, zero_logdet
from infozoo.nets.subnets import as_constructor, build_subnet, serialize_constructor


def soft_clamp(s, clamp):
    """``clamp * 2/pi * atan(s / clamp)``: log-scales bounded in (-clamp, clamp).

    FrEIA writes 0.636 for 2/pi; the exact constant is used here. ``clamp <= 0``
    disables clamping.
    """
    if clamp <= 0:
        return s
    return clamp * (2.0 / math.pi) * tf.atan(s / clamp)


class Coupling(Invertible):
    """The coupling template: subclasses define ``_make_nets`` and ``_half``."""

    conditional = False

    def __init__(self, subnet="conv", hidden=100, hidden_layers=2, kernel_size=3,
                 activation="leaky_relu", cond_shape=None, cond_net=None, cond_channels=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.subnet = subnet if isinstance(subnet, str) else as_constructor(subnet)
        self.hidden, self.hidden_layers = int(hidden), int(hidden_layers)
        self.kernel_size, self.activation = int(kernel_size), activation
        self._ctor = as_constructor(self.subnet, hidden=self.hidden,
                                    hidden_layers=self.hidden_layers,
                                    kernel_size=self.kernel_size, activation=activation)
        self.cond_shape = None if cond_shape is None else tuple(int(s) for s in cond_shape)
        self.conditional = self.cond_shape is not None
        self.cond_net_ctor = None if cond_net is None else as_constructor(cond_net)
        if self.cond_net_ctor is not None and not self.conditional:
            raise ValueError("cond_net needs cond_shape (the per-example shape of the condition)")
        if self.cond_net_ctor is not None and cond_channels is None:
            raise ValueError("cond_net needs cond_channels (its number of output channels)")
        self.cond_channels = None if cond_channels is None else int(cond_channels)

    # -- subnets ---------------------------------------------------------------------
    def _net(self, in_shape, out, name):
        """A subnet from the constructor, built, last layer zero-initialised."""
        return build_subnet(self._ctor, in_shape, out, self.dtype_policy, name)

    def build(self, input_shape):
        n = int(input_shape[-1])
        if n < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 features on the last axis, "
                             f"got {n}")
        self.len1, self.len2 = n // 2, n - n // 2
        inner = tuple(input_shape[1:-1])
        cc = 0
        if self.conditional:
            if len(self.cond_shape) not in (1, len(inner) + 1):
                raise ValueError(f"cond_shape {self.cond_shape} fits neither a vector condition "
                                 f"(K,) nor the input's positions {inner} + (K,)")
            if len(self.cond_shape) > 1 and tuple(self.cond_shape[:-1]) != inner:
                raise ValueError(f"a spatial condition must have the input's positions {inner}, "
                                 f"got cond_shape {self.cond_shape}")
            cc = self.cond_shape[-1]
            if self.cond_net_ctor is not None:
                self.cond_net = build_subnet(self.cond_net_ctor, self.cond_shape,
                                             self.cond_channels, self.dtype_policy, "cond_net",
                                             zero_last=False)
                cc = self.cond_channels
        # net2 reads x2 (and c) and updates x1; net1 reads y1 (and c) and updates x2.
        self._make_nets((*inner, self.len2 + cc), (*inner, self.len1 + cc))

    def _with_condition(self, u, c):
        if c is None:
            return u
        if self.cond_net_ctor is not None:
            c = tf.cast(self.cond_net(c), u.dtype)
        if len(u.shape) != len(c.shape):        # a vector condition on an [H, W, C] input
            shape = tf.concat([tf.shape(u)[:-1], tf.shape(c)[-1:]], 0)
            c = tf.broadcast_to(tf.reshape(c, [tf.shape(c)[0]] + [1] * (len(u.shape) - 2)
                                           + [c.shape[-1]]), shape)
        return tf.concat([u, c], -1)

    def _run(self, net, u):
        return tf.cast(net(u), self.compute_dtype)

    # -- the two half-updates, written once --------------------------------------------
    def _halves(self, x):
        """``(x1, x2)``: ``tf.split``, whose gradient is one concat (a strided slice's is a
        zero-filled ``StridedSliceGrad`` per half)."""
        return tf.split(x, [self.len1, self.len2], -1)

    def _forward(self, x, c=None):
        x1, x2 = self._halves(x)
        y1, j2 = self._half(2, x1, self._with_condition(x2, c), False)
        y2, j1 = self._half(1, x2, self._with_condition(y1, c), False)
        return tf.concat([y1, y2], -1), j1 + j2

    def _inverse(self, y, c=None):
        y1, y2 = self._halves(y)
        x2, j1 = self._half(1, y2, self._with_condition(y1, c), True)
        x1, j2 = self._half(2, y1, self._with_condition(x2, c), True)
        return tf.concat([x1, x2], -1), j1 + j2

    def _make_nets(self, in2, in1):
        raise NotImplementedError

    def _half(self, which, a, cond_in, rev):
        """Half-update ``which`` (2: net2 updates x1; 1: net1 updates x2) of ``a`` given the
        subnet input ``cond_in``; returns ``(value, log-det)``, ``rev`` for the inverse."""
        raise NotImplementedError

    def get_config(self):
        cfg = {**super().get_config(), "subnet": serialize_constructor(self.subnet),
               "hidden": self.hidden, "hidden_layers": self.hidden_layers,
               "kernel_size": self.kernel_size, "activation": self.activation,
               "cond_shape": None if self.cond_shape is None else list(self.cond_shape),
               "cond_net": (None if self.cond_net_ctor is None
                            else serialize_constructor(self.cond_net_ctor)),
               "cond_channels": self.cond_channels}
        return cfg


class _Affine(Coupling):
    """Affine half-updates ``a * exp(s) + t`` with soft-clamped ``s``."""

    def __init__(self, subnet="conv", clamp=1.0, **kwargs):
        super().__init__(subnet, **kwargs)
        self.clamp = float(clamp)

    def _half(self, which, a, cond_in, rev):
        s, t = self._scale_shift(which, cond_in)
        s = soft_clamp(s, self.clamp)
        if rev:
            return (a - t) * tf.exp(-s), -sum_except_batch(s)      # eqs. 3-4
        return a * tf.exp(s) + t, sum_except_batch(s)               # eqs. 1-2

    def get_config(self):
        return {**super().get_config(), "clamp": self.clamp}


def _joint_nets(layer, in2, in1):
    layer.net2 = layer._net(in2, 2 * layer.len1, "net2")
    layer.net1 = layer._net(in1, 2 * layer.len2, "net1")


def _joint_scale_shift(layer, which, u):
    n = layer.len1 if which == 2 else layer.len2
    st = layer._run(getattr(layer, f"net{which}"), u)
    return tf.split(st, [n, st.shape[-1] - n], -1)


def _separate_nets(layer, in2, in1):
    layer.s2, layer.t2 = layer._net(in2, layer.len1, "s2"), layer._net(in2, layer.len1, "t2")
    layer.s1, layer.t1 = layer._net(in1, layer.len2, "s1"), layer._net(in1, layer.len2, "t1")


def _separate_scale_shift(layer, which, u):
    return (layer._run(getattr(layer, f"s{which}"), u),
            layer._run(getattr(layer, f"t{which}"), u))


@register_layer
class GLOWCoupling(_Affine):
    """Affine coupling, one subnet per half outputs ``(s, t)`` (Glow; FrEIA's
    ``GLOWCouplingBlock``)."""

    def _make_nets(self, in2, in1):
        _joint_nets(self, in2, in1)

    def _scale_shift(self, which, u):
        return _joint_scale_shift(self, which, u)


@register_layer
class RNVPCoupling(_Affine):
    """Affine coupling with separate ``s`` and ``t`` subnets (RealNVP; FrEIA's
    ``RNVPCouplingBlock``)."""

    def _make_nets(self, in2, in1):
        _separate_nets(self, in2, in1)

    def _scale_shift(self, which, u):
        return _separate_scale_shift(self, which, u)


@register_layer
class AffineCoupling(_Affine):
    """The affine coupling with a switch: ``GLOWCoupling``, or ``RNVPCoupling`` with
    ``separate_st=True``. Saved models and configs name it; new code names the two."""

    def __init__(self, subnet="conv", hidden=100, hidden_layers=2, kernel_size=3,
                 activation="leaky_relu", clamp=1.0, separate_st=False, **kwargs):
        super().__init__(subnet, clamp=clamp, hidden=hidden, hidden_layers=hidden_layers,
                         kernel_size=kernel_size, activation=activation, **kwargs)
        self.separate_st = bool(separate_st)

    def _make_nets(self, in2, in1):
        (_separate_nets if self.separate_st else _joint_nets)(self, in2, in1)

    def _scale_shift(self, which, u):
        return (_separate_scale_shift if self.separate_st else _joint_scale_shift)(self, which, u)

    def get_config(self):
        return {**super().get_config(), "separate_st": self.separate_st}


@register_layer
class AdditiveCoupling(Coupling):
    """NICE's additive coupling ``u(a) = a + t``: volume preserving, log-det 0."""

    def _make_nets(self, in2, in1):
        self.net2 = self._net(in2, self.len1, "net2")
        self.net1 = self._net(in1, self.len2, "net1")

    def _half(self, which, a, cond_in, rev):
        t = self._run(getattr(self, f"net{which}"), cond_in)
        return (a - t if rev else a + t), zero_logdet(a)


__all__ = ["Coupling", "GLOWCoupling", "RNVPCoupling", "AffineCoupling", "AdditiveCoupling",
           "soft_clamp"]
