"""RunConfig (infozoo/settings/run_config.py): a frozen record whose dict form is config.yaml's,
byte for byte; changes are new records, checked again; older configs read back filled."""
import copy
import json
import os
import pickle
import warnings

import pytest
import yaml

from conftest import REPO
from infozoo.settings import config
from infozoo.settings.run import DATA, TRAIN
from infozoo.settings.run_config import ConfigError, DataSettings, RunConfig, TrainSettings

OLD_RUN = os.path.join(REPO, "tests", "data", "run-799aeb7-vimae")
PRESETS = os.path.join(REPO, "infozoo", "presets")


def _no_tuples(v):
    if isinstance(v, tuple):
        return False
    if isinstance(v, dict):
        return all(_no_tuples(i) for i in v.values())
    if isinstance(v, list):
        return all(_no_tuples(i) for i in v)
    return True


def _without(d, keys):
    """``d`` (a config dict) without the ``section.key`` entries ``keys``."""
    d = copy.deepcopy(d)
    for k in keys:
        section, key = k.split(".", 1)
        del d[section][key]
    return d


def test_every_resolved_config_round_trips_byte_for_byte(tmp_path):
    path = str(tmp_path / "config.yaml")
    n = 0
    for name in config.zoo_names():
        for over in ({}, {"data.dataset": "digits", "data.train_size": 64},
                     {"data.dataset": "toy25", "train.lr_drops": [2, 3]}):
            try:
                cfg = config.resolve(name, over)
            except ConfigError:
                continue  # an entry that does not take that dataset
            for c in (cfg, cfg.replace(input_shape=(8, 8, 1))):
                d = c.to_dict()
                assert _no_tuples(d) and list(d)[:5] == ["zoo", "model", "data", "model_args",
                                                         "train"]
                text = config.dump(c)
                assert text == yaml.safe_dump(d, sort_keys=False, default_flow_style=None)
                config.save(c, path)
                back = config.load(path)
                assert back == c and back.filled == () and config.dump(back) == text, name
                assert RunConfig.from_dict(yaml.safe_load(text)).to_dict() == d
                assert json.dumps(back.to_dict()) == json.dumps(yaml.safe_load(text))
                n += 1
    assert n >= 2 * len(config.zoo_names())


def test_an_older_config_reads_back_filled_and_its_own_keys_unchanged():
    """The run of tests/data (trained by 799aeb7) lacks model_args.min_sigma; two presets lack
    train.evaluate and train.export. Each reads as its file plus exactly those keys, at their
    declared defaults, which ``filled`` names; without them the dump is the file's bytes."""
    files = [os.path.join(OLD_RUN, "config.yaml")] + sorted(
        os.path.join(PRESETS, p, "config.yaml") for p in os.listdir(PRESETS)
        if os.path.isfile(os.path.join(PRESETS, p, "config.yaml")))
    seen = {}
    for f in files:
        text = open(f).read()
        cfg = config.load(f)
        seen[os.path.basename(os.path.dirname(f))] = cfg.filled
        d = cfg.to_dict()
        for k in cfg.filled:
            section, key = k.split(".", 1)
            decl = {"data": DATA, "train": TRAIN}.get(section)
            want = decl[key].default if decl else d[section][key]
            assert key not in yaml.safe_load(text)[section] and d[section][key] == want
        plain = _without(d, cfg.filled)
        assert plain == yaml.safe_load(text)
        assert yaml.safe_dump(plain, sort_keys=False, default_flow_style=None) == text, f
    assert seen["run-799aeb7-vimae"] == ("model_args.min_sigma",)
    assert seen["ipae-toy25"] == ("train.evaluate", "train.export")
    assert config.load(os.path.join(OLD_RUN, "config.yaml")).model_args["min_sigma"] == 1e-4


def test_a_run_config_cannot_be_changed_in_place():
    cfg = config.resolve("classic-deep")
    with pytest.raises(AttributeError):
        cfg.zoo = "inn"
    with pytest.raises(AttributeError):
        cfg.train.lr = 1.0
    with pytest.raises(TypeError):
        cfg.model_args["bottleneck"] = 3
    with pytest.raises(AttributeError):
        cfg.model_args.update  # noqa: B018  (a read-only mapping has no update)
    assert cfg.model_args["hidden"] == (1024,) * 4 and cfg.train.lr_drops[:2] == (10, 20)
    d = cfg.to_dict()  # a copy: changing it leaves the record as it was
    d["model_args"]["hidden"].append(1)
    d["train"]["lr"] = 9.0
    assert cfg.model_args["hidden"] == (1024,) * 4 and cfg.train.lr == config.resolve(
        "classic-deep").train.lr
    with pytest.raises(TypeError, match="not iterable"):
        list(cfg)
    assert pickle.loads(pickle.dumps(cfg)) == cfg == copy.deepcopy(cfg)


