"""bin/bench_mi --summarize: reading its own output back (no estimation, synthetic rows)."""
import json
import runpy
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bin" / "bench_mi"


def _row(task, est, estimate, **kw):
    return {"n": 1000, "task": task, "family": "gauss-dense", "dim": 1, "estimator": est,
            "truth": 0.5, "estimate": estimate, "low": None, "high": None, "flag": None,
            "extra": None, "seconds": 1.0, **kw}


def test_summarize_derives_the_copula_rows_once(tmp_path, monkeypatch, capsys):
    """An output JSON holds the derived flow[steps=0] rows beside the flow rows; summarizing
    it (alone, or merged with a partial file) counts each task once."""
    flows = [_row(t, "flow", 0.5, extra={"copula_bits": 0.4})
             for t in ("gauss-dense-1", "gauss-dense-1-bij")]
    final = tmp_path / "final.json"   # as report() writes it: derived rows included
    final.write_text(json.dumps({"rows": flows + [
        {**r, "estimator": "flow[steps=0]", "estimate": 0.4, "seconds": None} for r in flows]}))
    partial = tmp_path / "partial.json"   # as an interrupted run leaves it: flow rows only
    partial.write_text(json.dumps({"rows": flows[:1]}))
    monkeypatch.setattr(sys, "argv", ["bench_mi", "--summarize", f"{partial},{final}"])
    runpy.run_path(str(BENCH), run_name="__main__")
    out = capsys.readouterr().out
    rows = {line.split(" | ")[1]: line.split(" | ") for line in out.splitlines()
            if line.startswith("| 1000 |")}
    assert rows["flow"][2] == "2" and rows["flow[steps=0]"][2] == "2"
    assert rows["flow"][4] == "0.000" and rows["flow[steps=0]"][4] == "0.100"
