"""Hyperparameters of the stochastic-encoder family: IPAE, the (beta-)VAE and VIMAE
(``infozoo/models/stochastic.py``, ``ipae.py``, ``vae.py``, ``vimae.py``)."""
from infozoo.settings.hparams import HParam, HParams, register

#: the multi-scale MMD kernel widths of WAE (losses/mmd.py DEFAULT_SCALES)
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

STOCHASTIC = HParams(
    HParam("code_size", "int", 8, "dimension of z (and of mu, sigma)", min=1),
    HParam("arch", "str", "mlp", "mlp (IPAE's fully connected nets) or conv (WAE/DCGAN nets "
           "of the VIMAE appendix)", choices=("mlp", "conv")),
    HParam("hidden", "list", [2048], "hidden units of the mlp nets, encoder order",
           items={"type": "int", "min": 1}),
    HParam("activation", "str", "relu", "hidden activation of the mlp nets (relu in IPAE "
           "§4.1, sigmoid in §4.2)", choices=("relu", "sigmoid", "tanh", "elu", "leaky_relu")),
    HParam("enc_channels", "list", [128, 256, 512, 1024], "channels of the conv encoder",
           items={"type": "int", "min": 1}, min_items=1),
    HParam("dec_channels", "list", [1024, 512, 256], "channels of the conv decoder",
           items={"type": "int", "min": 1}, min_items=1),
    HParam("kernel_size", "int", 4, "conv filter size (4 for 28x28, 5 for 32x32/64x64)",
           min=1),
    HParam("batch_norm", "bool", True, "batch normalisation in the conv nets"),
    HParam("recon", "str", "mse", "reconstruction loss d(x, x_hat): mse (mean), l2 (sum of "
           "squares, the VIMAE appendix), bce (Bernoulli, sum), l1 (mean)",
           choices=("mse", "l2", "bce", "l1")),
    HParam("output", "str", "linear", "decoder output activation (linear for toy25, sigmoid "
           "for images in [0, 1])", choices=("linear", "sigmoid")),
    HParam("k", "int", 1, "samples of eps per example (K)", min=1),
    HParam("min_sigma", "float", 1e-4, "lower bound of the encoder's sigma (sigma = "
           "softplus(.) + min_sigma)", min=0, exclusive_min=True),
    HParam("probe_size", "int", 10000, "training examples of the linear SVM probe at "
           "evaluation (0 = no probe)", min=0),
    HParam("probe_protocol", "str", "both", "corrupted (VIMAE §5.3, the SVM trained on codes "
           "of corrupted inputs; reported as svm_*), clean (trained on clean codes; "
           "svm_cleanfit_*) or both", choices=("corrupted", "clean", "both")),
    HParam("seed", "int", 0, "seed of the model's draws (a run passes train.seed)", min=0,
           set_by="train.seed"),
)

VAE = register("vae", STOCHASTIC.extend(
    HParam("beta", "float", 1.0, "weight of the KL (1 VAE; VIMAE uses beta_H = 10, "
           "beta_A = 0.2 on MNIST)", min=0),
))

IPAE = register("ipae", STOCHASTIC.extend(
    HParam("beta", "float", 1e-3, "weight of the information bound, eq. 11 as printed "
           "(reconstruction weight 1/2)", min=0),
    HParam("nj", "int", 1, "partners j per example in eq. 10 (N_j); 0 = the whole batch",
           min=0),
    HParam("bank_size", "int", 1000, "recent training (mu, sigma) kept for sampling from "
           "the eq. 6 mixture", min=1),
))

VIMAE = register("vimae", STOCHASTIC.extend(
    HParam("prior", "str", "normal", "p(z): normal (VIMAE-n) or logistic with zero mean and "
           "unit variance (VIMAE-l)", choices=("normal", "logistic")),
    HParam("lam", "float", 10.0, "lambda of eq. 7, weight of MMD(q(z), p(z))", min=0),
    HParam("noise_std", "float", 0.01, "std of the Gaussian noise added to the encoder's "
           "input while training", min=0),
    HParam("noise_clip", "float", 0.01, "the noise is truncated to [-noise_clip, noise_clip]",
           min=0),
    HParam("mmd_kernel", "str", "imq", "MMD kernel, imq (inverse multiquadratic, as WAE) or "
           "rbf", choices=("imq", "rbf")),
    HParam("mmd_scales", "list", list(MMD_SCALES), "MMD kernel scales s (C = 2 d sigma^2 s, "
           "WAE)", items={"type": "float", "min": 0, "exclusive_min": True}, min_items=1),
    drop=("k",),
))
