"""The (beta-)VAE baselines of IPAE (§2.2, §4) and VIMAE (§2.2, §5).

``loss = recon + beta * KL(N(mu, diag sigma^2) || N(0, I))`` with the analytic KL of
IPAE eq. 5 (the negative ELBO, VIMAE eq. 2, for ``beta = 1``): ``beta = 1`` is the
VAE (Kingma & Welling), ``beta > 1`` the beta_H-VAE (Higgins et al.), ``beta < 1`` the
beta_A-VAE (VIMAE §5, after Alemi et al.). The reconstruction uses the standard
reparameterisation trick with ``K`` samples.
"""
from infozoo.settings.hparams import stochastic as hp_specs
from infozoo.models.base import register_model
from infozoo.models.stochastic import StochasticAutoencoder


@register_model("vae")
class VAE(StochasticAutoencoder):
    """beta-VAE with the analytic KL to ``N(0, I)``.

    Hyperparameters: :data:`infozoo.settings.hparams.stochastic.VAE`. Terms: ``loss``, ``recon``,
    ``kl`` (the rate)."""

    hparams = hp_specs.VAE
    term_names = ("loss", "recon", "kl")
    random_terms = ("loss", "recon")

    def regularizer(self, x, codes, training):
        """``beta * KL`` (eq. 5; the base computes the KL once, as ``codes["kl"]``)."""
        return self.hp["beta"] * codes["kl"], {}
