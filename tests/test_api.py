"""The Python API: the snippets of docs/api.md, Keras loading after `import infozoo.models`,
plug-in models by entry point, config sections picked by dataset or shape, TensorBoard."""
import glob
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO


def _run(code, cwd, extra_path=(), timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([*map(str, extra_path), REPO])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def doc_snippets(path):
    text = open(os.path.join(REPO, path)).read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.slow  # a subprocess that trains
def test_api_doc_snippets_run(tmp_path):
    blocks = doc_snippets("docs/api.md")
    assert len(blocks) >= 8
    code = "\n".join(f"# -- block {i}\n{b}" for i, b in enumerate(blocks)) + "\nprint('DOC-OK')\n"
    p = _run(code, tmp_path)
    assert p.returncode == 0 and "DOC-OK" in p.stdout, p.stdout[-3000:] + p.stderr[-5000:]
    for f in ("classic.keras", "mine.keras", "information.pdf", "figures/probe_"
              "information.svg", "runs/inn-digits/export/model.keras",
              "runs/mine/data/arrays.npz", "inn_savedmodel/saved_model.pb"):
        assert (tmp_path / f).exists(), f


@pytest.mark.slow  # a fresh process
@pytest.mark.parametrize("order", ["infozoo first", "keras first"])
def test_load_model_after_import_infozoo_models(tmp_path, order):
    """In a fresh process: with Keras imported first, loading fails until `import
    infozoo.models` (the control: Keras finds the classes only by their registered names);
    `import infozoo` alone imports no model module (it stays light)."""
    from tiny import make
    m = make("pie")
    m.save(tmp_path / "pie.keras")
    x = np.random.RandomState(0).rand(3, 8, 8, 1).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", np.asarray(m.log_prob(x)))
    if order == "keras first":
        imports = textwrap.dedent("""
            import keras
            try:
                keras.saving.load_model("pie.keras")
            except TypeError as e:
                assert "Could not locate class 'PIE'" in str(e), e
            else:
                raise AssertionError("loaded without infozoo")
            import infozoo.models
        """)
    else:
        imports = textwrap.dedent("""
            import infozoo, keras
            assert not any(k.startswith("infozoo.models.") for k in sys.modules), "eager"
            import infozoo.models
        """)
    code = "import sys\nimport numpy as np\n" + imports + textwrap.dedent("""
        m = keras.saving.load_model("pie.keras")
        got = np.asarray(m.log_prob(np.load("x.npy")))
        np.testing.assert_allclose(got, np.load("want.npy"), rtol=1e-5, atol=1e-4)
        print(type(m).__name__, "OK")
    """)
    p = _run(code, tmp_path)
    assert p.returncode == 0 and "PIE OK" in p.stdout, p.stderr[-3000:]


@pytest.mark.slow  # a fresh process
def test_plugin_model_joins_the_registry_by_entry_point(tmp_path):
    (tmp_path / "myplug.py").write_text(textwrap.dedent("""
        from infozoo.models.classic import ClassicAutoencoder
        from infozoo.settings.registry import register_model

        @register_model("my-classic")
        class MyClassic(ClassicAutoencoder):
            pass
    """))
    dist = tmp_path / "myplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[infozoo.models]\nmy-classic = myplug\n")
    code = textwrap.dedent("""
        import infozoo
        from infozoo.settings.registry import model_names
        assert "my-classic" in model_names() and "pie" in model_names(), model_names()
        m = infozoo.build("my-classic", input_shape=(8, 8, 1), bottleneck=3, hidden=[8])
        assert m.code_size == 3 and type(m).__name__ == "MyClassic"
        print("PLUGIN-OK")
    """)
    p = _run(code, tmp_path, extra_path=[tmp_path])
    assert p.returncode == 0 and "PLUGIN-OK" in p.stdout, p.stderr[-3000:]


def test_a_broken_plugin_names_itself(monkeypatch):
    from infozoo.settings import registry

    class Broken:
        name, value = "bad-model", "badpkg.model"

        def load(self):
            raise RuntimeError("boom")
    monkeypatch.setattr(registry, "plugin_entry_points", lambda: [Broken()])
    monkeypatch.setattr(registry, "_loaded", False)
    with pytest.raises(ImportError, match=r"plug-in 'bad-model' \(badpkg.model.*boom"):
        registry.model_names()


