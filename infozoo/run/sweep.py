"""``infozoo sweep``: a grid of ordinary ``infozoo train`` runs, resumable, aggregated.

Every run is one plain ``infozoo train MODEL ... --run-dir OUT/<setting>/seed=<s>``
command, written to ``OUT/commands.txt`` so a cluster scheduler (a SLURM array, ...) can
run them instead of ``--jobs``. Finished runs (``metrics.json`` present) are skipped,
interrupted ones resume (the usual run-directory resume), a failed run does not stop the
others. A sweep can be extended: the same model and flags with more seeds or more values
of a swept key (a superset of the old grid) keep and skip the finished runs.

``OUT/summary.csv`` holds, per setting and metric (the test and training figures of
``metrics.json``; run facts such as ``epochs``, ``params`` or ``weights_step`` are left out),
mean, standard deviation, n and a 95 % interval; ``OUT/runs.csv`` one row per run (seed)
with every value of its ``metrics.json``. Intervals (``INTERVALS``): with n < 3 seeds there
is none (``ci_note`` says so: two seeds give a Student-t factor of 12.7, and intervals such
as ``wall_time_s [-2.25, 6.65]``); from n = 3 a Student-t interval on the mean, except for
a quantity positive in every run whose t interval would reach 0 or below: its interval is
the t interval of the log values, mapped back (the geometric mean's, ``ci_note`` says so),
so it stays positive. ``OUT/plots/<metric>.{png,pdf,svg}`` draw each metric against the
first swept variable (every seed a point, the mean with its interval, categorical or log
axes as the values ask, model and n in the title); every run logs its HParams to
TensorBoard (``tensorboard --logdir OUT``).
"""
import csv
import itertools
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time

from infozoo.settings import config as config_lib
from infozoo.util.io import atomic_open, atomic_write

DEFAULT_METRICS = ("test_loss", "test_l1", "test_mse")
#: values of metrics.json that describe a run rather than measure it (runs.csv only)
RUN_FACTS = ("epochs", "params", "replicas", "test_examples", "train_size", "weights_epoch",
             "weights_step", "weights_global_step")
#: the fewest seeds for an interval
MIN_SEEDS_FOR_INTERVAL = 3
INTERVALS = (f"none below n = {MIN_SEEDS_FOR_INTERVAL}; Student-t 95 % on the mean; for a "
             f"positive quantity whose t interval reaches 0, the t interval of its logs")


class SweepError(config_lib.ConfigError):
    """A bad grid or sweep option; the message says what to do."""


