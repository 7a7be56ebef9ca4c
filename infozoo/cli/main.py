"""The ``infozoo`` command line. TensorFlow is imported only inside commands that need it."""
import json
import os
import sys
import time

import click

from infozoo.settings import config as config_lib
from infozoo.util.io import atomic_write

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from infozoo.settings.run import RUN_SECTIONS

#: flags of `infozoo train MODEL` that are not settings; a model's flag may not take them
RESERVED = {"--run-dir", "--set", "--dry-run", "--quiet", "--help", "--local-workers"}


def _fail(msg):
    click.echo(f"Error: {msg}", err=True)
    sys.exit(2)


def _zoo_names():
    try:
        return config_lib.zoo_names()
    except config_lib.ConfigError as e:
        _fail(str(e))


def _describe(rule):
    """A number rule as click writes its ranges (``x>=1``, ``x>0``, ``0<=x<=1``)."""
    lo, hi = rule.get("min"), rule.get("max")
    if lo is not None and hi is not None:
        return f"{lo}{'<' if rule.get('exclusive_min') else '<='}x<={hi}"
    if lo is not None:
        return f"x{'>' if rule.get('exclusive_min') else '>='}{lo}"
    return f"x<={hi}" if hi is not None else ""


class ListParam(click.ParamType):
    """A list setting's flag: items separated by commas (``--lr-drops 5,8``; ``[5, 8]`` as
    ``--set`` writes it; an empty value, ``--lr-drops ""``, for none)."""

    name = "list"

    def get_metavar(self, param, ctx=None):
        return "A,B,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            return config_lib.parse_list(value)
        except config_lib.ConfigError as e:
            self.fail(str(e), param, ctx)


class SettingOption(click.Option):
    """The flag of one declared setting ``key`` (``"train.lr"``, ``"model_args.eps"``):
    click converts to the declared type, then the declared rule checks the value
    (:func:`infozoo.settings.hparams.check_value`, as for ``--set`` and the zoo YAML)."""

    def __init__(self, key, typ, rule, help_text, shown="", nullable=False, directory=False):
        self.key = key
        name = key.split(".", 1)[1]
        flag = "--" + name.replace("_", "-")
        if flag in RESERVED:
            raise RuntimeError(f"setting {key!r} clashes with the flag {flag}")
        rng = _describe(rule) if typ in ("int", "float") and "choices" not in rule else ""
        text = " ".join(t for t in (help_text, shown, f"[{rng}]" if rng else "") if t)
        if typ == "bool":
            flag, ptype = f"{flag}/--no-{flag[2:]}", None
        elif "choices" in rule and typ == "str":
            ptype = click.Choice([str(c) for c in rule["choices"]])
        elif typ == "list":
            ptype = ListParam()
        elif directory:
            ptype = click.Path(file_okay=False)
        else:
            ptype = {"int": int, "float": float}.get(typ, str)

        def check(ctx, param, value):
            if value is None:
                return None
            try:
                return config_lib.check_value(key, value, typ, rule, nullable,
                                              error=click.BadParameter)
            except click.BadParameter as e:
                raise click.BadParameter(e.message.removeprefix("bad value for "), ctx,
                                         param) from None
        super().__init__([flag, key.replace(".", "__")], type=ptype, default=None, help=text,
                         callback=check)


def _per_dataset(raw, section, key):
    """``"; digits: 0.2"``: the values a dataset section of the zoo config sets instead."""
    vals = [f"{ds}: {sec.get(section, {})[key]}" for ds, sec in raw.get("datasets", {}).items()
            if key in sec.get(section, {})]
    return "; " + "; ".join(vals) if vals else ""


def _shown(raw, section, key, value):
    """``[config: 0.1; digits: 0.2]``: the zoo config's value (nothing for an unset one)."""
    if value is None:
        return ""
    return f"[config: {value}{_per_dataset(raw, section, key)}]"