@pytest.mark.slow  # ~4 s
def test_build_uses_the_config_and_its_dataset_sections():
    import infozoo
    from infozoo.settings import config as config_lib
    raw = config_lib.load_zoo("pie")
    digits = raw["datasets"]["digits"]["model_args"]
    m = infozoo.build("pie", input_shape=(8, 8, 1), eps=0.316)
    assert m.image_shape == (8, 8, 1) and m.hp["eps"] == 0.316
    for k, v in digits.items():
        assert m.hp[k] == v, k
    cfg = infozoo.config_for("pie", dataset="cifar10")
    assert cfg.input_shape == (32, 32, 3)
    assert list(cfg.model_args["linear_dims"]) == raw["datasets"]["cifar10"]["model_args"][
        "linear_dims"]
    with pytest.raises(ValueError, match="unknown config key 'model_args.epz'"):
        infozoo.build("pie", epz=0.1)
    with pytest.raises(ValueError, match="must be > 0"):
        infozoo.build("pie", dataset="digits", eps=-1.0)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        infozoo.build("nope")


def test_fit_refuses_a_model_its_config_cannot_carry(tmp_path):
    import infozoo
    from infozoo.models import PIE
    m = PIE(input_shape=(8, 8, 1), conv_blocks=1, linear_dims=[4], couplings_per_block=1,
            reflections=1, conv_hidden=4, linear_hidden=8, g_hidden=4, seed=7)
    with pytest.raises(ValueError, match=r"seed=7 \(config gives 0\)"):
        infozoo.fit(m, run_dir=str(tmp_path / "r"), epochs=1)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # trains
def test_training_run_writes_hparams_config_text_and_test_scalars(tmp_path):
    """A real (tiny) training run: its event files hold the HParams session start and end,
    the resolved config as text, and the final test metrics as scalars."""
    import json

    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    import infozoo
    run = tmp_path / "run"
    metrics = infozoo.fit("classic", run_dir=str(run), dataset="digits", bottleneck=4,
                          hidden=[16], epochs=1, train_size=64, batch_size=32, verbose=0)
    events = {}
    for f in glob.glob(str(run / "logs" / "events.*")):
        for e in tf.compat.v1.train.summary_iterator(f):
            for v in e.summary.value:
                events.setdefault(v.tag, []).append((e.step, v))
    start = plugin_data_pb2.HParamsPluginData.FromString(
        events["_hparams_/session_start_info"][0][1].metadata.plugin_data.content)
    hps = start.session_start_info.hparams
    assert hps["model_args.bottleneck"].number_value == 4
    assert hps["data.dataset"].string_value == "digits"
    assert hps["train.epochs"].number_value == 1
    end = plugin_data_pb2.HParamsPluginData.FromString(
        events["_hparams_/session_end_info"][0][1].metadata.plugin_data.content)
    assert end.session_end_info.status == 1  # STATUS_SUCCESS
    text = tf.make_ndarray(events["config"][0][1].tensor).item().decode()
    assert "bottleneck: 4" in text and "dataset: digits" in text
    step, v = events["test/test_l1"][0]
    # one step convention: Keras' epoch scalars (0-based epochs), the images and the test
    # metrics after the last epoch all sit at step epochs - 1 = 0
    train_steps = {e.step for f in glob.glob(str(run / "logs" / "train" / "events.*"))
                   for e in tf.compat.v1.train.summary_iterator(f)
                   if any(v.tag.startswith("epoch_") for v in e.summary.value)}
    image_steps = {e.step for f in glob.glob(str(run / "logs" / "images" / "events.*"))
                   for e in tf.compat.v1.train.summary_iterator(f) if e.summary.value}
    assert train_steps == {0} and image_steps == {0}, (train_steps, image_steps)
    assert step == 0 and tf.make_ndarray(v.tensor) == pytest.approx(metrics["test_l1"], rel=1e-6)
    assert json.loads((run / "metrics.json").read_text())["test_l1"] == metrics["test_l1"]
    assert "run/params" in events


def test_batched_slices_counts_and_dicts():
    from infozoo.util.batching import batched
    x = np.arange(10.0)
    np.testing.assert_array_equal(batched(lambda b: 2 * b, x, 3), 2 * x)
    sizes = []
    out = batched(lambda n: sizes.append(n) or np.zeros((n, 2)), 7, 3)
    assert sizes == [3, 3, 1] and out.shape == (7, 2)
    d = batched(lambda b: {"a": b, "b": -b}, x, 4)
    np.testing.assert_array_equal(d["b"], -x)
    with pytest.raises(ValueError, match="empty input"):
        batched(lambda b: b, x[:0], 4)
