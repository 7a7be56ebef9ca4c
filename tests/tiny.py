"""Tiny configs of every registered model, for the shared invariant suite (8x8x1 images)."""
SHAPE = (8, 8, 1)
TINY = {
    "inn": dict(bottleneck=4, conv_blocks=2, conv_hidden=8, fc_hidden=16),
    "inn-vae": dict(bottleneck=4, conv_blocks=1, conv_hidden=8, fc_hidden=16, w_mmd=1.0),
    "classic": dict(bottleneck=4, hidden=[16, 8]),
    "pie": dict(eps=0.1, conv_blocks=2, linear_dims=[8, 4, 4], couplings_per_block=1,
                reflections=2, conv_hidden=8, linear_hidden=16, linear_hidden_layers=1,
                g_hidden=8, sharpness_samples=16),
    "glow": dict(levels=2, steps_per_level=1, hidden=8, hidden_layers=1, sharpness_samples=16),
    "ipae": dict(code_size=2, arch="mlp", hidden=[16], k=2, nj=2, beta=0.1, bank_size=5),
    "vae": dict(code_size=3, arch="conv", enc_channels=[4, 8], dec_channels=[8, 4],
                kernel_size=3, recon="bce", output="sigmoid", beta=1.0),
    "vimae": dict(code_size=3, arch="conv", enc_channels=[4, 8], dec_channels=[8, 4],
                  kernel_size=3, recon="l2", output="sigmoid", prior="logistic", lam=10.0),
}


#: CLI flags of a tiny INN on digits (one conv block), for tests that run the CLI
INN_FLAGS = ["--dataset", "digits", "--conv-blocks", "1", "--conv-hidden", "8",
             "--fc-hidden", "16", "--bottleneck", "8", "--quiet"]


def make(name, **over):
    from infozoo.settings.registry import get_model_class
    return get_model_class(name)(input_shape=SHAPE, **{**TINY[name], **over})
