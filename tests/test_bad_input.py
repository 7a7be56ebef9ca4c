"""Every bad input answered: exit 2 at the CLI, a ValueError in Python, each naming what was
wrong and what to do (issue 18; the rows of the fault battery are given as #N)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, interrupt_at_first_checkpoint, run_cli
from infozoo.settings import config
from infozoo.data import loaders as data

TINY_INN = ["--dataset", "digits", "--conv-blocks", "1", "--conv-hidden", "8",
            "--fc-hidden", "16", "--bottleneck", "8", "--quiet", "--set", "train.image_every=0"]


# -- zoo YAML, flags and --set --------------------------------------------------------------
@pytest.fixture
def broken_zoo(tmp_path):
    """A copy of the bundled zoo configs with pie's ``model:`` and vae-betah's ``inherit:``
    naming nothing (#34, #35)."""
    zoo = tmp_path / "zoo"
    shutil.copytree(os.path.join(REPO, "zoo_configs"), zoo)
    for name, old, new in (("pie", "model: pie", "model: nosuch"),
                           ("vae-betah", "inherit: vae", "inherit: nothere")):
        text = (zoo / f"{name}.yaml").read_text()
        assert old in text
        (zoo / f"{name}.yaml").write_text(text.replace(old, new))
    return zoo


@pytest.mark.slow
def test_a_zoo_yaml_naming_no_model_or_parent_exits_2_naming_file_and_key(broken_zoo):
    env = {"INFOZOO_CONFIG_DIR": str(broken_zoo)}
    p = run_cli("train", "pie", "--dataset", "digits", "--dry-run", env=env, check=2)
    assert f"{broken_zoo / 'pie.yaml'}: model: 'nosuch' is not a registered model" in p.stderr
    assert "Traceback" not in p.stderr and "model: nosuch" not in p.stdout
    p = run_cli("train", "vae-betah", "--dataset", "digits", "--dry-run", env=env, check=2)
    assert f"{broken_zoo / 'vae-betah.yaml'}: inherit: 'nothere' is not a zoo config" in p.stderr
    # list flags both, lists the others, and exits 2
    p = run_cli("list", env=env, check=2)
    rows = {line.split()[0]: line for line in p.stdout.splitlines() if line.strip()}
    assert "BROKEN" in rows["pie"] and "BROKEN" in rows["vae-betah"]
    assert "model=inn" in rows["inn"] and "model=nosuch" not in p.stdout
    assert "pie.yaml: model: 'nosuch'" in p.stderr and "vae-betah.yaml: inherit:" in p.stderr
    assert "Traceback" not in p.stderr


def test_zoo_yaml_errors_name_the_file(tmp_path, monkeypatch):
    """#33, #35 in-process: the file that sets the key, also through ``inherit:``."""
    monkeypatch.setenv("INFOZOO_CONFIG_PATH", str(tmp_path))
    (tmp_path / "myinn.yaml").write_text("model: inn\ninherit: inn\nmodel_args:\n"
                                         "  bottlenek: 32\n")
    (tmp_path / "mychild.yaml").write_text("inherit: myinn\ndescription: child\n")
    for name in ("myinn", "mychild"):  # the key is in myinn.yaml either way
        with pytest.raises(config.ConfigError) as e:
            config.resolve(name)
        assert f"{tmp_path / 'myinn.yaml'}, model_args bottlenek: not a hyperparameter" \
            in str(e.value)
    (tmp_path / "myinn.yaml").write_text("model: inn\ninherit: innn\n")
    with pytest.raises(config.ConfigError, match=r"myinn.yaml: inherit: 'innn' is not a zoo "
                                                 r"config; available: .*inn"):
        config.resolve("myinn")


@pytest.mark.slow
def test_seed_out_of_range_exits_2_naming_it_in_the_dry_run():
    """#11, #12: numpy's seed range, checked before anything starts."""
    for seed in ("-5", "99999999999999999999", "1e20"):
        p = run_cli("train", "glow", "--dataset", "digits", "--seed", seed, "--dry-run", check=2)
        assert "--seed" in p.stderr and "Traceback" not in p.stderr, p.stderr
    p = run_cli("train", "inn", "--dataset", "digits", "--set", "train.lr_drops=[5, 5, 3]",
                "--dry-run", check=2)
    assert "train.lr_drops: [5, 5, 3]; must be strictly increasing" in p.stderr


def test_seed_range_and_lr_drops_order_are_config_rules():
    """#11, #12, #31 where train settings are validated (so --set and infozoo.fit get them)."""
    for seed in (-1, 2**32):
        with pytest.raises(config.ConfigError, match="train.seed"):
            config.resolve("inn", {"train.seed": seed})
    assert config.resolve("inn", {"train.seed": 2**32 - 1}).train.seed == 2**32 - 1
    for drops in ([5, 5, 3], [5, 3], [2, 2]):
        with pytest.raises(config.ConfigError, match="strictly increasing"):
            config.resolve("inn", {"train.lr_drops": drops})
    assert config.resolve("inn", {"train.lr_drops": [3, 5]}).train.lr_drops == (3, 5)
    for name in config.zoo_names():  # every bundled config still resolves
        config.resolve(name)


def test_data_dir_with_some_idx_files_says_which_are_missing(tmp_path):
    """#53: not "cannot download": the files it found and the ones it lacks."""
    rng = np.random.RandomState(0)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(rng.bytes(64))
    with pytest.raises(data.DatasetUnavailable) as e:
        data.load_arrays("mnist", str(tmp_path))
    msg = str(e.value)
    assert "holds train-images-idx3-ubyte, train-labels-idx1-ubyte but not " \
           "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in msg, msg
    assert "download" not in msg


@pytest.mark.slow
def test_multiworker_without_a_usable_tf_config_exits_2(tmp_path):
    """#185: before TensorFlow starts, and nothing is written."""
    args = ["train", "inn", *TINY_INN, "--epochs", "1", "--train-size", "64", "--batch-size",
            "32", "--strategy", "multiworker", "--run-dir", tmp_path / "mw"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    p = subprocess.run([sys.executable, "-m", "infozoo.cli", *map(str, args)], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "needs TF_CONFIG" in p.stderr, p.stderr[-2000:]
    p = run_cli(*args, env={"TF_CONFIG": "{bad json"}, check=2)
    assert "TF_CONFIG is not valid JSON" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "mw").exists()


# -- a run interrupted, resumed, then a checkpoint truncated -----------------------------------
@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A tiny INN run stopped by SIGINT at its first checkpoint, then resumed to the end:
    ``(run_dir, stderr of the interrupted start, stdout of the resume, checkpoint state at
    the interruption)``."""
    import json
    run = tmp_path_factory.mktemp("sigint") / "run"
    args = ["train", "inn", *TINY_INN, "--batch-size", "16", "--train-size", "256",
            "--epochs", "2", "--checkpoint-every", "2", "--run-dir", str(run)]
    rc, _, err = interrupt_at_first_checkpoint(args, run)
    assert rc == 130, err[-2000:]
    at_stop = json.loads((run / "checkpoints" / "state.json").read_text())
    resumed = run_cli(*args, check=0)
    return run, err, resumed.stdout, at_stop


@pytest.mark.slow
def test_sigint_and_resume_lines_count_epochs_alike(interrupted):
    """#59: both lines say the same (1-based) epoch and step."""
    import re
    _, err, resumed, state = interrupted
    stop = re.search(r"resume from its last checkpoint \(epoch (\d+), step (\d+)\)", err)
    start = re.search(r"Resuming .* at epoch (\d+), step (\d+)", resumed)
    assert stop and start, (err[-1000:], resumed[-1000:])
    assert stop.groups() == start.groups()
    assert stop.groups() == (str(state["epoch"] + 1), str(state["step"]))


@pytest.mark.slow
def test_unreadable_checkpoint_warning_is_not_cut(interrupted, tmp_path, capsys):
    """#71: the warning before the fallback carries the whole error, not its first 200
    characters cut mid-sentence."""
    from infozoo.run import rundir as runs
    from infozoo.run import factory
    run = tmp_path / "run"
    shutil.copytree(interrupted[0], run)
    state = runs.checkpoint_state(str(run))
    with open(state["weights_path"], "r+b") as f:
        f.truncate(1000)
    cfg = runs.read_config(str(run))
    with pytest.raises(RuntimeError) as e:
        factory.restore_weights(factory.compile_model(factory.build_model(cfg, cfg.input_shape), cfg),
                             state["weights_path"])
    assert len(str(e.value)) > 200  # what used to be cut
    capsys.readouterr()
    factory.load_model(str(run))
    err = capsys.readouterr().err
    assert f"Warning: cannot read {state['weights_path']} ({e.value})" in err, err


# -- the Python API: infozoo.fit(data=...) -----------------------------------------------------
def _digits(n_train=64, n_test=32):
    xtr, ytr, xte, yte = data.load_arrays("digits")
    return xtr[:n_train], ytr[:n_train], xte[:n_test], yte[:n_test]


@pytest.mark.parametrize("make,needle", [
    (lambda d: (d[0], d[1][:10], d[2], d[3]), "the training set has 64 images but 10 labels"),
    (lambda d: (d[0][:0], None, d[2], None), "the training set is empty"),
    (lambda d: (d[0] - 0.5, None, d[2], None), "values in [-0.5, 0.5]"),
    (lambda d: (d[0][..., 0], None, d[2][..., 0], None),
     "the training images have shape [64, 8, 8]; expected [N, height, width, channels] "
     "(add the channel axis"),
    (lambda d: (d[0], d[2]), "data= wants a tuple (x_train, y_train, x_test, y_test)"),
    (lambda d: (d[0], ["a"] * 64, d[2], None), "the training labels must be integer class "
                                                 "indices"),
    (lambda d: (d[0], None, d[2][:, :4], None), "the test images have shape [4, 8, 1], the "
                                                "training images [8, 8, 1]"),
    (lambda d: (d[0], d[1] + 0.5, d[2], None), "labels must be integer"),
])
def test_fit_with_bad_arrays_is_a_value_error_and_leaves_nothing(tmp_path, make, needle):
    """#148, #149, #151, #154, #157, #158: a ValueError (not DatasetUnavailable, a
    RuntimeError) naming the problem, before anything is written."""
    import infozoo
    run = tmp_path / "b1"
    with pytest.raises(ValueError) as e:
        infozoo.fit("classic", run_dir=str(run), data=make(_digits()), bottleneck=8,
                    epochs=1, verbose=0)
    assert not isinstance(e.value, RuntimeError)
    assert needle in str(e.value), str(e.value)
    assert "--data-dir" not in str(e.value) and "--dataset" not in str(e.value)
    assert not run.exists()


def test_a_failed_fit_removes_only_what_it_created(tmp_path):
    """#148-#151 leftovers: a start that fails after the arrays were stored (here: a batch
    larger than the training set) removes data/arrays.npz, the marker and the lock; a
    directory holding the user's own file is refused before anything is written (#91)."""
    import infozoo
    run = tmp_path / "mine"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    for run_dir, needle in ((run, "not made by infozoo"),
                            (tmp_path / "new", "larger than the training set"),
                            (tmp_path / "empty", "larger than the training set")):
        if run_dir.name == "empty":
            run_dir.mkdir()
        with pytest.raises(ValueError, match=needle):
            infozoo.fit("classic", run_dir=str(run_dir), data=_digits(), bottleneck=8,
                        epochs=1, batch_size=128, verbose=0)
    assert sorted(os.listdir(run)) == ["notes.txt"] and (run / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path / "empty") == []


# -- the Python API: a model's methods, and the SavedModel endpoints ---------------------------
@pytest.fixture(scope="module")
def models():
    from tiny import make
    return make("inn"), make("pie")


def _x(n=2):
    return np.random.RandomState(0).rand(n, 8, 8, 1).astype("float32")


@pytest.mark.parametrize("call,needle", [
    (lambda inn, pie: inn.encode(np.zeros((0, 8, 8, 1))), "x: the batch is empty"),      # 143
    (lambda inn, pie: inn.decode(np.zeros((0, 4))), "z: the batch is empty"),
    (lambda inn, pie: pie.sample(0), "sample: n must be >= 1, got 0"),                    # 145
    (lambda inn, pie: pie.sample(-1), "sample: n must be >= 1, got -1"),
    (lambda inn, pie: pie.sample(2.5), "sample: n must be >= 1 (an integer)"),
    (lambda inn, pie: pie.sample(2, float("nan")), "temperature must be a finite number"),  # 146
    (lambda inn, pie: pie.sample(2, temperature=-1.0), "temperature must be a finite number"),
    (lambda inn, pie: inn.loss_terms(np.zeros((2, 9, 9, 1))),                              # 147
     "expects batches of shape [batch, 8, 8, 1], got [2, 9, 9, 1]"),
    (lambda inn, pie: inn.reconstruct(np.zeros((8, 8, 1))),                                # 139
     "got one example of shape [8, 8, 1] without the batch axis: add it, e.g. x[None]"),
    (lambda inn, pie: inn.encode((_x() * 255).astype("uint8")),                           # 140
     "x: images must be floats in [0.0, 1.0] (divide uint8 pixels by 255)"),
    (lambda inn, pie: inn.encode(_x() * 300), "x: images must be floats in [0.0, 1.0]"),   # 141
    (lambda inn, pie: inn.reconstruct(-_x() - 0.1), "x: images must be floats in [0.0, 1.0]"),
    (lambda inn, pie: pie.log_prob(_x() + 1.5), "x: images must be floats in [0.0, 1.0]"),
    (lambda inn, pie: inn.loss_terms(_x() * 2), "x: images must be floats in [0.0, 1.0]"),
])
def test_model_methods_refuse_bad_input_with_a_value_error(models, call, needle):
    inn, pie = models
    with pytest.raises(ValueError) as e:
        call(inn, pie)
    assert needle in str(e.value), str(e.value)


def test_model_methods_still_take_good_input(models):
    inn, pie = models
    x = _x()
    assert inn.encode(x).shape == (2, 4) and inn.loss_terms(x)["loss"].shape == (2,)
    assert np.isfinite(inn.reconstruct(np.clip(x + 5e-4, 0, 1 + 5e-4))).all()  # rounding slack
    assert pie.sample(1, 0.0).shape == (1, 8, 8, 1) and pie.sample(np.int64(2)).shape[0] == 2


def test_a_toy25_model_takes_points_and_keeps_that_through_its_config():
    """The range is the data's: toy25's points are not pixels (the SavedModel's rule too)."""
    import infozoo
    from infozoo.run.export import input_range_of
    m = infozoo.build("ipae", dataset="toy25", code_size=2, hidden=[8])
    assert m.input_range is None is input_range_of(infozoo.config_for("ipae", dataset="toy25"))
    assert m.encode(np.full((3, 1, 1, 2), -4.0, "float32")).shape == (3, 2)
    assert type(m).from_config(m.get_config()).input_range is None
    assert infozoo.build("inn", dataset="digits").input_range == (0.0, 1.0)


@pytest.mark.slow
def test_savedmodel_and_python_methods_share_one_input_rule(models, tmp_path):
    """#140, #141, #179: the same inputs refused with the same words, and a NaN or negative
    temperature is an InvalidArgumentError of the SavedModel's sample."""
    import tensorflow as tf
    from infozoo.run import export
    _, pie = models
    out = export.export_model(pie, str(tmp_path / "sm"))
    m = tf.saved_model.load(out)
    for bad in ((_x() * 255).astype("uint8").astype("float32"), -_x() - 0.1):
        with pytest.raises(ValueError) as py:
            pie.encode(bad)
        with pytest.raises(tf.errors.InvalidArgumentError) as sm:
            m.encode(tf.constant(bad))
        rule = str(py.value).split(";")[0]
        assert rule.startswith("x: images must be floats") and rule in str(sm.value)
    for t in (float("nan"), -1.0):
        with pytest.raises(tf.errors.InvalidArgumentError, match="temperature must be a finite"):
            m.sample(tf.constant(3), tf.constant(t), tf.constant(0, tf.int64))
    seed = tf.constant(0, tf.int64)
    assert m.sample(tf.constant(2), tf.constant(0.5), seed)["samples"].shape == (2, 8, 8, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sample: n must be >= 1"):
        m.sample(tf.constant(0), tf.constant(1.0), seed)


def test_fit_refuses_to_resume_a_run_on_other_arrays(tmp_path):
    """The stored arrays of a run are its training data: other data= would mix the run."""
    import infozoo
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    arrays = data.check_arrays(_digits())
    np.savez(run / "data" / "arrays.npz", **dict(zip(("x_train", "y_train", "x_test", "y_test"),
                                                     arrays)))
    (run / "config.yaml").write_text("zoo: classic\n")  # a run began here
    (run / ".infozoo-run").write_text("{}\n")          # in a directory infozoo made
    before = (run / "data" / "arrays.npz").read_bytes()
    with pytest.raises(ValueError, match="trained on other arrays"):
        infozoo.fit("classic", run_dir=str(run), data=_digits(n_train=32), bottleneck=8,
                    epochs=1, verbose=0)
    assert (run / "data" / "arrays.npz").read_bytes() == before
