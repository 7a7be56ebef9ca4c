import pytest

from infozoo.settings import config


def test_resolve_defaults_and_dataset_sections():
    cfg = config.resolve("inn")
    assert cfg.model == "inn" and cfg.model_args["conv_hidden"] == 100
    assert cfg.train.lr_drops == (8,) and cfg.train.weight_decay == 1e-6
    c10 = config.resolve("inn", {"dataset": "cifar10"})
    assert c10.model_args["conv_hidden"] == 128 and c10.model_args["fc_hidden"] == 1000
    assert c10.train.epochs == 15


def test_inherit_and_variants():
    assert config.resolve("classic-1024").model_args["hidden"] == (1024, 1024, 1024)
    assert config.resolve("classic-deep").model_args["hidden"] == (1024,) * 4
    assert config.resolve("classic-deep").model == "classic"
    assert config.resolve("inn-vae").model_args["w_mmd"] == 1.0


def test_overrides_by_section_and_bare_key():
    cfg = config.resolve("inn", {"train.lr": 1e-4, "bottleneck": 8,
                                 **config.parse_set(["train.lr_drops=[2, 3]"])})
    assert cfg.train.lr == 1e-4 and cfg.model_args["bottleneck"] == 8
    assert cfg.train.lr_drops == (2, 3)
    # user overrides win over the per-dataset section
    assert config.resolve("inn", {"dataset": "cifar10", "conv_hidden": 7}).model_args[
        "conv_hidden"] == 7


@pytest.mark.parametrize("over, match", [
    ({"bottlenek": 3}, "unknown config key 'bottlenek'"),
    ({"train.nope": 1}, "unknown config key 'train.nope'"),
    ({"model.x": 1}, "unknown config section"),
    ({"bottleneck": 0}, "model_args.bottleneck: 0; must be >= 1"),
    ({"bottleneck": "big"}, "expected an integer"),
    ({"downsampling": "bilinear"}, "allowed: haar, squeeze"),
    ({"train.lr": -1.0}, "must be > 0"),
    ({"train.strategy": "tpu"}, "allowed: default, mirrored"),
])
def test_bad_keys_and_values(over, match):
    with pytest.raises(config.ConfigError, match=match):
        config.resolve("inn", over)


def test_unknown_model_and_bad_set():
    with pytest.raises(config.ConfigError, match="unknown model 'nope'; available:"):
        config.resolve("nope")
    with pytest.raises(config.ConfigError, match="key=value"):
        config.parse_set(["lr"])


def test_flags_come_from_scalar_model_args():
    keys = [k for k, *_ in config.flag_specs("inn")]
    assert "bottleneck" in keys and "conv_hidden" in keys


@pytest.mark.slow  # builds every zoo config (~10 s)
def test_every_zoo_config_resolves_and_builds():
    import numpy as np
    from infozoo.run.factory import build_model
    for name in config.zoo_names():
        cfg = config.resolve(name, {"dataset": "digits"})
        m = build_model(cfg, (8, 8, 1))
        assert np.all(np.isfinite(m.reconstruct(np.zeros((2, 8, 8, 1), "float32"))))


def test_classic_baselines_are_the_authors():
    """Nguyen et al.'s code: linear code layer; the deep model adds one 1024 layer per side
    to classic-1024 (784-1024x4-32 and back: 7,971,632 parameters)."""
    from infozoo.run.factory import build_model
    cfg = config.resolve("classic", {})
    assert cfg.model_args["code_activation"] == "linear"
    deep = config.resolve("classic-deep", {"bottleneck": 32})
    assert deep.model_args["hidden"] == (1024,) * 4
    assert build_model(deep, (28, 28, 1)).count_params_trainable() == 7_971_632


def test_config_path_adds_a_plugin_directory(tmp_path, monkeypatch):
    (tmp_path / "myinn.yaml").write_text("model: inn\ninherit: inn\nmodel_args:\n  bottleneck: 5\n")
    monkeypatch.setenv("INFOZOO_CONFIG_PATH", str(tmp_path))
    assert "myinn" in config.zoo_names() and "pie" in config.zoo_names()
    assert config.resolve("myinn").model_args["bottleneck"] == 5
    monkeypatch.setenv("INFOZOO_CONFIG_PATH", str(tmp_path / "missing"))
    with pytest.raises(config.ConfigError, match="not a directory"):
        config.zoo_names()


def test_every_zoo_entry_has_a_digits_section():
    """The README's offline runs use digits: no entry may fall back to its MNIST sizes."""
    from infozoo.settings.config import load_zoo, zoo_names
    for name in zoo_names():
        assert "digits" in (load_zoo(name).get("datasets") or {}), name
