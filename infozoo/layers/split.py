"""PIE's split: projection, restriction and extension (PIE paper §3.1, §4.5, Fig. 6, eq. 20).

#### Mathematical Details

For an input ``x`` whose last axis has ``total`` entries (the channels of an
NHWC tensor, or the features of a ``[B, D]`` tensor), the split keeps the
**first** ``keep`` entries of the last axis and constrains the rest:

    z = x[..., :keep]                    (kept, passed to the next block)
    r = x[..., keep:]                    (dropped, "residual manifold")
    r ~ N(r | g(z), eps^2 I)             (eq. 12: the Dirac delta of eq. 9 as a narrow Gaussian)
    inverse:  x = [z, g(z)]              (eq. 20, the extension)

``eps`` is the *standard deviation* of the split prior; the paper quotes its
square (``eps^2 = 0.01, 0.1, 1.0`` are ``eps = 0.1, 0.316, 1.0``).

``g`` is a learned network (``g="learned"``: for a rank-4 input a convolutional
subnet, ``hidden_layers`` x (3x3 conv + leaky ReLU) then a zero-initialised 1x1
conv; for a flat input an MLP with a zero-initialised last layer), so every
split starts with ``g = 0``; or ``g="zero"``, ``g(z) = 0``, which with
``eps = 1`` makes PIE a multi-scale normalising flow (§3.4).

#### Contract

Inside a ``Flow`` a split is a *factor-out* step (``factor_out = True``): the flow
keeps ``r`` as one of its outputs, with this prior, so the flow stays a bijection
(see ``infozoo.layers.flow``); ``split``/``merge`` cut and join, ``prior_log_prob``,
``mean_r`` and ``sample_r`` are the prior. On its own the split is not bijective
(``bijective = False``). ``forward(x)`` returns
``(z, 0)``: the log-det of a projection is not defined, and the split's term
of the objective is a *log-density*, not a log-det, so it is not folded into
the log-det. A ``Flow`` reads it from ``prior_log_prob(r, z) = log N(r | g(z), eps^2 I)``
summed per example (eq. 17); ``split_forward(x) -> (z, r, log_prob_r)`` gives all three.
``inverse(z)`` returns ``([z, g(z)], 0)``, so ``forward(inverse(z)) == z``
exactly.
"""
import math

import tensorflow as tf
import tensorflow_probability as tfp

from infozoo.layers.base import Invertible, register_layer, sum_except_batch, zero_logdet
from infozoo.nets.subnets import (as_constructor, build_subnet, serialize_constructor,
                                   subnet_constructor)
from infozoo.util import draws

tfd = tfp.distributions

G_CHOICES = ("learned", "zero")


def check_eps(eps):
    eps = float(eps)
    if not eps > 0 or not math.isfinite(eps):
        raise ValueError(f"eps must be > 0 and finite (it is the standard deviation of the split "
                         f"prior N(r | g(z), eps^2 I)), got {eps}")
    return eps


