"""Figures: matplotlib only, readable labels, every format, TensorBoard images."""
import numpy as np
import pytest

from infozoo.viz import plots


def _result(n=20, seed=3, spread=0.25):
    rng = np.random.RandomState(seed)
    xs = np.cumsum(rng.normal(0, spread, n)) + 5
    ys = np.cumsum(rng.normal(0, spread, n)) + 5
    layers = [dict(index=i, name=f"layer_{i}", I_XT=float(xs[i]), I_TXhat=float(ys[i]),
                   S=float(xs[i] + 1), dS=0.1, dh_bits=0.5 if i < 8 else None,
                   bijective=i < 8) for i in range(n)]
    return dict(layers=layers, S_X=9.5, n=512, alpha=1.01, gamma="median")


def test_information_plane_labels_do_not_overlap_each_other():
    r = _result()
    fig = plots.information_plane(r, "crowded")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) >= 10
    for i in range(len(boxes)):
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (labels[i], labels[j])
    # every layer is named in the key beside the plane
    key = " ".join(t.get_text() for t in fig.axes[1].texts)
    assert all(f"layer_{i}" in key for i in range(20))


def test_coinciding_layers_share_one_label():
    r = _result(6)
    for lay in r["layers"][1:4]:
        lay["I_XT"], lay["I_TXhat"] = r["layers"][1]["I_XT"], r["layers"][1]["I_TXhat"]
    labels = [t.get_text() for t in plots.information_plane(r).axes[0].texts]
    assert "1-3" in labels and "2" not in labels


def test_intervals_become_error_bars_and_stretch_the_axes():
    r = _result(5)
    xs = np.array([lay["I_XT"] for lay in r["layers"]])
    ci = {"I_XT": np.stack([xs - 3.0, xs + 3.0], 1)}
    ax = plots.information_plane(r, intervals=ci).axes[0]
    lo, hi = ax.get_xlim()
    assert lo <= xs.min() - 3.0 and hi >= xs.max() + 3.0
    # entropy_change: the S bars (and only they, the one interval given) get error bars
    # reaching the interval
    from matplotlib.container import ErrorbarContainer
    ax = plots.entropy_change(r, intervals={"S": ci["I_XT"]}).axes[0]
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 1
    assert ax.get_ylim()[1] >= xs.max() + 3.0


@pytest.mark.slow  # TensorBoard and four formats, ~8 s
def test_write_plots_formats_and_tensorboard(tmp_path):
    import tensorflow as tf
    writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
    paths = plots.write_plots(_result(), str(tmp_path), "p", formats=("png", "pdf", "svg"),
                              writer=writer, step=3)
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == ["pdf", "pdf", "png", "png", "svg",
                                                          "svg"]
    assert open(paths[0], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert open([p for p in paths if p.endswith(".pdf")][0], "rb").read(5) == b"%PDF-"
    import glob
    tags = {v.tag for f in glob.glob(str(tmp_path / "tb" / "events*"))
            for e in tf.compat.v1.train.summary_iterator(f) for v in e.summary.value}
    assert {"p/information_plane", "p/entropy_change"} <= tags
    with pytest.raises(ValueError, match="unknown figure format"):
        plots.save(plots.metric_curve([1, 2], {"a": [1, 2]}), str(tmp_path / "x"), ("gif",))


def test_to_image_and_curves():
    img = plots.to_image(plots.toy25_scatter(np.zeros((5, 1, 1, 2)), np.ones((5, 1, 1, 2))))
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and (img < 255).any()
    fig = plots.metric_curve([0.1, 0.316, 1.0], {"nll": [3, 2, 1], "bpd": [1, 1, 1]},
                             "eps", "value", intervals={"nll": [[2, 4], [1, 3], [0, 2]]},
                             logx=True)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="has 2 values for 3 x values"):
        plots.metric_curve([1, 2, 3], {"a": [1, 2]})
    img = plots.to_image(plots.code_scatter(np.random.RandomState(0).normal(size=(50, 2)),
                                            np.arange(50) % 3))
    assert img.shape[2] == 3
