"""`infozoo sweep` as a user runs it: a real subprocess on tiny settings."""
import csv
import json
import os

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow  # a 4-run sweep through the CLI, twice

TINY = ["--dataset", "digits", "--train-size", "64", "--batch-size", "32", "--epochs", "1",
        "--conv-blocks", "1",
        "--conv-hidden", "4", "--fc-hidden", "8", "--set", "train.image_every=0"]


def test_bad_grids_exit_2(tmp_path):
    for grid, needle in (("bottleneck", "write KEY=V1,V2"), ("bottleneck=4,,8", "no empty value"),
                         ("bottleneck=0", "model_args.bottleneck: 0; must be >= 1"),
                         ("nokey=1", "unknown config key 'nokey'"),
                         ("seed=1,2", "use --seeds N")):
        p = run_cli("sweep", "inn", "--grid", grid, *TINY, "--out", tmp_path / "s", check=2)
        assert needle in p.stderr, (grid, p.stderr)
    assert not (tmp_path / "s").exists()
    p = run_cli("sweep", "inn", "--grid", "bottleneck=4", "--seed", "3", check=2)
    assert "--seeds" in p.stderr


def test_sweep_runs_aggregates_resumes_and_survives_a_failing_run(tmp_path):
    out = tmp_path / "sweep"
    # bottleneck 100000 passes the config's checks but not the model's (the images have 64
    # pixels): those runs fail at start, after the grid was validated; the others go on
    args = ["sweep", "inn", "--grid", "bottleneck=4,100000", "--seeds", "2", "--jobs", "2",
            "--out", out, *TINY]
    p = run_cli(*args, timeout=900, check=1)
    assert "Failed runs" in p.stderr and "bottleneck=100000" in p.stderr
    lines = (out / "commands.txt").read_text().splitlines()
    assert len(lines) == 4 and all(ln.startswith("infozoo train inn ") for ln in lines)
    rows = list(csv.DictReader(open(out / "summary.csv")))
    l1 = {r["setting"]: r for r in rows if r["metric"] == "test_l1"}
    assert set(l1) == {"bottleneck=4"}
    for r in l1.values():
        # two seeds are too few for an interval: none is given, and the summary says so
        assert r["n"] == "2" and r["ci_low"] == r["ci_high"] == "" and "no interval" in r["ci_note"]
        # the sample standard deviation (n - 1) of the two seeds' metrics.json values
        vals = [json.load(open(out / "bottleneck=4" / f"seed={seed}" / "metrics.json"))["test_l1"]
                for seed in (0, 1)]
        assert float(r["std"]) == pytest.approx(abs(vals[0] - vals[1]) / 2 ** 0.5, rel=1e-6)
        assert float(r["mean"]) == pytest.approx(sum(vals) / 2, rel=1e-6)
    assert (out / "plots" / "test_l1.png").stat().st_size > 1000
    for seed in (0, 1):
        assert (out / "bottleneck=4" / f"seed={seed}" / "metrics.json").exists()
    # again: the finished runs are skipped, the failing ones are tried again
    p = run_cli(*args, timeout=900, check=1)
    assert "2 of 4 runs already finished: skipped" in p.stdout
    # another grid in the same directory is refused
    p = run_cli("sweep", "inn", "--grid", "bottleneck=16", "--out", out, *TINY, check=2)
    assert "holds another sweep" in p.stderr
    assert sorted(os.listdir(out / "bottleneck=4")) == ["seed=0", "seed=1"]