@register_layer
class Split(Invertible):
    """Keeps the first ``keep`` entries of the last axis; the rest ``r ~ N(g(z), eps^2 I)``.

    ``keep=None`` keeps half (``total // 2``). ``total`` (the size of the last
    axis of the input) may be left ``None`` when the layer is built by a forward
    pass; ``inverse`` on an unbuilt layer needs it. ``subnet`` is ``"conv"``,
    ``"dense"`` or a subnet constructor (``infozoo.nets.subnets``) for ``g``;
    ``None`` picks ``"conv"`` for rank-4 inputs and ``"dense"`` otherwise.
    """

    bijective = False
    factor_out = True

    def __init__(self, keep=None, total=None, eps=0.1, g="learned", subnet=None, hidden=64,
                 hidden_layers=1, kernel_size=3, activation="leaky_relu", **kwargs):
        super().__init__(**kwargs)
        self.eps = check_eps(eps)
        if g not in G_CHOICES:
            raise ValueError(f"g must be one of {G_CHOICES}, got {g!r}")
        if isinstance(subnet, str) and subnet not in ("conv", "dense"):
            raise ValueError(f"subnet must be 'conv', 'dense', a subnet constructor or None, "
                             f"got {subnet!r}")
        if subnet is not None and not isinstance(subnet, str):
            subnet = as_constructor(subnet)
        self.keep = None if keep is None else int(keep)
        self.total = None if total is None else int(total)
        self.g = g
        self.subnet = subnet
        self.hidden = int(hidden)
        self.hidden_layers = int(hidden_layers)
        self.kernel_size = int(kernel_size)
        self.activation = activation
        if self.total is not None:
            self._resolve(self.total)

    def _resolve(self, total):
        if self.total is not None and total != self.total:
            raise ValueError(f"Split was configured for {self.total} entries on the last axis, "
                             f"got {total}")
        keep = total // 2 if self.keep is None else self.keep
        if not 1 <= keep < total:
            raise ValueError(f"Split must keep between 1 and {total - 1} of {total} entries, "
                             f"got keep={keep}")
        self.total, self.keep = total, keep
        self.drop = total - keep

    def build(self, input_shape):
        self._resolve(int(input_shape[-1]))
        self.g_net = None
        if self.g == "learned":
            kind = self.subnet or ("conv" if len(input_shape) == 4 else "dense")
            ctor = (subnet_constructor(kind, hidden=self.hidden, hidden_layers=self.hidden_layers,
                                       kernel_size=self.kernel_size, activation=self.activation)
                    if isinstance(kind, str) else kind)
            self.g_net = build_subnet(ctor, (*tuple(input_shape[1:-1]), self.keep), self.drop,
                                      self.dtype_policy, "g")

    def compute_output_shape(self, input_shape):
        total = int(input_shape[-1])
        keep = self.keep if self.keep is not None else total // 2
        return (*tuple(input_shape[:-1]), keep)

    def compute_inverse_shape(self, output_shape):
        if self.total is None:
            raise ValueError("Split.inverse on an unbuilt layer needs `total` (the size of the "
                             "last axis before the split)")
        return (*tuple(output_shape[:-1]), self.total)

    # -- the split's parts ---------------------------------------------------------
    def g_of(self, z):
        """The mean ``g(z)`` of the dropped part, shape ``[..., total - keep]``."""
        if self.g_net is None:
            shape = tf.concat([tf.shape(z)[:-1], [self.drop]], 0)
            return tf.zeros(shape, dtype=z.dtype)
        return tf.cast(self.g_net(z), self.compute_dtype)  # float32 under a mixed policy

    def log_prob_r(self, r, mean):
        """``log N(r | mean, eps^2 I)`` summed per example (TFP ``Normal``)."""
        # tf.constant, not tf.cast: a Python float cast to float64 rounds through float32
        dist = tfd.Normal(loc=mean, scale=tf.constant(self.eps, mean.dtype))
        return sum_except_batch(dist.log_prob(r))

    def split(self, x):
        """``x -> (z, r)``: the kept and the factored-out part."""
        if not self.built:
            self.build(tuple(x.shape))
        return x[..., :self.keep], x[..., self.keep:]

    def merge(self, z, r):
        """``(z, r) -> x``, the inverse of :meth:`split`."""
        return tf.concat([z, r], -1)

    def prior_log_prob(self, r, z):
        """``log N(r | g(z), eps^2 I)`` per example (eq. 12)."""
        return self.log_prob_r(r, self.g_of(z))

    def mean_r(self, z):
        """The prior's mean ``g(z)`` (eq. 20's extension)."""
        return self.g_of(z)

    def sample_r(self, z, temperature=1.0, seed=None):
        """``r ~ N(g(z), (temperature * eps)^2 I)`` (``seed``: :mod:`infozoo.util.draws`)."""
        g = self.g_of(z)
        t = tf.cast(temperature, g.dtype) * tf.constant(self.eps, g.dtype)
        return g + t * draws.normal(tf.shape(g), g.dtype, seed)

    def split_forward(self, x):
        """``x -> (z, r, log N(r | g(z), eps^2 I))``, the last per example."""
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        if not self.built:
            self.build(tuple(x.shape))
        z, r = x[..., :self.keep], x[..., self.keep:]
        return z, r, self.log_prob_r(r, self.g_of(z))

    def _forward(self, x):
        return x[..., :self.keep], zero_logdet(x)

    def _inverse(self, z):
        return tf.concat([z, self.g_of(z)], -1), zero_logdet(z)

    def get_config(self):
        return {**super().get_config(), "keep": self.keep, "total": self.total, "eps": self.eps,
                "g": self.g, "subnet": None if self.subnet is None else serialize_constructor(self.subnet), "hidden": self.hidden,
                "hidden_layers": self.hidden_layers, "kernel_size": self.kernel_size,
                "activation": self.activation}
