"""The papers' budgets as the zoo configs give them (issue 22; audit F3-F4)."""
import pytest

from infozoo.settings import config as config_lib
from infozoo.run.train import lr_at

NETS = ("code_size", "arch", "hidden", "activation", "recon", "output", "k")


@pytest.mark.parametrize("dataset", ["toy25", "mnist", "fashion_mnist", "digits"])
def test_ipae_and_its_vae_baseline_train_alike(dataset):
    """IPAE §4: 'the same learning procedure' and nets for IPAE and the VAE: only the
    regulariser differs (the VIMAE-style `vae` has batch 100, Adam beta1 0.5)."""
    ipae = config_lib.resolve("ipae", {"data.dataset": dataset})
    vae = config_lib.resolve("vae-ipae", {"data.dataset": dataset})
    assert ipae.train == vae.train
    assert {k: ipae.model_args[k] for k in NETS} == {k: vae.model_args[k] for k in NETS}
    if dataset == "toy25":  # §4.1: batch 512, Adam 1e-3, 5000 batches (555 epochs of 9)
        t = ipae.train
        assert (t.batch_size, t.lr, t.beta1) == (512, 1e-3, 0.9)
        assert t.epochs * (5000 // 512) == 4995


def test_vae_baseline_default_beta_is_twice_ipaes():
    """At ipae beta b the loss is 0.5 recon + b * bound, i.e. (Adam ignores the scale)
    recon + 2b * bound: vae-ipae's default beta is twice ipae's."""
    ipae, vae = config_lib.resolve("ipae"), config_lib.resolve("vae-ipae")
    assert vae.model_args["beta"] == 2 * ipae.model_args["beta"]


@pytest.mark.slow  # imports TensorFlow
def test_reconstruction_weights_and_weight_decay_reach_the_models():
    from infozoo.models.ipae import IPAE
    from infozoo.models.vae import VAE
    from infozoo.run.factory import make_optimizer
    assert IPAE.recon_weight == 0.5 and VAE.recon_weight == 1.0
    assert float(make_optimizer(config_lib.resolve("inn")).weight_decay) == pytest.approx(1e-6)
    assert float(make_optimizer(config_lib.resolve("classic")).weight_decay) == pytest.approx(1e-5)
    off = config_lib.resolve("classic", {"train.weight_decay": 0.0})
    assert make_optimizer(off).weight_decay is None


def test_inn_ae_paper_schedules_and_weight_decays():
    """INN-AE §3.2: INN 10 epochs, lr 1e-3 x0.1 at epoch 8, weight decay 1e-6; classical
    models 100 epochs, x0.1 every 10th epoch, weight decay 1e-5 (epochs 1-based)."""
    inn = config_lib.resolve("inn")
    assert inn.train.epochs == 10 and inn.train.weight_decay == 1e-6
    assert [lr_at(inn, e) for e in range(10)] == pytest.approx([1e-3] * 7 + [1e-4] * 3)
    for name in ("classic", "classic-1024", "classic-2048", "classic-deep"):
        c = config_lib.resolve(name)
        assert c.train.epochs == 100 and c.train.weight_decay == 1e-5, name
        assert [lr_at(c, e) for e in range(100)] == pytest.approx(
            [1e-3 * 0.1 ** ((e + 1) // 10) for e in range(100)]), name
    over = config_lib.resolve("classic", {"train.lr_drops": [5], "train.weight_decay": 0.0})
    assert lr_at(over, 4) == pytest.approx(1e-4) and lr_at(over, 3) == pytest.approx(1e-3)