def setting_options(name, raw):
    """``(run flags, model flags)`` of zoo config ``name`` (``raw``, its YAML): the data and
    train settings declared with ``flag=True`` (:mod:`infozoo.settings.run`), and the
    model's hyperparameters (:func:`infozoo.settings.config.flag_specs`)."""
    run = []
    for section, decl in RUN_SECTIONS.items():
        values = {**decl.defaults(), **(raw.get(section) or {})}
        run += [SettingOption(f"{section}.{p.name}", p.type, p.rule, p.help,
                              _shown(raw, section, p.name, values[p.name]), p.nullable,
                              p.directory)
                for p in decl if p.flag]
    model = [SettingOption(f"model_args.{key}", typ, rule, help_text,
                           _shown(raw, "model_args", key, default))
             for key, default, help_text, rule, typ in config_lib.flag_specs(name)]
    taken = {o for p in run for o in p.opts + p.secondary_opts}
    for p in model:
        if taken & set(p.opts + p.secondary_opts):
            raise RuntimeError(f"model arg {p.key.split('.', 1)[1]!r} of {name} clashes with "
                               f"the flag {p.opts[0]} of a data or train setting")
    return run, model


class TrainGroup(click.Group):
    """``infozoo train MODEL``: one subcommand per zoo config, its flags from the declared
    settings (:func:`setting_options`), their shown values from the zoo config."""

    def list_commands(self, ctx):
        return _zoo_names()

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and name not in _zoo_names():
            _fail(f"unknown model {name!r}; available: {', '.join(_zoo_names())}")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx, name):
        if name not in _zoo_names():
            return None
        try:
            raw = config_lib.load_zoo(name)
        except config_lib.ConfigError as e:
            _fail(str(e))
        params = [
            click.Option(["--run-dir"], type=click.Path(file_okay=False), default=None,
                         help="run directory (default runs/<model>-<time>); an existing one "
                              "resumes where it stopped"),
            click.Option(["--set", "set_items"], multiple=True, metavar="KEY=VALUE",
                         help="override any config key, e.g. --set train.lr_drops=[5]"),
            click.Option(["--dry-run"], is_flag=True, help="print the resolved config and exit"),
            click.Option(["--quiet"], is_flag=True, help="one line per epoch instead of a progress bar"),
            click.Option(["--local-workers"], type=click.IntRange(1), default=None,
                         help="with --strategy multiworker: start N workers on 127.0.0.1 "
                              "(a cluster on this machine), prefix their output, stop all if "
                              "one dies"),
        ]
        try:
            run_flags, model_flags = setting_options(name, raw)
        except config_lib.ConfigError as e:
            _fail(str(e))
        params = run_flags + params + model_flags
        keys = {p.name: p.key for p in run_flags + model_flags}

        def callback(run_dir, set_items, dry_run, quiet, local_workers, **kw):
            overrides = {}
            try:
                overrides.update(config_lib.parse_set(set_items))
                overrides.update({keys[k]: v for k, v in kw.items() if v is not None})
                cfg = config_lib.resolve(name, overrides)
            except config_lib.ConfigError as e:
                _fail(str(e))
            if dry_run:
                click.echo(config_lib.dump(cfg), nl=False)
                return
            run_dir = run_dir or os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
            if cfg.train.strategy == "multiworker" and not local_workers:
                from infozoo.distribute import cluster
                try:
                    cluster.check_tf_config()
                except ValueError as e:
                    _fail(str(e))
            if local_workers:
                if cfg.train.strategy != "multiworker":
                    _fail("--local-workers needs --strategy multiworker")
                from infozoo.distribute import launcher
                sys.exit(launcher.launch_from_argv(sys.argv[1:], local_workers, run_dir))
            _train(name, overrides, run_dir, 2 if quiet else 1)

        desc = raw.get("description", "")
        return click.Command(name, params=params, callback=callback,
                             help=f"Train {name}: {desc}.\n\nModel flags override "
                                  f"zoo_configs/{name}.yaml; --set reaches every key.")


def _tf():
    from infozoo.util.quiet import import_tensorflow
    import_tensorflow()


PRESET_OPTION = click.option("--preset", default=None,
                             help="a trained model by name instead of RUN_DIR (infozoo presets)")


