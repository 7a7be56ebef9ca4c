"""Train, data and model settings declared once (infozoo/settings): every declared setting is
in the resolved config at its default, every declared setting has its flag with the
declaration's type, range and help, the zoo YAMLs hold only what differs from the
declaration, and a run directory written before (tests/data/run-799aeb7-vimae, a tiny vimae
run trained by commit 799aeb7, whose config.yaml has no model_args.min_sigma) resumes."""
import json
import os
import re
import shutil

import pytest
import yaml
from click.testing import CliRunner

from conftest import REPO
from infozoo.cli.main import main
from infozoo.settings import config
from infozoo.settings.hparams import spec_for
from infozoo.settings.run import DATA, TRAIN

OLD_RUN = os.path.join(REPO, "tests", "data", "run-799aeb7-vimae")
#: the command that trained OLD_RUN (its segments.jsonl), without --run-dir
OLD_ARGS = ["train", "vimae", "--dataset", "digits", "--code-size", "3", "--kernel-size", "3",
            "--set", "enc_channels=[4, 8]", "--set", "dec_channels=[8, 4]", "--train-size",
            "64", "--batch-size", "32", "--epochs", "1", "--quiet", "--set",
            "train.image_every=0", "--probe-size", "0", "--evaluate", "quick", "--no-export"]


def cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def test_every_declared_setting_is_in_the_resolved_config():
    for name in config.zoo_names():
        cfg = config.resolve(name)
        spec = spec_for(cfg.model)
        assert set(cfg.data.to_dict()) == set(DATA.names()), name
        assert set(cfg.train.to_dict()) == set(TRAIN.names()), name
        assert set(cfg.model_args) == {p.name for p in spec if p.passed_by is None}, name
    assert config.resolve("vimae").model_args["min_sigma"] == 1e-4  # not in vimae.yaml


def test_every_declared_setting_has_its_flag_with_declared_help():
    for name in config.zoo_names():
        code, out, err = cli("train", name, "--help")
        assert code == 0, err
        text = re.sub(r"-\s+", "-", " ".join(out.split()))  # click wraps after hyphens
        spec = spec_for(config.load_zoo(name).get("model", name))
        wanted = [(p, p.flag and p.passed_by is None) for p in spec
                  if p.name != "seed"]  # --seed is train.seed's, passed to the model
        wanted += [(p, p.flag) for p in [*DATA, *TRAIN]]
        for p, has in wanted:
            flag = "--" + p.name.replace("_", "-")
            assert (f"{flag} " in text) == has, (name, flag)
            if has:
                assert re.sub(r"-\s+", "-", " ".join(p.help.split()[:4])) in text, (name, flag)
    text = " ".join(cli("train", "vimae", "--help")[1].split())
    assert "--min-sigma FLOAT lower bound of the encoder's sigma" in text
    assert "[config: 0.0001] [x>0]" in text


def test_min_sigma_flag_is_accepted_and_checked_by_its_declared_range():
    code, out, err = cli("train", "vimae", "--min-sigma", "0.01", "--dry-run")
    assert code == 0, err
    assert yaml.safe_load(out)["model_args"]["min_sigma"] == 0.01
    for bad in ("0", "-1"):
        code, _, err = cli("train", "vimae", "--min-sigma", bad, "--dry-run")
        assert code == 2 and "--min-sigma" in err and "model_args.min_sigma" in err, err
        assert "must be > 0" in err and "Traceback" not in err
    code, _, err = cli("train", "vimae", "--min-sigma", "small", "--dry-run")
    assert code == 2 and "'small' is not a valid float" in err


