"""Glow: generative flow with invertible 1x1 convolutions (Kingma & Dhariwal, NeurIPS 2018).

Built from infozoo's invertible layers, as the proof that they compose: a
multi-scale ``Flow`` of ActNorm, LU-parametrised 1x1 convolutions and affine
couplings, trained by negative log-likelihood of dequantised data (bits/dim,
shared with PIE in ``infozoo.models.density``). See ``docs/glow.md``.
"""
import numpy as np
import tensorflow as tf

from infozoo.settings.hparams import glow as hp_specs
from infozoo.layers import ActNorm, GLOWCoupling, InvertibleConv1x1, Split, Squeeze
from infozoo.models.base import ZooModel, register_model
from infozoo.models.density import DequantizedDensity
from infozoo.nets.subnets import ConvSubnet
from infozoo.util.representation import Representation


@register_model("glow")
class Glow(DequantizedDensity, ZooModel):
    """Multi-scale Glow (Fig. 2 of the paper).

    #### Architecture

    ``levels`` levels, each: ``Squeeze`` (``[H, W, C] -> [H/2, W/2, 4C]``), then
    ``steps_per_level`` steps of flow (§3: ``ActNorm`` §3.1, ``InvertibleConv1x1``
    §3.2 in its LU form, ``GLOWCoupling`` §3.3 with a ``ConvSubnet`` of
    ``hidden_layers`` x (``kernel_size`` conv, ``hidden`` channels, leaky ReLU)
    and a zero-initialised 1x1 conv, soft-clamped log-scales), then, on every
    level but the last, a ``Split`` factoring out half the channels. The split
    parts' prior is ``split_prior``: ``"normal"`` (standard normal, RealNVP) or
    ``"learned"`` (``N(r | g(z), I)`` with a learned, zero-initialised ``g``, as
    Glow's learned prior on the mean).

    sklearn digits (8x8x1), 2 levels: 8x8x1 -> 4x4x4 -> split 4x4x2 (r_1: 4x4x2)
    -> 2x2x8 = z. MNIST, 2 levels: 28x28x1 -> 14x14x4 -> split -> 7x7x8 = z.

    #### Objective

    ``log p(x) = log N(z; 0, I) + sum_l log p(r_l | z_l) + sum log|det J|`` of
    ``x + u``, ``u ~ U(0, 1/num_bins)`` (dequantisation); the loss is its
    negative, reported also in bits per dimension.

    #### Code

    The flow is a bijection: ``encode(x)`` is the whole latent ``[z, r_1, ...]``
    (``code_size`` = the data dimension) and ``decode`` inverts it exactly;
    ``sample(n, T)`` draws every part at temperature ``T`` (§5: T = 0.7 gives
    cleaner samples).
    """

    image_prefix = "glow"
    sample_temperatures = (("T1", 1.0), ("T0.7", 0.7))
    hparams = hp_specs.GLOW

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        self.build_flow()

    def _make_steps(self, f):
        """Appends the steps of the architecture above to ``f``, a ``FlowBuilder``."""
        hp, dt = self.hp, self.dtype_policy
        subnet = ConvSubnet(hp["hidden"], hp["hidden_layers"], hp["kernel_size"], "leaky_relu")
        for lv in range(hp["levels"]):
            h, w, _ = f.shape
            if h % 2 or w % 2:
                raise ValueError(f"level {lv + 1} of {hp['levels']} cannot squeeze a {h}x{w} "
                                 f"tensor (odd size): use fewer levels or pad/crop the images")
            f.append(Squeeze(name=f"level{lv}_squeeze", dtype=dt))
            for k in range(hp["steps_per_level"]):
                seed = hp["seed"] * 1000 + len(f)   # the index of the step's ActNorm
                f.append(ActNorm(name=f"level{lv}_actnorm{k}", dtype=dt))
                f.append(InvertibleConv1x1(seed=seed, name=f"level{lv}_conv1x1_{k}", dtype=dt))
                f.append(GLOWCoupling(subnet, clamp=hp["clamp"], name=f"level{lv}_coupling{k}",
                                      dtype=dt))
            if lv < hp["levels"] - 1:
                learned = hp["split_prior"] == "learned"
                c = f.shape[-1]
                f.append(Split(c // 2, c, eps=1.0, g="learned" if learned else "zero",
                               subnet="conv", hidden=hp["hidden"], hidden_layers=1,
                               kernel_size=hp["kernel_size"], name=f"level{lv}_split", dtype=dt))

    @property
    def code_size(self):
        return int(np.prod(self.image_shape))

    def log_prob_terms(self, x):
        """``{"z", "log_pz", "log_pr", "logdet", "log_prob"}`` per example, no noise."""
        return self.flow.log_prob_terms(x)

    def _encode(self, x, training=False):
        """The whole latent ``[z, r_1, ..., r_L]``, flattened (``F(x)``)."""
        return self.flow.forward(tf.convert_to_tensor(x, self.compute_dtype))[0]

    def _decode(self, z, training=False):
        """``F^-1``: exact inverse of ``encode``."""
        return self.flow.inverse(tf.convert_to_tensor(z, self.compute_dtype))[0]

    def _sample(self, n, temperature, seed):
        """``n`` images, every latent part drawn from its prior at ``temperature``."""
        return self.flow.sample(n, temperature, seed=seed)

    def representations(self, x):
        """Every step of the flow (each split not bijective, its part as ``dropped``;
        reshapes left out), ``code`` = the whole latent ``[z, r_1, ...]`` (not a function of
        the last step's output alone: not bijective), then every inverse step given all the
        parts (each bijective, with its log-det), the last named ``reconstruction``."""
        h = tf.convert_to_tensor(x, self.compute_dtype)
        steps, z = self.flow.representations(h)
        rs = [r.dropped for r in steps if r.dropped is not None]
        reps = [Representation("input", h, True)] + steps
        reps.append(Representation("code", self.flow.flatten_parts(z, rs), False))
        reps += self.flow.inverse_representations(z, rs)
        reps[-1] = reps[-1].replace(name="reconstruction")
        return reps