def _source(run_dir, preset, keep=False):
    """The run directory to read: RUN_DIR, or preset PRESET written as a run into a new
    temporary directory (removed at exit unless ``keep``)."""
    if (run_dir is None) == (preset is None):
        _fail("give a RUN_DIR or --preset NAME (infozoo presets lists the names), not both")
    if preset is None:
        return run_dir
    import atexit
    import shutil
    import tempfile
    from infozoo import presets
    tmp = tempfile.mkdtemp(prefix=f"infozoo-preset-{preset}-")
    if not keep:
        atexit.register(shutil.rmtree, tmp, True)
    try:
        return presets.run_view(preset, tmp)
    except presets.PresetError as e:
        _fail(str(e))


def _train(name, overrides, run_dir, verbose):
    _tf()
    from infozoo.data import loaders as data_lib
    from infozoo.run import train
    try:
        train.run(name, overrides, run_dir, verbose=verbose)
    except (config_lib.ConfigError, data_lib.DatasetUnavailable) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        from infozoo.run import rundir as runs
        try:
            state = runs.checkpoint_state(run_dir)
        except RuntimeError:
            state = None
        # 1-based epoch, as "Resuming ... at epoch E, step S" prints it (train.prepare)
        where = (f"its last checkpoint (epoch {state.epoch + 1}, step {state.step})"
                 if state is not None else "the start (no checkpoint was written yet)")
        click.echo(f"\nInterrupted. Run the same command again (with --run-dir {run_dir}) to "
                   f"resume from {where}.", err=True)
        sys.exit(130)
    except train.TrainingDiverged as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    except (RuntimeError, ValueError) as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="infozoo")
def main():
    """infozoo: invertible and information-theoretic autoencoders.

    \b
    infozoo list                          models and their zoo configs
    infozoo train pie --eps 0.1           train (infozoo train MODEL --help for flags)
    infozoo eval runs/<run> --json        test metrics
    infozoo export runs/<run> --out DIR   SavedModel with named endpoints
    """


main.add_command(TrainGroup("train", help="Train a model: infozoo train MODEL [flags]."))


@main.command("list")
def list_cmd():
    """Models and their zoo configs (default dataset, and the sections for other datasets).
    A broken zoo config is listed as such, its error goes to stderr, and the exit code is 2."""
    broken = []
    for name in _zoo_names():
        try:
            raw = config_lib.load_zoo(name)
        except config_lib.ConfigError as e:
            click.echo(f"{name:14s} BROKEN (see the error below)")
            broken.append(str(e))
            continue
        ds = raw.get("data", {}).get("dataset", config_lib.DATA["dataset"].default)
        other = sorted(set(raw.get("datasets", {})) - {ds})
        also = f" (also: {', '.join(other)})" if other else ""
        click.echo(f"{name:14s} model={raw.get('model', name):9s} dataset={ds}{also}  "
                   f"{raw.get('description', '')}")
    click.echo("\nA TFDS dataset that cannot be downloaded falls back to digits with digits' "
               "section; `infozoo train MODEL --help` shows both values.")
    for msg in broken:
        click.echo(f"Error: {msg}", err=True)
    if broken:
        sys.exit(2)


@main.group("presets", invoke_without_command=True)
@click.pass_context
def presets_cmd(ctx):
    """Trained models by name, with their recorded test figures and budgets
    (infozoo.from_preset(NAME); eval, probe and export take --preset NAME)."""
    if ctx.invoked_subcommand is not None:
        return
    from infozoo import presets
    names = presets.available()
    if not names:
        click.echo("no presets installed")
    for n in names:
        try:
            click.echo(presets.summary_line(n))
        except presets.PresetError as e:
            click.echo(f"{n:28s} BROKEN: {e}")


@presets_cmd.command("make")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@click.option("--budget", required=True,
              help="what the model was trained on and for how long, against the paper's budget")
@click.option("--out", "out_root", type=click.Path(file_okay=False), default=None,
              help="folder to write NAME/ into [the package's presets folder, which ships]")
@click.option("--commit", default=None, help="commit of the code that trained the run "
              "[the one its segments.jsonl records]")
def presets_make_cmd(run_dir, name, budget, out_root, commit):
    """Turn the finished run RUN_DIR into preset NAME (config.yaml, model.weights.h5,
    metrics.json, metadata.json with the command, commit, budget and checksums)."""
    _tf()
    from infozoo import presets
    out_root = out_root or os.path.dirname(presets.__file__)
    try:
        path = presets.make(run_dir, name, out_root, budget, commit)
    except (presets.PresetError, FileNotFoundError, RuntimeError) as e:
        _fail(str(e))
    click.echo(f"preset {name} written to {path}")