def test_list_flags_take_comma_separated_items_checked_by_the_declaration():
    code, out, err = cli("train", "inn", "--lr-drops", "2,4", "--dry-run")
    assert code == 0 and yaml.safe_load(out)["train"]["lr_drops"] == [2, 4], err
    for empty in ("", "[]"):
        code, out, err = cli("train", "inn", "--lr-drops", empty, "--dry-run")
        assert code == 0 and yaml.safe_load(out)["train"]["lr_drops"] == [], err
    code, out, err = cli("train", "vimae", "--hidden", "[64, 32]", "--mmd-scales", "0.5,1e-1",
                         "--dry-run")
    m = yaml.safe_load(out)["model_args"]
    assert code == 0 and m["hidden"] == [64, 32] and m["mmd_scales"] == [0.5, 0.1], err
    for bad, needle in (("4,2", "must be strictly increasing"),
                        ("a", "train.lr_drops[0]: 'a'; expected an integer"),
                        ("0", "train.lr_drops[0]: 0; must be >= 1"),
                        ("[2", "cannot read '[2' as a list")):
        code, _, err = cli("train", "inn", "--lr-drops", bad, "--dry-run")
        assert code == 2 and "--lr-drops" in err and needle in err, (bad, err)
    text = " ".join(cli("train", "classic", "--help")[1].split())
    assert "--hidden A,B,... hidden units of the mlp" in text


def test_train_and_data_flags_follow_their_declarations():
    for args, needle in ((["--epochs", "0"], "train.epochs: 0; must be >= 1"),
                         (["--seed", str(2**32)], "must be <= 4294967295"),
                         (["--train-size", "1"], "data.train_size: 1; must be >= 2"),
                         (["--precision", "float64"], "'float64' is not one of")):
        code, _, err = cli("train", "inn", *args, "--dry-run")
        assert code == 2 and needle in err and args[0] in err, (args, err)
    code, out, _ = cli("train", "inn", "--no-export", "--jit-compile", "--dry-run")
    t = yaml.safe_load(out)["train"]
    assert code == 0 and t["export"] is False and t["jit_compile"] is True


def test_zoo_yamls_hold_only_values_that_differ_from_the_declaration(tmp_path, monkeypatch):
    """Each value a zoo YAML file sets changes the resolved config of some dataset: without
    it (in the entry or in a dataset section) some config would differ."""
    # a dataset without a section of its own (toy25:3, a user's files) takes the entry's values
    datasets = ("mnist", "fashion_mnist", "cifar10", "digits", "toy25", "toy25:3")
    zoo = tmp_path / "zoo"
    shutil.copytree(config.config_dir(), zoo)
    monkeypatch.setenv("INFOZOO_CONFIG_DIR", str(zoo))

    def resolved(name):
        return [config.resolve(name, {"data.dataset": d}) for d in datasets]
    for name in config.zoo_names():
        text = (zoo / f"{name}.yaml").read_text()
        own = yaml.safe_load(text)
        base = resolved(name)
        paths = [(s, k) for s in ("data", "model_args", "train") for k in own.get(s, {})]
        paths += [("datasets", d, s, k) for d, sec in own.get("datasets", {}).items()
                  for s in sec for k in sec[s]]
        for path in paths:
            if path == ("data", "dataset"):
                continue  # the entry's dataset: what it trains on without --dataset
            raw = yaml.safe_load(text)
            node = raw
            for key in path[:-1]:
                node = node[key]
            del node[path[-1]]
            (zoo / f"{name}.yaml").write_text(yaml.safe_dump(raw))
            assert resolved(name) != base, (name, path)
        (zoo / f"{name}.yaml").write_text(text)


def test_an_undeclared_train_or_data_key_in_a_zoo_yaml_is_refused(tmp_path, monkeypatch):
    """Before, ``train: {epoch: 5}`` was taken silently (and did nothing)."""
    monkeypatch.setenv("INFOZOO_CONFIG_PATH", str(tmp_path))
    (tmp_path / "myinn.yaml").write_text("model: inn\ninherit: inn\ntrain: {epoch: 5}\n")
    with pytest.raises(config.ConfigError, match=r"myinn.yaml: unknown key train.epoch; keys "
                                                 r"of train: epochs, batch_size"):
        config.resolve("myinn")
    (tmp_path / "myinn.yaml").write_text("model: inn\ninherit: inn\ndata: {train_size: 1.5}\n")
    with pytest.raises(config.ConfigError, match=r"data.train_size: 1.5; expected an integer"):
        config.resolve("myinn")