@pytest.mark.slow
def test_extend_summaries_and_paper_figures(tmp_path):
    """A sweep extended by a value and a seed keeps and skips its runs; summary.csv holds
    metrics only with no interval below 3 seeds, runs.csv one row per seed, plots in three
    formats."""
    out = tmp_path / "sweep"
    base = ["sweep", "classic", "--dataset", "digits", "--train-size", "64", "--batch-size",
            "32", "--epochs", "1", "--set", "model_args.hidden=[8]", "--set", "train.image_every=0",
            "--no-export", "--evaluate", "quick", "--out", out]
    run_cli(*base, "--grid", "bottleneck=2", "--seeds", "2", "--jobs", "2", timeout=900,
            check=0)
    rows = list(csv.DictReader(open(out / "summary.csv")))
    metrics = {r["metric"] for r in rows}
    assert "test_l1" in metrics and not metrics & {"epochs", "params", "weights_step",
                                                   "train_size", "test_examples"}
    for r in rows:
        assert r["n"] == "2" and r["ci_low"] == "" and "no interval" in r["ci_note"], r
    # extended by a grid value and a seed: the 4 finished runs are kept and skipped
    p = run_cli(*base, "--grid", "bottleneck=2,4", "--seeds", "3", "--jobs", "2",
                timeout=900, check=0)
    assert "2 of 6 runs already finished: skipped" in p.stdout
    rows = list(csv.DictReader(open(out / "summary.csv")))
    for r in (r for r in rows if r["metric"] in ("test_l1", "wall_time_s")):
        assert r["n"] == "3" and r["ci_note"], r
        assert float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"])
        assert float(r["ci_low"]) > 0          # positive quantities keep positive intervals
    per_seed = list(csv.DictReader(open(out / "runs.csv")))
    assert len(per_seed) == 6 and {r["seed"] for r in per_seed} == {"0", "1", "2"}
    assert all(r["params"] and r["test_l1"] for r in per_seed)
    for fmt in ("png", "pdf", "svg"):
        assert (out / "plots" / f"test_l1.{fmt}").stat().st_size > 1000, fmt
    # dropping a value is not an extension
    p = run_cli(*base, "--grid", "bottleneck=2", "--seeds", "3", check=2)
    assert "holds another sweep" in p.stderr and "bottleneck also takes 4" in p.stderr


def _rows(values, n):
    return [{"setting": f"k={v}", "k": v, "metric": "test_l1", "mean": 1.0 + i, "n": n,
             "std": 0.1, "ci_low": None if n < 3 else 0.9 + i, "ci_high": None if n < 3 else
             1.1 + i, "values": [1.0 + i + 0.01 * j for j in range(n)]}
            for i, v in enumerate(values)]


@pytest.mark.parametrize("values, kind", [(["4", "8", "16", "64"], "log"),
                                          (["1", "2", "3"], "linear"),
                                          (["relu", "gelu"], "categorical")])
def test_sweep_plot_axes_ticks_seed_points_and_title(tmp_path, monkeypatch, values, kind):
    from infozoo.viz import plots
    from infozoo.run import sweep
    assert plots.sweep_axis(values)[0] == kind
    figs = []
    real = plots.write_figure
    monkeypatch.setattr(plots, "write_figure", lambda fig, *a, **k: figs.append(fig) or
                        real(fig, *a, **k))
    paths = sweep.write_plots(_rows(values, 2), [("k", values)], ["test_l1"], str(tmp_path),
                              model="classic", dataset="digits")
    assert sorted(os.path.splitext(p)[1] for p in paths) == [".pdf", ".png", ".svg"]
    ax = figs[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == values   # ticks at the values only
    assert ax.get_xscale() == ("log" if kind == "log" else "linear")
    title = ax.get_title(loc="left")
    assert "classic on digits" in title and "n = 2" in title and "no interval" in title
    # every seed is a point: 2 per setting
    seed_points = sum(len(ln.get_xdata()) for ln in ax.lines if ln.get_marker() == "o")
    assert seed_points == 2 * len(values)


def test_intervals_none_below_three_seeds_and_positive_for_positive_quantities():
    from infozoo.run.sweep import interval
    assert interval([1.0, 2.0])[:2] == (None, None)
    lo, hi, note = interval([0.1, 5.0, 0.2])          # a t interval would reach below 0
    assert 0 < lo < hi and "log" in note
    lo, hi, note = interval([-1.0, 1.0, 0.5])          # a quantity that can be negative: t
    assert lo < 0 < hi and note == "t"