@main.command("eval")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False), required=False)
@PRESET_OPTION
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="read the test set from here instead of the run's data source")
@click.option("--test-size", type=click.IntRange(2), default=None,
              help="evaluate on the first N test examples")
@click.option("--recompute-bn", is_flag=True,
              help="first set the batch-norm moving statistics to the final weights' own on "
                   "the training images (a short run's moving averages still hold much of "
                   "their initial values); the weights on disk are not changed")
def eval_cmd(run_dir, as_json, data_dir, test_size, preset, recompute_bn):
    """Test metrics of a run or a preset (reconstruction L1/MSE, every loss term, model
    extras); with --preset also the preset's recorded figures beside them."""
    _tf()
    run_dir = _source(run_dir, preset)
    from infozoo.data import loaders as data_lib
    from infozoo.evaluation import evaluate
    try:
        out = evaluate.evaluate_run(run_dir, data_dir, test_size, recompute_bn)
    except (FileNotFoundError, data_lib.DatasetUnavailable, RuntimeError, ValueError) as e:
        _fail(str(e))
    w = out["weights"]
    click.echo(f"Weights: preset {preset}" if preset else
               f"Weights: {w['source']} (epoch {w['epoch']}, step {w['step']}) {w['path']}",
               err=True)
    if preset:
        from infozoo import presets
        out.update(run_dir=None, preset=preset,
                   recorded={k: v for k, v in presets.info(preset)["metrics"].items()
                             if k.startswith("test_")})
    try:
        atomic_write(os.path.join(run_dir, "eval.json"), json.dumps(out, indent=2))
    except OSError as e:
        click.echo(f"Note: could not write {os.path.join(run_dir, 'eval.json')} "
                   f"({e.strerror or e}); the results are printed only.", err=True)
    if as_json:
        click.echo(json.dumps(out))
    else:
        for k, v in out.items():
            click.echo(f"{k:28s} {v}")


@main.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False), required=False)
@PRESET_OPTION
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="SavedModel directory to write (model.keras goes inside it too)")
def export_cmd(run_dir, out, preset):
    """Export a run as a SavedModel with endpoints encode, decode, reconstruct (, sample).

    OUT must not exist, be empty, or hold an earlier infozoo export (replaced atomically);
    nothing else is ever overwritten."""
    _tf()
    from infozoo.run import export
    run_dir = _source(run_dir, preset)
    try:
        export.check_target(out, run_dir)
        w = export.export_run(run_dir, out)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}; nothing was replaced")
    click.echo(f"SavedModel written to {out} (weights: {w['source']}, epoch {w['epoch']}, "
               f"step {w['step']})")


@main.command("probe")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False), required=False)
@PRESET_OPTION
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--samples", type=click.IntRange(2), default=512, show_default=True,
              help="probe on the first N test images")
@click.option("--estimator", "estimators", default="input-noise", show_default=True,
              help="comma-separated: input-noise (I(X; T_l) with noise added once at the "
                   "input, the per-layer figure), ksg, gaussian, flow, infonce, nwj, smile, "
                   "noisy (needs --sigma), renyi (the Renyi-alpha matrix functional, not "
                   "Shannon)")
@click.option("--sigma", type=click.FloatRange(0, min_open=True), default=None,
              help="input-noise: std of the noise added to the input, in input units "
                   "(pixels in [0, 1]; default 2.0); noisy: I(X; T + sigma Z), in units of T")
@click.option("--sigma-relative", is_flag=True,
              help="noisy: sigma in units of each layer's RMS (the same figure for T and c T)")
@click.option("--ci", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="confidence level of the bootstrap intervals")
@click.option("--n-boot", type=click.IntRange(10), default=None,
              help="bootstrap resamples [1000 over per-sample terms, 100 over rows]")
@click.option("--strategy", default="default",
              type=click.Choice([s for s in RUN_SECTIONS["train"]["strategy"].choices
                                 if s != "multiworker"]),
              show_default=True, help="tf.distribute strategy: mirrored uses every GPU there is")
@click.option("--cpu-replicas", type=click.IntRange(1), default=1, show_default=True,
              help="with --strategy mirrored and no GPU: split the CPU into N logical devices")