def split_values(text):
    """``"8,16,[64,32]"`` -> ``["8", "16", "[64,32]"]``: commas inside brackets stay."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{("
        depth -= ch in "]})"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    if depth or any(v == "" for v in out):
        raise SweepError(f"--grid values {text!r}: write KEY=V1,V2,... with no empty value "
                         f"and balanced brackets")
    return out


def parse_grid(items):
    """``["bottleneck=8,16", "lr=1e-3"]`` -> ``[("bottleneck", ["8", "16"]), ...]``."""
    grid, seen = [], set()
    for item in items:
        if "=" not in item:
            raise SweepError(f"--grid {item!r}: write KEY=V1,V2,... (e.g. --grid "
                             f"bottleneck=8,16,32)")
        key, values = item.split("=", 1)
        key = key.strip()
        if not key or key in seen:
            raise SweepError(f"--grid {item!r}: {'empty' if not key else 'repeated'} key")
        if key in ("seed", "train.seed"):
            raise SweepError("--grid seed=...: use --seeds N (seeds 0..N-1) instead")
        seen.add(key)
        vals = split_values(values)
        twice = sorted({v for v in vals if vals.count(v) > 1})
        if twice:
            raise SweepError(f"--grid {item!r}: {', '.join(twice)} given more than once; "
                             f"each value runs once (use --seeds N for repeats)")
        grid.append((key, vals))
    return grid


def _slug(text):
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_")[:80] or "x"


def plan(model, grid, seeds, out_dir, train_args):
    """The runs of the sweep: ``[{"name", "setting", "seed", "run_dir", "argv"}]``."""
    keys = [k for k, _ in grid]
    runs = []
    for values in itertools.product(*[v for _, v in grid]) if grid else [()]:
        setting = dict(zip(keys, values))
        name = ",".join(f"{_slug(k)}={_slug(v)}" for k, v in setting.items()) or "default"
        for seed in range(seeds):
            run_dir = os.path.join(out_dir, name, f"seed={seed}")
            argv = ["train", model, *train_args,
                    *[a for k, v in setting.items() for a in ("--set", f"{k}={v}")],
                    "--seed", str(seed), "--run-dir", run_dir]
            runs.append({"name": name, "setting": setting, "seed": seed, "run_dir": run_dir,
                         "argv": argv})
    return runs


def validate(runs, check):
    """``check(argv) -> None or a message`` on every run before anything starts (the CLI
    passes its own ``train --dry-run``, which resolves the config without TensorFlow): bad
    grid values or train flags are a SweepError naming the run."""
    for r in runs:
        problem = check(r["argv"])
        if problem:
            raise SweepError(f"run {r['name']} seed {r['seed']}: {problem}")


def command_line(argv):
    return "infozoo " + " ".join(shlex.quote(a) for a in argv)


def finished(run):
    return os.path.isfile(os.path.join(run["run_dir"], "metrics.json"))


def execute(runs, jobs=1, log_dir=None, echo=print):
    """Runs the unfinished runs, ``jobs`` at a time; returns ``{run name/seed: exit code}``
    for the runs that failed. Output goes to ``log_dir/<name>,seed=<s>.log``."""
    todo = [r for r in runs if not finished(r)]
    if len(todo) < len(runs):
        echo(f"{len(runs) - len(todo)} of {len(runs)} runs already finished: skipped")
    os.makedirs(log_dir, exist_ok=True)
    running, failed, done = [], {}, 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    queue = list(todo)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                r = queue.pop(0)
                log = open(os.path.join(log_dir, f"{r['name']},seed={r['seed']}.log"), "a")
                proc = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *r["argv"],
                                         "--quiet"], stdout=log, stderr=subprocess.STDOUT,
                                        env=env)
                running.append((r, proc, log))
                echo(f"started  {r['name']} seed {r['seed']}")
            time.sleep(0.2)
            for item in list(running):
                r, proc, log = item
                if proc.poll() is None:
                    continue
                log.close()
                running.remove(item)
                done += 1
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                if proc.returncode:
                    failed[f"{r['name']}/seed={r['seed']}"] = proc.returncode
                echo(f"[{done}/{len(todo)}] {status}  {r['name']} seed {r['seed']}")
    except KeyboardInterrupt:
        for r, proc, log in running:
            proc.send_signal(2)
        for r, proc, log in running:
            proc.wait()
            log.close()
        raise
    return failed


def t_quantile(n):
    """Two-sided 95 % Student-t quantile for n samples (n - 1 degrees of freedom)."""
    from scipy.stats import t
    return float(t.ppf(0.975, n - 1))


def interval(vals):
    """``(low, high, note)``: the 95 % interval of the mean of ``vals`` (see ``INTERVALS``)."""
    n = len(vals)
    if n < MIN_SEEDS_FOR_INTERVAL:
        return None, None, f"n = {n} < {MIN_SEEDS_FOR_INTERVAL}: no interval"
    mean = sum(vals) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t_quantile(n) * std / math.sqrt(n)
    if mean - half > 0 or min(vals) <= 0:
        return mean - half, mean + half, "t"
    logs = [math.log(v) for v in vals]
    lm = sum(logs) / n
    ls = math.sqrt(sum((v - lm) ** 2 for v in logs) / (n - 1))
    h = t_quantile(n) * ls / math.sqrt(n)
    return math.exp(lm - h), math.exp(lm + h), "t of logs (geometric mean)"


def run_metrics(runs):
    """``[(run, metrics.json)]`` of the finished runs."""
    out = []
    for r in runs:
        path = os.path.join(r["run_dir"], "metrics.json")
        if os.path.isfile(path):
            with open(path) as f:
                out.append((r, json.load(f)))
    return out


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def aggregate(runs):
    """``[{"setting": {...}, "metric", "mean", "std", "n", "ci_low", "ci_high", "ci_note",
    "values"}]`` over the seeds of each setting, for every numeric metric of
    ``metrics.json`` but the run facts (``RUN_FACTS``)."""
    by_setting = {}
    for r, m in run_metrics(runs):
        bucket = by_setting.setdefault(r["name"], {"setting": r["setting"], "values": {}})
        for k, v in m.items():
            if k not in RUN_FACTS and _is_number(v):
                bucket["values"].setdefault(k, []).append(float(v))
    rows = []
    for name, b in by_setting.items():
        for metric, vals in sorted(b["values"].items()):
            n = len(vals)
            mean = sum(vals) / n
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else None
            lo, hi, note = interval(vals)
            rows.append({"setting": name, **b["setting"], "metric": metric, "mean": mean,
                         "std": std, "n": n, "ci_low": lo, "ci_high": hi, "ci_note": note,
                         "values": vals})
    return rows


def write_runs(runs, grid, path):
    """``OUT/runs.csv``: one row per finished run (seed) with every value of its metrics."""
    done = run_metrics(runs)
    keys = [k for k, _ in grid]
    names = sorted({k for _, m in done for k, v in m.items() if not isinstance(v, (dict, list))})
    cols = ["setting", *keys, "seed", "run_dir", *names]
    with atomic_open(path, newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r, m in done:
            w.writerow({"setting": r["name"], **r["setting"], "seed": r["seed"],
                        "run_dir": r["run_dir"], **{k: m.get(k, "") for k in names}})


def write_summary(rows, grid, path):
    keys = [k for k, _ in grid]
    cols = ["setting", *keys, "metric", "mean", "std", "n", "ci_low", "ci_high", "ci_note"]
    with atomic_open(path, newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: "" if r.get(c) is None else r[c] for c in cols})


def _number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def write_plots(rows, grid, metrics, out_dir, model=None, dataset=None,
                formats=("png", "pdf", "svg")):
    """One figure per metric (``plots.sweep_figure``) against the first swept variable, one
    series per combination of the others, as PNG, PDF and SVG. Returns the paths."""
    from infozoo.viz import plots
    if not grid:
        return []
    xkey, xvals = grid[0]
    others = [k for k, _ in grid[1:]]
    paths = []
    for metric in metrics:
        sel = [r for r in rows if r["metric"] == metric]
        if not sel:
            continue
        series = {}
        for r in sel:
            label = ", ".join(f"{k}={r[k]}" for k in others) or metric
            entries = series.setdefault(label, [None] * len(xvals))
            entries[xvals.index(r[xkey])] = {"mean": r["mean"], "low": r["ci_low"],
                                             "high": r["ci_high"], "seeds": r["values"]}
        ns = sorted({r["n"] for r in sel})
        n = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}-{ns[-1]}"
        what = " on ".join(str(v) for v in (model, dataset) if v) or "sweep"
        note = ("95 % interval" if all(r["ci_low"] is not None for r in sel) else
                f"no interval below n = {MIN_SEEDS_FOR_INTERVAL}")
        fig = plots.sweep_figure(xvals, series, xlabel=xkey, ylabel=metric,
                                 title=f"{what}: {metric}, {n} seeds per setting\n"
                                       f"points: seeds; squares: mean ({note})")
        paths += plots.write_figure(fig, os.path.join(out_dir, "plots"), metric, formats)
    return paths


def check_out_dir(out_dir, manifest):
    """SweepError unless ``out_dir`` is new, empty, or a sweep (its ``sweep.json``): a
    user's directory or a run directory is never written into."""
    from infozoo.run import rundir as runs_lib
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise SweepError(f"--out {out_dir} is a file: give a directory")
    if not os.path.isdir(out_dir) or os.path.isfile(manifest):
        return
    entries = sorted(os.listdir(out_dir))
    if runs_lib.is_run_dir(out_dir) or runs_lib.is_ours(out_dir):
        raise SweepError(f"--out {out_dir} is a run directory, not a sweep: give a new "
                         f"directory")
    if entries:
        shown = ", ".join(entries[:8]) + (f" and {len(entries) - 8} more" if len(entries) > 8
                                          else "")
        raise SweepError(f"--out {out_dir} is not empty and is not a sweep (no sweep.json); "
                         f"in the way: {shown}. infozoo never writes over what it did not "
                         f"write: give a new or empty directory")


