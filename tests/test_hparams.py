"""One declaration per hyperparameter (infozoo/settings/hparams): every registered model has
one, and the model's checks, get_config, the zoo configs and the CLI flags all follow from it."""
import inspect
import subprocess
import sys

import numpy as np
import pytest

from infozoo.settings import config
from infozoo.settings.hparams import HParam, HParams, spec_for
from infozoo.settings.registry import get_model_class, model_names


def test_every_registered_model_declares_its_hyperparameters():
    for name in model_names():
        cls = get_model_class(name)
        assert len(cls.hparams) > 0, name
        assert spec_for(name) is cls.hparams, name


def test_every_zoo_config_uses_only_declared_hyperparameters_and_no_yaml_schema():
    for zoo in config.zoo_names():
        raw = config.load_zoo(zoo)
        spec = spec_for(raw["model"])
        assert "help" not in raw and "schema" not in raw, zoo
        assert set(raw.get("model_args", {})) <= set(spec.names()), zoo
        for section in raw.get("datasets", {}).values():
            assert set(section.get("model_args", {})) <= set(spec.names()), zoo


def test_check_fills_defaults_canonicalises_and_refuses_with_the_rule():
    spec = HParams(HParam("n", "int", 2, "count", min=1),
                   HParam("w", "float", 0.5, "weight", min=0, exclusive_min=True),
                   HParam("sizes", "list", [4], "widths", items={"type": "int", "min": 1}),
                   HParam("kind", "str", "a", "kind", choices=("a", "b")))
    out = spec.check({"n": np.int64(3), "w": 1, "sizes": (8, 16)}, "M")
    assert out == {"n": 3, "w": 1.0, "sizes": [8, 16], "kind": "a"}
    assert type(out["n"]) is int and type(out["w"]) is float and type(out["sizes"]) is list
    for bad, msg in (({"n": 0}, "M n: 0; must be >= 1"), ({"w": 0.0}, "M w: 0.0; must be > 0"),
                     ({"n": 2.5}, "expected an integer"), ({"w": float("nan")}, "finite"),
                     ({"sizes": [4, 0]}, r"M sizes\[1\]: 0; must be >= 1"),
                     ({"kind": "c"}, "allowed: a, b"), ({"n": True}, "expected an integer"),
                     ({"m": 1}, "unknown hyperparameter.*m; known: n, w, sizes, kind")):
        with pytest.raises(ValueError, match=msg):
            spec.check(bad, "M")
    with pytest.raises(ValueError, match="the default of n"):
        HParam("n", "int", 0, "count", min=1)
    derived = spec.extend(HParam("extra", "bool", True), drop=("kind",)).with_defaults(n=5)
    assert derived.names() == ["n", "w", "sizes", "extra"] and derived.defaults()["n"] == 5
    assert spec.defaults()["n"] == 2  # extend and with_defaults leave the base alone


def test_models_check_store_and_return_their_hyperparameters():
    VAE = get_model_class("vae")
    m = VAE(input_shape=(8, 8, 1), hidden=(16,), beta=2)
    assert m.hp["beta"] == 2.0 and m.hp["hidden"] == [16]
    assert m.hp == {k: m.hp[k] for k in VAE.hparams.names()}
    cfg = m.get_config()
    assert {k: cfg[k] for k in VAE.hparams.names()} == m.hp
    assert VAE.from_config(cfg).hp == m.hp
    with pytest.raises(ValueError, match="VAE code_size: 0; must be >= 1"):
        VAE(input_shape=(8, 8, 1), hidden=[16], code_size=0)
    with pytest.raises(ValueError, match="VAE: unknown hyperparameter.*codesize"):
        VAE(input_shape=(8, 8, 1), hidden=[16], codesize=3)
    sig = inspect.signature(VAE)
    assert sig.parameters["beta"].default == 1.0 and "input_shape" in sig.parameters


@pytest.mark.slow  # CLI subprocesses
def test_cli_flags_take_type_and_help_from_the_declaration(tmp_path):
    env_run = [sys.executable, "-m", "infozoo.cli", "train", "vae"]
    help_text = subprocess.run([*env_run, "--help"], capture_output=True, text=True).stdout
    assert "weight of the KL" in " ".join(help_text.split())
    p = subprocess.run([*env_run, "--code-size", "2.5", "--dry-run"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "2.5" in p.stderr and "Traceback" not in p.stderr


def test_a_yaml_schema_for_a_declared_model_is_refused(tmp_path, monkeypatch):
    (tmp_path / "myvae.yaml").write_text("model: vae\nmodel_args: {beta: 2.0}\n"
                                         "schema: {beta: {min: 0}}\n")
    monkeypatch.setenv("INFOZOO_CONFIG_PATH", str(tmp_path))
    with pytest.raises(config.ConfigError, match="declared in infozoo/settings/hparams"):
        config.resolve("myvae")
    (tmp_path / "myvae.yaml").write_text("model: vae\nmodel_args: {betta: 2.0}\n")
    with pytest.raises(config.ConfigError, match="betta: not a hyperparameter of model 'vae'"):
        config.resolve("myvae")