@click.option("--alpha", type=click.FloatRange(0, min_open=True), default=1.01,
              show_default=True, help="order of the Renyi entropy")
@click.option("--gamma", default="median", show_default=True,
              help="kernel width sigma = gamma * N^(-1/(4+d)): 'median' (median pairwise "
                   "distance of each layer) or a number")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="read the test set from here instead of the run's data source")
@click.option("--format", "formats", type=click.Choice(["png", "pdf", "svg"]), multiple=True,
              help="figure formats (repeat for several; default png)")
@click.option("--first-order-rows", type=click.IntRange(0), default=16, show_default=True,
              help="check input-noise's first-order pushforward on this many test images "
                   "(256 noise draws each) and warn where it does not hold; 0: no check")
@click.option("--dropped-entropy", type=click.Choice(["flow", "gaussian", "none"]),
              default="flow", show_default=True,
              help="upper bound of h(dropped | kept) at a zero-padding: conditional flow "
                   "(with the Gaussian baseline), the Gaussian alone, or none")
def probe_cmd(run_dir, as_json, samples, estimators, sigma, sigma_relative, ci, n_boot,
              strategy, cpu_replicas, alpha, gamma, data_dir, formats, preset, dropped_entropy,
              first_order_rows):
    """Per-layer entropy and information of a run (docs/information.md).

    Writes RUN_DIR/probe.json, RUN_DIR/images/probe_information.png (Shannon figures with
    intervals and ceilings) and, with renyi, probe_information_plane.png and
    probe_entropy_change.png (matplotlib; --format pdf/svg for more).
    """
    _tf()
    from infozoo.data import loaders as data_lib
    from infozoo.probe.estimators import parse_names
    from infozoo.probe.probe import format_table
    from infozoo.probe.renyi import check_gamma
    from infozoo.probe.run import run_probe
    from infozoo.probe.settings import ProbeSettings
    run_dir = _source(run_dir, preset, keep=True)  # a preset's probe.json and figures stay
    try:
        gamma = check_gamma(gamma)
        names = parse_names(estimators)
        if "noisy" in names and sigma is None:
            raise ValueError("the noisy estimator needs --sigma (the noise scale of "
                             "I(X; T + sigma Z), in the units of each layer), e.g. --sigma 0.1")
        if sigma_relative and "noisy" not in names:
            raise ValueError("--sigma-relative is an option of the noisy estimator: add "
                             "noisy to --estimator")
        settings = ProbeSettings(
            estimators=names, sigma=sigma, ci=ci, n_boot=n_boot, alpha=alpha, gamma=gamma,
            options={"noisy": {"relative": True}} if sigma_relative else None,
            dropped_entropy=dropped_entropy)
        out = run_probe(run_dir, settings, samples=samples, strategy=strategy,
                        cpu_replicas=cpu_replicas, data_dir=data_dir,
                        first_order_rows=first_order_rows,
                        formats=formats or ("png",))
    except (FileNotFoundError, data_lib.DatasetUnavailable, RuntimeError, ValueError) as e:
        _fail(str(e))
    w = out["weights"]
    click.echo(f"Weights: {w['source']} (epoch {w['epoch']}, step {w['step']}) {w['path']}",
               err=True)
    if out.get("not_written"):
        click.echo(f"Note: {out['not_written']}.", err=True)
    if as_json:
        click.echo(json.dumps(out))
    else:
        click.echo(format_table(out))
        click.echo("Figures: " + (", ".join(out["files"]) or "none"))
    if preset:
        click.echo(f"Preset {preset} was read as a run in {run_dir} (probe.json and figures "
                   f"stay there)", err=True)


@main.command("sweep", context_settings={"ignore_unknown_options": True,
                                         "allow_extra_args": True})
@click.argument("model")
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2,...",
              help="a swept config key and its values (repeatable: the cross product runs)")
@click.option("--seeds", type=click.IntRange(1), default=1, show_default=True,
              help="seeds 0..N-1 per setting")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="runs at once on this machine")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="sweep directory (default sweeps/<model>-<time>); an existing one resumes")
@click.option("--metric", "metrics", multiple=True,
              help="metrics to plot (default: test_loss, test_l1, test_mse)")
