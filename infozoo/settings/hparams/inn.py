"""Hyperparameters of the INN autoencoders (INN-AE paper §2.2, §3.1; ``models/inn.py``)."""
from infozoo.settings.hparams import HParam, HParams, register

INN = register("inn", HParams(
    HParam("bottleneck", "int", 32, "size of the code y; the rest of the latent is "
           "zero-padded", min=1),
    HParam("conv_blocks", "int", 3, "GLOW couplings with convolutional subnets", min=0),
    HParam("conv_hidden", "int", 100, "hidden channels of the convolutional subnets", min=1),
    HParam("conv_hidden_layers", "int", 2, "hidden conv layers of each convolutional subnet",
           min=0),
    HParam("kernel_size", "int", 3, "kernel size of the convolutional subnets", min=1),
    HParam("fc_blocks", "int", 1, "RealNVP couplings with separate fully connected s and t subnets", min=0),
    HParam("fc_hidden", "int", 180, "hidden units of the fully connected subnets", min=1),
    HParam("clamp", "float", 1.0, "soft clamp of the coupling log-scales", min=0),
    HParam("downsampling", "str", "haar", "invertible downsampling at the start",
           choices=("haar", "squeeze")),
    HParam("w_rec", "float", 1.0, "weight of the L1 reconstruction loss (eq. 5)"),
    HParam("w_pad", "float", 1.0, "weight of the L2 zero-padding loss (eq. 5)"),
    HParam("init_std", "float", 0.0, "0 for Keras' initialisers; > 0 draws every parameter "
           "from N(0, init_std^2), each coupling subnet's last layer zero (the authors' "
           "init_param, 0.1)", min=0),
))

INN_VAE = register("inn-vae", INN.extend(
    HParam("w_mmd", "float", 1.0, "weight of the MMD distribution loss (eq. 6)", min=0),
    HParam("seed", "int", 0, "seed of the model's draws (a run passes train.seed)", min=0,
           set_by="train.seed"),
))
