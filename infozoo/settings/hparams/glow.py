"""Hyperparameters of Glow (Kingma & Dhariwal 2018; ``models/glow.py``)."""
from infozoo.settings.hparams import HParam, HParams, register
from infozoo.settings.hparams.pie import DENSITY

GLOW = register("glow", HParams(
    HParam("levels", "int", 2, "multi-scale levels (squeeze, steps of flow, split half the "
           "channels except on the last)", min=1),
    HParam("steps_per_level", "int", 8, "K, steps of flow (ActNorm, LU 1x1 convolution, "
           "affine coupling) per level", min=1),
    HParam("hidden", "int", 128, "hidden channels of the coupling conv subnets", min=1),
    HParam("hidden_layers", "int", 2, "hidden conv layers of the coupling subnets", min=0),
    HParam("kernel_size", "int", 3, "kernel size of the hidden conv layers", min=1),
    HParam("clamp", "float", 2.0, "soft clamp of the coupling log-scales (0 disables)", min=0),
    HParam("split_prior", "str", "normal", "prior of the split-off parts, normal (N(0, I)) "
           "or learned (N(g(z), I), g zero-initialised)", choices=("normal", "learned")),
).extend(*DENSITY))
