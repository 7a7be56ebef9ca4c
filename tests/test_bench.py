"""infozoo.run.bench's tables and op groups (no timing: synthetic RESULT lines)."""
import json

from infozoo.run import bench


def _line(**r):
    return "RESULT " + json.dumps(r)


def test_op_groups():
    assert bench.op_group("_MklNativeConv2DBackpropFilterWithBias") == "convolution"
    assert bench.op_group("Conv2DBackpropInput") == "convolution"
    assert bench.op_group("_MklMatMul") == "matmul"
    assert bench.op_group("StridedSliceGrad") == "slice/concat/reshape"
    assert bench.op_group("Cast") == "cast"
    assert bench.op_group("LeakyReluGrad") == "elementwise/other"


def test_table_ratios_per_net():
    zoo = dict(jit_compile=False, foreign_cpu_cores=0.1, peak_rss_mb=100)
    lines = [_line(cpu_bf16=["avx512_bf16"]),
             _line(model="inn", precision="mixed_bfloat16", images_per_s_median=300.0, **zoo),
             _line(model="inn", precision="mixed_bfloat16", images_per_s_median=100.0, **zoo),
             _line(name="torch-freia-t2", images_per_s=100.0, foreign_cpu_cores=0.0),
             _line(name="torch-freia-bf16-t2", images_per_s=200.0, foreign_cpu_cores=0.0),
             _line(name="torch-plain-cl-bf16-t2", images_per_s=250.0, foreign_cpu_cores=0.0),
             _line(model="vimae", precision="float32", images_per_s_median=30.0, **zoo),
             _line(name="torch-vimae-t2", images_per_s=10.0, foreign_cpu_cores=0.0),
             _line(name="torch-vimae-bf16-t2", images_per_s=20.0, foreign_cpu_cores=0.0),
             _line(name="torch-vimae-cl-bf16-t2", images_per_s=15.0, foreign_cpu_cores=0.0),
             "# not a result"]
    t = bench.table(lines)
    assert t.splitlines()[0] == "CPU bf16 units: avx512_bf16"
    rows = {r.split(" | ")[0].strip("| "): r.split(" | ") for r in t.splitlines() if "|" in r}
    inn = rows["infozoo inn mixed_bfloat16 jit=off"]
    # median over rounds 200; x FrEIA float32 2.00, x FrEIA bf16 1.00, x fastest 0.80
    assert inn[1] == "200.0" and inn[4:7] == ["2.00", "1.00", "0.80 |"]
    vimae = rows["infozoo vimae float32 jit=off"]
    assert vimae[4:7] == ["3.00", "1.50", "1.50 |"]   # peers: float32 10, best bf16 20
    assert bench.cpu_bf16_units({"avx2"}) == ["none"]
    assert bench.cpu_bf16_units({"amx_bf16", "avx512_bf16"}) == ["amx_bf16", "avx512_bf16"]


def test_compare_table():
    r = dict(model="inn", precision="float32", foreign_cpu_cores=0.5)
    lines = [_line(tree="/a", images_per_s_median=100.0, **r),
             _line(tree="/b", images_per_s_median=150.0, **r),
             _line(tree="/a", images_per_s_median=110.0, **r),
             _line(tree="/b", images_per_s_median=140.0, **r)]
    t = bench.compare_table(lines)
    row_b = next(l for l in t.splitlines() if "| /b |" in l)
    assert "145.0 (150.0, 140.0)" in row_b and row_b.endswith("| 1.38 |")
