"""bin/repro_tables on sweep directories made here (no training)."""
import json
import runpy
import sys
from pathlib import Path

TABLES = Path(__file__).resolve().parent.parent / "bin" / "repro_tables"


def _sweep(out, section, model, l1s):
    d = out / section / model
    for seed, l1 in enumerate(l1s):
        run = d / "bottleneck=8" / f"seed={seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"test_l1": l1, "params": 10}))
    (d / "summary.csv").write_text("setting,metric,mean,n,ci_low,ci_high\n"
                                   f"bottleneck=8,test_l1,{sum(l1s) / len(l1s)},{len(l1s)},"
                                   "0.05,0.07\n")


def _run(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, "argv", ["repro_tables", *map(str, argv)])
    runpy.run_path(str(TABLES), run_name="__main__")
    return capsys.readouterr().out


def test_the_bf16_paper_section_is_tabled_like_its_parent(tmp_path, monkeypatch, capsys):
    """paper-inn-bf16 holds the INN of paper-inn under mixed_bfloat16: its table and its
    per-seed lines carry the inn section's metrics (they printed nothing before)."""
    _sweep(tmp_path, "paper-inn", "classic", [0.061, 0.062])
    _sweep(tmp_path, "paper-inn-bf16", "inn", [0.059, 0.058])
    out = _run(monkeypatch, capsys, tmp_path)
    assert out.index("## paper-inn\n") < out.index("## paper-inn-bf16\n")
    bf16 = out.split("## paper-inn-bf16\n")[1]
    assert "| inn | bottleneck=8 | 0.0585 ± 0.0100 |" in bf16
    seeds = _run(monkeypatch, capsys, tmp_path, "--seeds")
    assert "paper-inn-bf16/inn/bottleneck=8/seed=1: test_l1 0.0580, params 10" in seeds