@click.option("--dry-run", is_flag=True, help="print the runs' commands and exit")
@click.pass_context
def sweep_cmd(ctx, model, grid, seeds, jobs, out, metrics, dry_run):
    """Train MODEL over a grid of settings and seeds; any `infozoo train` flag passes through.

    \b
    infozoo sweep inn --grid bottleneck=8,16,32 --seeds 3 --jobs 2 --epochs 5 --dataset digits
    Writes OUT/commands.txt (one `infozoo train` per run, for a cluster scheduler),
    OUT/<setting>/seed=<s>/ run directories, OUT/summary.csv (mean, std, n, 95 % interval)
    and OUT/plots/<metric>.png. Running it again skips finished runs and resumes the others.
    """
    from infozoo.run import sweep
    if model not in _zoo_names():
        _fail(f"unknown model {model!r}; available: {', '.join(_zoo_names())}")
    bad = [a for a in ctx.args if a in ("--seed", "--run-dir", "--dry-run")]
    if bad:
        _fail(f"{bad[0]} is set by the sweep itself: use --seeds and --out")
    try:
        runs, failed, _ = sweep.sweep(model, grid, seeds, jobs, out, ctx.args, metrics,
                                      dry_run, echo=click.echo, check=_train_problem)
    except config_lib.ConfigError as e:
        _fail(str(e))
    if dry_run:
        return
    out_dir = os.path.dirname(os.path.dirname(runs[0]["run_dir"]))
    click.echo(f"Summary: {os.path.join(out_dir, 'summary.csv')}; plots in "
               f"{os.path.join(out_dir, 'plots')}")
    if failed:
        click.echo("Failed runs (logs in " + os.path.join(out_dir, "logs") + "): " +
                   ", ".join(f"{k} (exit {v})" for k, v in failed.items()), err=True)
        sys.exit(1)


def _train_problem(argv):
    """What ``infozoo <argv> --dry-run`` refuses (its last error line), or None: a sweep
    checks every run's settings this way before it starts any."""
    from click.testing import CliRunner
    res = CliRunner().invoke(main, [*argv, "--dry-run"])
    if res.exit_code == 0:
        return None
    msg = (res.output or str(res.exception)).strip().splitlines()
    last = msg[-1] if msg else "error"
    return last[len("Error: "):] if last.startswith("Error: ") else last


@main.command("bench")
@click.option("--models", default=None, help="comma-separated zoo configs (default: all)")
@click.option("--batch-size", type=click.IntRange(2), default=128, show_default=True)
@click.option("--windows", type=click.IntRange(1), default=5, show_default=True)
@click.option("--steps", type=click.IntRange(1), default=3, show_default=True)
@click.option("--precisions", default="float32,mixed_bfloat16", show_default=True,
              help="comma-separated: float32, mixed_bfloat16, mixed_float16, auto")
@click.option("--jit", "jit", default="off,on", show_default=True,
              help="jit_compile settings to time: off, on or off,on")
@click.option("--pipeline", is_flag=True, help="also time the training input pipeline alone")
def bench_cmd(models, batch_size, windows, steps, precisions, jit, pipeline):
    """Training throughput (images/s) per model on MNIST-shaped data, per precision, jit
    on and off."""
    from infozoo.run.precision import PRECISIONS
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    unknown = sorted(set(names or ()) - set(_zoo_names()))
    if unknown or names == []:
        _fail(f"unknown model(s) {', '.join(unknown) or repr(models)} for --models; "
              f"available: {', '.join(_zoo_names())}")
    precs = [p.strip() for p in precisions.split(",") if p.strip()]
    if not precs or set(precs) - set(PRECISIONS):
        _fail(f"--precisions {precisions!r}: give a comma-separated list of "
              f"{', '.join(PRECISIONS)}")
    jits = [j.strip() for j in jit.split(",") if j.strip()]
    if not jits or set(jits) - {"off", "on"}:
        _fail(f"--jit {jit!r}: give off, on or off,on")
    _tf()
    from infozoo.run import bench
    if pipeline:
        bench.pipeline(batch_size)
    bench.run(names, batch_size, windows, steps, precisions=precs,
              jits=[j == "on" for j in jits])


if __name__ == "__main__":
    main()