# -- run directories written by the previous release ----------------------------------------
def test_a_config_written_before_lacks_keys_that_read_as_their_declared_defaults():
    from infozoo.run import rundir as runs
    assert "min_sigma" not in yaml.safe_load(open(os.path.join(OLD_RUN, "config.yaml")))[
        "model_args"]
    old = runs.read_config(OLD_RUN)
    assert old.filled == ("model_args.min_sigma",) and old.model_args["min_sigma"] == 1e-4
    overrides = {"data.dataset": "digits", "code_size": 3, "kernel_size": 3,
                 "enc_channels": [4, 8], "dec_channels": [8, 4], "train_size": 64,
                 "batch_size": 32, "epochs": 1, "image_every": 0, "probe_size": 0,
                 "evaluate": "quick", "export": False}
    new = config.resolve("vimae", overrides).replace(input_shape=(8, 8, 1))
    assert runs.check_resume(old, new, OLD_RUN) == {}
    assert old == new  # filled at the default the run used
    changed = runs.check_resume(old, new.with_train(epochs=3), OLD_RUN)
    assert changed == {"train.epochs": (1, 3)}
    with pytest.raises(config.ConfigError, match=r"model_args.min_sigma: the run used 0.0001, "
                                                 r"this command asks for 0.01"):
        runs.check_resume(old, new.replace(model_args={**new.model_args, "min_sigma": 0.01}),
                          OLD_RUN)


@pytest.fixture
def old_run(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(OLD_RUN, run)
    return run


@pytest.mark.slow  # trains one epoch of a tiny vimae in this process
def test_a_run_of_the_previous_release_resumes_with_its_command(old_run):
    from conftest import invoke_cli
    before = (old_run / "config.yaml").read_text()
    p = invoke_cli(*OLD_ARGS, "--min-sigma", "0.01", "--run-dir", old_run, check=2)
    assert "model_args.min_sigma: the run used 0.0001, this command asks for 0.01" in p.stderr
    assert (old_run / "config.yaml").read_text() == before  # a refusal writes nothing
    args = [a if a != "1" or OLD_ARGS[i - 1] != "--epochs" else "2"
            for i, a in enumerate(OLD_ARGS)]
    p = invoke_cli(*args, "--run-dir", old_run, check=0)
    assert "Resuming" in p.stdout and "at epoch 2, step 0" in p.stdout, p.stdout
    assert "train.epochs changed on resume: 1 -> 2" in p.stdout
    assert "config.yaml now lists 1 setting(s)" in p.stdout and "model_args.min_sigma" in p.stdout
    cfg = yaml.safe_load((old_run / "config.yaml").read_text())
    assert cfg["model_args"]["min_sigma"] == 1e-4 and cfg["train"]["epochs"] == 2
    segs = [json.loads(line) for line in (old_run / "segments.jsonl").read_text().splitlines()]
    assert len(segs) == 2 and segs[1]["filled"] == ["model_args.min_sigma"]
    assert "min_sigma" not in segs[0]["config"]["model_args"]  # the old config is kept
    assert json.loads((old_run / "checkpoints" / "state.json").read_text())["epoch"] == 2


def test_the_old_import_path_of_the_declarations_still_works():
    """``infozoo.hparams`` (before the move to ``infozoo.settings.hparams``) for one release."""
    import infozoo.hparams as old
    import infozoo.settings.hparams as new
    assert old.HParam is new.HParam and old.HParams is new.HParams
    assert old.spec_for("pie") is new.spec_for("pie")