def extension_problem(old, new):
    """None if sweep ``new`` resumes or extends ``old`` (same model, flags and swept keys in
    the same order, every old value and seed still in it), else what differs."""
    if old.get("model") != new["model"]:
        return f"model {old.get('model')}, not {new['model']}"
    if old.get("train_args") != new["train_args"]:
        return f"flags {' '.join(old.get('train_args') or []) or '(none)'}"
    old_grid = [tuple(g) for g in old.get("grid") or []]
    if [k for k, _ in old_grid] != [k for k, _ in new["grid"]]:
        return f"swept keys {', '.join(k for k, _ in old_grid) or '(none)'}"
    for (k, old_vals), (_, vals) in zip(old_grid, new["grid"]):
        dropped = [v for v in old_vals if v not in vals]
        if dropped:
            return f"{k} also takes {','.join(dropped)}"
    if int(old.get("seeds", 0)) > new["seeds"]:
        return f"{old.get('seeds')} seeds"
    return None


def sweep(model, grid_items, seeds=1, jobs=1, out_dir=None, train_args=(), metrics=(),
          dry_run=False, echo=print, check=None):
    """Plans, validates (with ``check``, see :func:`validate`; None: each run's own
    ``infozoo train`` refuses bad settings when it starts), runs and aggregates a sweep (see
    the module docstring); returns ``(runs, failed, rows)``."""
    if seeds < 1 or jobs < 1:
        raise SweepError("--seeds and --jobs must be >= 1")
    grid = parse_grid(grid_items)
    out_dir = out_dir or os.path.join("sweeps", f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
    runs = plan(model, grid, seeds, out_dir, list(train_args))
    if check is not None:
        validate(runs, check)
    manifest = os.path.join(out_dir, "sweep.json")
    check_out_dir(out_dir, manifest)
    if dry_run:
        for r in runs:
            echo(command_line(r["argv"]))
        return runs, {}, []
    os.makedirs(out_dir, exist_ok=True)
    spec = {"model": model, "grid": grid, "seeds": seeds, "train_args": list(train_args)}
    if os.path.isfile(manifest):
        with open(manifest) as f:
            old = json.load(f)
        problem = extension_problem(old, json.loads(json.dumps(spec)))
        if problem:
            raise SweepError(f"{out_dir} holds another sweep ({problem}); use another --out, "
                             f"or the same model, flags and swept keys with the same or more "
                             f"seeds and values to resume or extend it")
    atomic_write(manifest, json.dumps(spec, indent=2))
    atomic_write(os.path.join(out_dir, "commands.txt"),
                 "".join(command_line(r["argv"]) + "\n" for r in runs))
    failed = execute(runs, jobs, os.path.join(out_dir, "logs"), echo)
    rows = aggregate(runs)
    write_summary(rows, grid, os.path.join(out_dir, "summary.csv"))
    write_runs(runs, grid, os.path.join(out_dir, "runs.csv"))
    present = {r["metric"] for r in rows}
    wanted = list(metrics) or [m for m in DEFAULT_METRICS if m in present]
    datasets = {m.get("dataset") for _, m in run_metrics(runs)} - {None}
    write_plots(rows, grid, wanted, out_dir, model,
                datasets.pop() if len(datasets) == 1 else None)
    return runs, failed, rows