def test_the_sections_are_the_declarations():
    assert [f for f in DataSettings.__dataclass_fields__] == DATA.names()
    assert [f for f in TrainSettings.__dataclass_fields__] == TRAIN.names()
    assert TrainSettings().to_dict() == TRAIN.defaults() and DataSettings().to_dict() == \
        DATA.defaults()
    cfg = config.resolve("inn")
    with pytest.raises(AttributeError, match=r"train has no setting 'learning_rate'; settings "
                                             r"of train: epochs, batch_size, lr,"):
        cfg.train.learning_rate  # noqa: B018
    with pytest.raises(AttributeError, match=r"data has no setting 'set'; settings of data: "
                                             r"dataset, data_dir,"):
        cfg.data.set  # noqa: B018


def test_changes_are_new_records_checked_again():
    cfg = config.resolve("inn")
    bf16 = cfg.with_train(precision="mixed_bfloat16")
    assert bf16.train.precision == "mixed_bfloat16" and cfg.train.precision == "float32"
    assert bf16.with_train(precision="float32") == cfg and bf16 != cfg
    assert cfg.with_data(dataset="digits").data.dataset == "digits"
    assert cfg.replace(input_shape=[8, 8, 1]).input_shape == (8, 8, 1)
    assert cfg.with_train(lr=1).train.lr == 1.0 and isinstance(cfg.with_train(lr=1).train.lr,
                                                                 float)
    for change, match in [
            (lambda: cfg.with_train(lr=-1.0), r"bad value for train.lr: -1.0; must be > 0"),
            (lambda: cfg.with_train(precision="half"), r"train.precision: 'half'; allowed: "
                                                       r"float32, mixed_bfloat16"),
            (lambda: cfg.with_train(lr_drops=[5, 3]), r"train.lr_drops: \[5, 3\]; must be "
                                                      r"strictly increasing"),
            (lambda: cfg.with_train(learning_rate=1e-4), r"unknown config key "
                                                         r"train.learning_rate; keys of train"),
            (lambda: cfg.with_data(train_size=1), r"data.train_size: 1; must be >= 2"),
            (lambda: cfg.replace(input_shape=(8, 0, 1)), r"bad value for input_shape"),
            (lambda: cfg.replace(model_args={**cfg.model_args, "bottleneck": 0}),
             r"model_args.bottleneck: 0; must be >= 1"),
            (lambda: cfg.replace(model_args={"bottlenek": 3}), r"model_args bottlenek: not a "
                                                               r"hyperparameter of model 'inn'"),
            (lambda: cfg.replace(shape=(1,)), r"unknown run config key 'shape'"),
            (lambda: cfg.replace(data={"dataset": "digits", "size": 3}),
             r"unknown config key data.size")]:
        with pytest.raises(ConfigError, match=match):
            change()


def test_from_dict_refuses_what_is_not_a_run_config():
    d = config.resolve("inn").to_dict()
    for bad, match in [({**d, "extra": 1}, "unknown key.*extra"),
                       ({k: v for k, v in d.items() if k != "train"}, "no train"),
                       ({**d, "train": {**d["train"], "epoch": 3}}, "unknown config key "
                                                                   "train.epoch"),
                       ({**d, "data": [1]}, "data must be a mapping"),
                       ({**d, "train": {**d["train"], "seed": -1}}, "train.seed: -1")]:
        with pytest.raises(ConfigError, match=match):
            RunConfig.from_dict(bad)


def test_dict_access_is_deprecated_for_one_release():
    """``infozoo.config_for`` returned a dict: its readers get one release's warning."""
    import infozoo
    cfg = infozoo.config_for("pie", dataset="digits")
    with pytest.warns(DeprecationWarning, match=r"RunConfig\['train'\] is deprecated"):
        assert cfg["train"]["lr"] == cfg.train.lr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert cfg["input_shape"] == [8, 8, 1] and cfg["model_args"] == cfg.to_dict()[
            "model_args"]


def test_infozoo_itself_reads_no_config_as_a_dict(tmp_path):
    """The run's own readers (factory, optimizer, lr schedule, TensorBoard HParams, resume
    check, segment record) use the attributes: with the deprecation an error, they work."""
    from infozoo.run import factory, rundir, tensorboard
    from infozoo.run.train import lr_at
    cfg = config.resolve("classic", {"data.dataset": "digits", "hidden": [16],
                                     "train.lr_drops": [2]}).replace(input_shape=(8, 8, 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", r"RunConfig\[", DeprecationWarning)
        model = factory.compile_model(factory.build_model(cfg, cfg.input_shape), cfg)
        assert model.count_params_trainable() > 0
        assert [lr_at(cfg, e) for e in range(3)] == pytest.approx([1e-3, 1e-4, 1e-4])
        hp = tensorboard.hparams_of(cfg)
        assert hp["train.lr_drops"] == "[2]" and hp["input_shape"] == "[8, 8, 1]"
        rundir.record_segment(str(tmp_path), cfg, 0, 0, {})
        old = rundir.previous_config(str(tmp_path))
        assert old == cfg and rundir.check_resume(old, cfg.with_train(epochs=3),
                                                  str(tmp_path)) == {"train.epochs": (cfg.train.epochs, 3)}
    seg = json.loads((tmp_path / "segments.jsonl").read_text())
    assert seg["config"] == cfg.to_dict() and (tmp_path / "config.yaml").read_text() == \
        config.dump(cfg)
