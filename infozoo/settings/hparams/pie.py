"""Hyperparameters of PIE (§3-§5; ``models/pie.py``)."""
from infozoo.settings.hparams import HParam, HParams, register

#: what every density model (PIE, glow) shares: dequantisation, bits/dim, sharpness, seed
DENSITY = HParams(
    HParam("dequantize", "bool", True, "add uniform noise U(0, 1/num_bins) to the data in "
           "the loss"),
    HParam("num_bins", "int", 256, "quantisation levels per unit of the data (256 for 8-bit "
           "images, 16 for sklearn digits); used by the noise and bits/dim", min=2),
    HParam("sharpness_samples", "int", 1000, "images per sharpness estimate at evaluation",
           min=1),
    HParam("seed", "int", 0, "seed of the model's draws (a run passes train.seed)", min=0,
           set_by="train.seed"),
)

PIE = register("pie", HParams(
    HParam("eps", "float", 0.1, "standard deviation of the split prior N(r | g(z), eps^2 I); "
           "the paper's eps^2 = 0.01, 0.1, 1.0 are eps = 0.1, 0.316, 1.0", min=0,
           exclusive_min=True),
    HParam("g", "str", "learned", "mean of the dropped variables, learned network g(z) "
           "(zero-initialised) or zero (with eps 1 a multi-scale flow, §3.4)",
           choices=("learned", "zero")),
    HParam("conv_blocks", "int", 2, "convolutional blocks (squeeze, couplings + Householder, "
           "split keeping half the channels)", min=0),
    HParam("linear_dims", "list", [64, 10, 10], "dimensions kept by the linear blocks; the "
           "last is the code", items={"type": "int", "min": 1}),
    HParam("couplings_per_block", "int", 3, "K_l, coupling + Householder pairs per block",
           min=0),
    HParam("reflections", "int", 3, "Householder reflections per invertible 1x1 convolution "
           "/ linear map (eq. 19)", min=1),
    HParam("conv_hidden", "int", 64, "hidden channels of the coupling conv subnets", min=1),
    HParam("conv_hidden_layers", "int", 2, "hidden conv layers of the coupling subnets",
           min=0),
    HParam("kernel_size", "int", 3, "kernel size of the conv subnets (couplings and g)",
           min=1),
    HParam("linear_hidden", "int", 256, "hidden units of the coupling dense subnets", min=1),
    HParam("linear_hidden_layers", "int", 2, "hidden layers of the coupling dense subnets",
           min=0),
    HParam("g_hidden", "int", 64, "hidden channels/units of the split networks g", min=1),
    HParam("g_hidden_layers", "int", 1, "hidden layers of the split networks g", min=0),
    HParam("clamp", "float", 2.0, "soft clamp of the coupling log-scales (0 disables)", min=0),
).extend(*DENSITY).with_defaults(sharpness_samples=10000))
