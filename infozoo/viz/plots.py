"""Every figure of infozoo, drawn with matplotlib (Agg, no pyplot state).

Each plotting function returns a :class:`matplotlib.figure.Figure` to restyle or
save; :func:`save` writes it as PNG (and PDF/SVG on request), :func:`to_image`
renders it to a ``uint8 [H, W, 3]`` array and :func:`write_figure` does both plus a
TensorBoard image. No TensorFlow is imported here except by :func:`write_figure`
with a summary writer.

- :func:`information_plane`: ``I(X; T_l)`` against ``I(T_l; X_hat)`` for every layer
  of a probe result, joined in layer order (input blue to reconstruction red);
  circles are layers reached through bijections only, squares layers after a
  non-bijective step; labels are placed so they do not overlap (coinciding
  consecutive layers share one label, ``"1-5"``), the names are in a key beside.
- :func:`entropy_change`: three panels over the layers: (a) ``S_alpha(T_l)`` and
  ``I_alpha(X; T_l)``; (b) ``dS = S_alpha(T_l) - S_alpha(T_{l-1})``; (c) the exact
  change ``E log|det J_l|`` in bits where it is defined (``x`` where it is not).
- :func:`layer_information`: the Shannon ``I(X; T_l)`` per layer of every estimator
  asked, with intervals and the ``log2 n`` ceiling, over the exact ``dh`` bars.
- :func:`toy25_scatter`, :func:`code_scatter`: IPAE Fig. 1 and VIMAE Fig. 1 style.
- :func:`metric_curve`: any metric against a swept variable, one line per series.

Confidence intervals: every function takes ``intervals``, a dict from the plotted
quantity (e.g. ``"I_XT"``) to an array ``[n, 2]`` of ``(low, high)``; a probe layer
that carries ``"<quantity>_ci": [low, high]`` is used when ``intervals`` is None.
"""
import os

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from infozoo.util.io import atomic_path

FORMATS = ("png", "pdf", "svg")
DPI = 110


def new_figure(width=7.0, height=5.0):
    """A Figure with an Agg canvas (thread-safe: no pyplot)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_image(fig):
    """``uint8 [H, W, 3]``: the figure rendered by Agg."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save(fig, path, formats=("png",)):
    """Writes ``<path>.<fmt>`` for every format (``path`` without extension); returns
    the paths. Each file is written to a temporary name and moved in place."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown figure format(s) {bad}; use {', '.join(FORMATS)}")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    out = []
    for fmt in formats:
        final = f"{path}.{fmt}"
        with atomic_path(final) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI)
        out.append(final)
    return out


def write_figure(fig, out_dir, name, formats=("png",), writer=None, step=0, tag=None):
    """Saves ``fig`` as ``out_dir/<name>.<fmt>`` and, with a ``tf.summary`` writer, logs it
    as the TensorBoard image ``tag`` (default ``name``) at ``step``. Returns the paths."""
    paths = save(fig, os.path.join(out_dir, name), formats) if out_dir else []
    if writer is not None:
        import tensorflow as tf
        with writer.as_default():
            tf.summary.image(tag or name, to_image(fig)[None], step=step)
        writer.flush()
    return paths


# -- helpers -----------------------------------------------------------------------
def _layer_axis(ax, layers):
    """x ticks naming every layer, ``index name``."""
    n = len(layers)
    ax.set_xticks(np.arange(n))
    ax.set_xticklabels([f"{i} {r['name']}" for i, r in enumerate(layers)], rotation=60,
                       ha="right", fontsize=7 if n <= 40 else 5)
    ax.set_xlim(-0.6, n - 0.4)


def _values(layers, key):
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in layers])


def _interval(layers, key, intervals, values):
    """``[2, n]`` error-bar extents below/above ``values``, or None."""
    ci = None
    if intervals is not None and key in intervals:
        ci = np.asarray(intervals[key], float).reshape(-1, 2)
    elif any(r.get(f"{key}_ci") is not None for r in layers):
        ci = np.array([r.get(f"{key}_ci") or (np.nan, np.nan) for r in layers], float)
    if ci is None:
        return None
    return np.abs(np.stack([values - ci[:, 0], ci[:, 1] - values]))


def _layer_colors(n):
    return matplotlib.colormaps["coolwarm"](np.linspace(0.0, 1.0, max(n, 2)))[:n]


def _groups(px, py, tol=6.0):
    """Runs ``(i, j)`` of consecutive points within ``tol`` display pixels of point ``i``."""
    out, i, n = [], 0, len(px)
    while i < n:
        j = i
        while j + 1 < n and abs(px[j + 1] - px[i]) < tol and abs(py[j + 1] - py[i]) < tol:
            j += 1
        out.append((i, j))
        i = j + 1
    return out


def _place_labels(ax, px_data, groups, fontsize=8):
    """Text labels next to points: each goes to the cheapest of 96 offsets (16 directions,
    6 distances), where overlapping an earlier label or the axes' edge costs most, then
    covering a point, then distance; moved labels get a thin leader line."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_disp = ax.transData.transform
    pts = to_disp(px_data)
    abox = ax.get_window_extent(renderer)
    placed = []
    dirs = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (0, 1), (-1, 0), (0, -1),
            (2, 1), (-2, 1), (2, -1), (-2, -1), (1, 2), (-1, 2), (1, -2), (-1, -2)]
    offsets = []
    for r in (7, 16, 28, 42, 60, 80):
        for dx, dy in dirs:
            norm = np.hypot(dx, dy)
            offsets.append((round(dx / norm * r * 1.3), round(dy / norm * r), r))
    texts = []
    for i, j in groups:
        label = str(i) if i == j else f"{i}-{j}"
        best = None
        for dx, dy, r in offsets:
            t = ax.annotate(label, px_data[i], xytext=(dx, dy), textcoords="offset pixels",
                            ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                            va="bottom" if dy > 0 else ("top" if dy < 0 else "center"),
                            fontsize=fontsize)
            bb = t.get_window_extent(renderer).expanded(1.1, 1.2)
            t.remove()
            cost = sum(1e4 + _overlap(bb, b) for b in placed if _overlap(bb, b) > 0) + 2.0 * r
            near = bb.padded(7)
            cost += 3e3 * sum(near.contains(px, py) for px, py in pts)
            if not (abox.x0 <= bb.x0 and bb.x1 <= abox.x1 and abox.y0 <= bb.y0 and bb.y1 <= abox.y1):
                cost += 1e7
            if best is None or cost < best[0]:
                best = (cost, dx, dy, bb)
        _, dx, dy, bb = best
        far = abs(dx) > 12 or abs(dy) > 12
        texts.append(ax.annotate(
            label, px_data[i], xytext=(dx, dy), textcoords="offset pixels",
            ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
            va="bottom" if dy > 0 else ("top" if dy < 0 else "center"), fontsize=fontsize,
            arrowprops=dict(arrowstyle="-", lw=0.5, color="0.5", shrinkA=0, shrinkB=3)
            if far else None))
        placed.append(bb)
    return texts


def _overlap(a, b):
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)


def _subtitle(result):
    return (f"n = {result.get('n')}, alpha = {result.get('alpha')}, "
            f"gamma = {result.get('gamma')}")


# -- the probe's figures -----------------------------------------------------------
def _dh_panel(ax, layers, letter, intervals=None):
    """Bars of the exact ``dh`` in bits, an ``x`` where it is not defined."""
    idx = np.arange(len(layers))
    dh = _values(layers, "dh_bits")
    ax.bar(idx, np.nan_to_num(dh), 0.7, color="tab:orange",
           yerr=_interval(layers, "dh_bits", intervals, dh))
    undefined = np.isnan(dh) & (idx > 0)
    if undefined.any():
        ax.scatter(idx[undefined], np.zeros(int(undefined.sum())), marker="x",
                   color="tab:red", s=18, zorder=3, label="not defined (information lost before)")
        ax.legend(loc="best", fontsize=8)
    ax.set_ylabel("bits")
    ax.set_title(letter + r" exact $dh = E\,\log|\det J_l|\,/\,\ln 2$", fontsize=9,
                 loc="left")


def information_plane(result, title="", intervals=None):
    """The information plane of a probe result (``infozoo.probe``) as a Figure."""
    layers = result["layers"]
    n = len(layers)
    xs, ys = _values(layers, "I_XT"), _values(layers, "I_TXhat")
    fig = new_figure(10.0, max(6.2, 0.115 * n + 1.2))
    gs = fig.add_gridspec(1, 2, width_ratios=[3.0, 1.35])
    ax = fig.add_subplot(gs[0])
    key = fig.add_subplot(gs[1])
    colors = _layer_colors(n)
    sx = result.get("S_X")
    xerr, yerr = _interval(layers, "I_XT", intervals, xs), _interval(layers, "I_TXhat",
                                                                     intervals, ys)
    for vals, err, setlim in ((xs, xerr, ax.set_xlim), (ys, yerr, ax.set_ylim)):
        ext = [vals] if err is None else [vals - err[0], vals + err[1]]
        v = np.concatenate(ext)
        v = v[np.isfinite(v)]
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        pad = max(0.08 * (hi - lo), 0.05)
        setlim(lo - pad, hi + pad)     # the data's range: clusters spread over the axes
    if sx is not None:   # S(X) bounds both informations; drawn where it is in range
        inside = ax.get_xlim()[0] <= sx <= ax.get_xlim()[1] or \
            ax.get_ylim()[0] <= sx <= ax.get_ylim()[1]
        ax.axvline(sx, color="0.6", ls="--", lw=0.8)
        ax.axhline(sx, color="0.6", ls="--", lw=0.8,
                   label=f"S(X) = {sx:.2f} bits" + ("" if inside else " (beyond the axes)"))
    ax.plot(xs, ys, color="0.65", lw=0.8, zorder=1)
    if xerr is not None or yerr is not None:
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.4", lw=0.8,
                    capsize=2, zorder=2)
    chain = np.cumprod([bool(r.get("bijective")) for r in layers]).astype(bool)
    for mask, marker, lab in ((chain, "o", "bijective from the input"),
                              (~chain, "s", "after a non-bijective step")):
        if mask.any():
            ax.scatter(xs[mask], ys[mask], c=colors[mask], marker=marker, s=42,
                       edgecolors="k", linewidths=0.5, zorder=3, label=lab)
    ax.set_xlabel(r"$I_\alpha(X;\,T)$ [bits]")
    ax.set_ylabel(r"$I_\alpha(T;\,\hat X)$ [bits]")
    ax.set_title(title or "information plane", fontsize=11, loc="left")
    ax.text(0.0, 1.005, _subtitle(result), transform=ax.transAxes, fontsize=8, color="0.3",
            va="bottom", ha="left") if not title else None
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    ax.grid(True, color="0.92", lw=0.6)
    fig.canvas.draw()
    fig.set_layout_engine("none")   # freeze the layout: labels are placed in pixels
    ok = np.isfinite(xs) & np.isfinite(ys)
    idx = np.nonzero(ok)[0]
    pts = np.stack([xs[idx], ys[idx]], 1)
    disp = ax.transData.transform(pts) if len(pts) else np.zeros((0, 2))
    groups = [(idx[i], idx[j]) for i, j in _groups(disp[:, 0], disp[:, 1])]
    _place_labels(ax, np.stack([np.nan_to_num(xs), np.nan_to_num(ys)], 1), groups)
    key.axis("off")
    key.set_title(_subtitle(result) if title else "layers", fontsize=8, loc="left")
    fs = 8 if n <= 40 else 7
    for i, r in enumerate(layers):
        y = 1.0 - (i + 0.5) / max(n, 30)
        key.scatter([0.02], [y], c=[colors[i]], marker="o" if chain[i] else "s", s=14,
                    edgecolors="k", linewidths=0.3, transform=key.transAxes, clip_on=False)
        key.text(0.07, y, f"{i:>2}  {r['name']}", fontsize=fs, va="center",
                 family="monospace", transform=key.transAxes)
    return fig


def entropy_change(result, title="", intervals=None):
    """Per-layer entropy, information and entropy-change bars of a probe result."""
    layers = result["layers"]
    n = len(layers)
    idx = np.arange(n)
    fig = new_figure(min(18.0, max(8.0, 0.24 * n + 2.5)), 8.5)
    axes = fig.subplots(3, 1, sharex=True)
    S, I = _values(layers, "S"), _values(layers, "I_XT")
    w = 0.4
    for off, vals, key, lab, col in ((-w / 2, S, "S", r"$S_\alpha(T_l)$", "tab:cyan"),
                                     (w / 2, I, "I_XT", r"$I_\alpha(X;T_l)$", "tab:blue")):
        err = _interval(layers, key, intervals, vals)
        axes[0].bar(idx + off, np.nan_to_num(vals), w, color=col, label=lab, yerr=err,
                    capsize=2 if err is not None else 0, error_kw=dict(lw=0.8))
    axes[0].set_ylabel("bits")
    axes[0].set_title("(a) entropy and information per layer", fontsize=9, loc="left")
    dS = _values(layers, "dS")
    axes[1].bar(idx, np.nan_to_num(dS), 0.7, color="0.55",
                yerr=_interval(layers, "dS", intervals, dS))
    axes[1].set_ylabel("bits")
    axes[1].set_title(r"(b) $dS_\alpha = S_\alpha(T_l) - S_\alpha(T_{l-1})$", fontsize=9,
                      loc="left")
    _dh_panel(axes[2], layers, "(c)", intervals)
    for ax in axes:
        ax.axhline(0.0, color="k", lw=0.6)
        ax.grid(True, axis="y", color="0.92", lw=0.6)
    axes[0].legend(loc="best", fontsize=8)
    _layer_axis(axes[2], layers)
    fig.suptitle(f"{title or 'entropy per layer'}  ({_subtitle(result)})", fontsize=10,
                 x=0.01, ha="left")
    return fig


def layer_information(result, title=""):
    """The Shannon figures of a probe result per layer: (a) ``I(X; T_l)`` of every Shannon
    estimator with its interval and its ceiling (``log2 n``, dashed); circles are layers
    reached from the input through bijections only; (b) the exact ``dh`` in bits where it
    is defined (``x`` where it is not)."""
    layers = result["layers"]
    n = len(layers)
    idx = np.arange(n)
    names = [e for e in result.get("estimators", []) if e != "renyi"]
    fig = new_figure(min(18.0, max(8.0, 0.24 * n + 2.5)), 7.5)
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[2.0, 1.0])
    chain = np.cumprod([bool(r.get("bijective")) for r in layers]).astype(bool)
    colors = matplotlib.colormaps["tab10"].colors
    ceilings = set()
    for k, name in enumerate(names):
        est = [r["estimates"][name]["I_XT"] for r in layers]
        v = np.array([np.nan if e is None else e["value"] for e in est])
        lo = np.array([np.nan if e is None or e.get("low") is None else e["low"] for e in est])
        hi = np.array([np.nan if e is None or e.get("high") is None else e["high"] for e in est])
        col = colors[k % len(colors)]
        opts = result.get("estimator_options", {}).get(name, {})
        lab = name + (f" (sigma = {opts['sigma']:g})" if "sigma" in opts else "")
        axes[0].plot(idx, v, color=col, lw=1.0, label=lab)
        if np.isfinite(lo).any():
            axes[0].errorbar(idx, v, yerr=np.abs(np.stack([v - lo, hi - v])), fmt="none",
                             ecolor=col, lw=0.8, capsize=2)
        for mask, marker in ((chain, "o"), (~chain, "s")):
            axes[0].scatter(idx[mask], v[mask], color=col, marker=marker, s=30,
                            edgecolors="k", linewidths=0.4, zorder=3)
        ceilings.update(e["ceiling"] for e in est if e is not None and e.get("ceiling"))
    for c in sorted(ceilings):
        axes[0].axhline(c, color="0.5", ls="--", lw=0.8,
                        label=f"ceiling log2 n = {c:.2f} bits")
    axes[0].set_ylabel("bits")
    axes[0].set_title(r"(a) $I(X;\,T_l)$ (Shannon), intervals at level "
                      f"{result.get('ci')}; circles: bijective from the input", fontsize=9,
                      loc="left")
    if names:
        axes[0].legend(loc="best", fontsize=8)
    _dh_panel(axes[1], layers, "(b)")
    for ax in axes:
        ax.grid(True, axis="y", color="0.92", lw=0.6)
    axes[1].axhline(0.0, color="k", lw=0.6)
    _layer_axis(axes[1], layers)
    fig.suptitle(f"{title or 'information per layer'}  (n = {result.get('n')})", fontsize=10,
                 x=0.01, ha="left")
    return fig


def write_plots(result, out_dir, prefix="probe", title="", formats=("png",), intervals=None,
                writer=None, step=0):
    """Writes ``<out_dir>/<prefix>_information.<fmt>`` (the Shannon figures with their
    intervals, :func:`layer_information`) when a Shannon estimator was asked, and
    ``..._information_plane.<fmt>``, ``..._entropy_change.<fmt>`` (the Renyi functional)
    when ``renyi`` was (and TensorBoard images with ``writer``); returns the paths."""
    out = []
    figs = []
    if any(e != "renyi" for e in result.get("estimators", [])):
        figs.append(("information", lambda r, t, i: layer_information(r, t)))
    if result.get("S_X") is not None:
        figs += [("information_plane", information_plane), ("entropy_change", entropy_change)]
    for name, fn in figs:
        out += write_figure(fn(result, title, intervals), out_dir, f"{prefix}_{name}", formats,
                            writer, step, tag=f"{prefix}/{name}")
    return out


# -- scatters ----------------------------------------------------------------------
def toy25_scatter(x, x_hat, title="", labels=("input", "reconstruction")):
    """IPAE Fig. 1: 2-D inputs as red circles, their reconstructions (or samples) as blue dots."""
    x = np.asarray(x, float).reshape(-1, 2)
    x_hat = np.asarray(x_hat, float).reshape(-1, 2)
    fig = new_figure(5.5, 5.5)
    ax = fig.add_subplot()
    ax.scatter(x[:, 0], x[:, 1], s=14, facecolors="none", edgecolors="tab:red", lw=0.6,
               label=labels[0])
    ax.scatter(x_hat[:, 0], x_hat[:, 1], s=3, color="tab:blue", label=labels[1])
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=8, markerscale=2)
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def code_scatter(z, y=None, title=""):
    """VIMAE Fig. 1: the first two code dimensions, coloured by label where given."""
    z = np.asarray(z, float).reshape(len(z), -1)[:, :2]
    fig = new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    if y is None:
        ax.scatter(z[:, 0], z[:, 1], s=3, color="tab:blue")
    else:
        y = np.asarray(y).astype(int)
        k = int(y.max()) + 1
        cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20" if k <= 20 else "turbo"]
        sc = ax.scatter(z[:, 0], z[:, 1], s=3, c=y, cmap=cmap, vmin=-0.5, vmax=k - 0.5)
        fig.colorbar(sc, ax=ax, ticks=range(k) if k <= 25 else None, label="label")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title, fontsize=10, loc="left")
    return fig


# -- sweeps ------------------------------------------------------------------------
def metric_curve(x, series, xlabel="", ylabel="", title="", intervals=None, logx=False,
                 logy=False, markers=True):
    """A metric against a swept variable: ``series`` maps a label to values (one per
    ``x``); ``intervals[label]`` is an optional ``[len(x), 2]`` array of (low, high)."""
    x = np.asarray(x, float)
    fig = new_figure(6.0, 4.2)
    ax = fig.add_subplot()
    for label, ys in series.items():
        ys = np.asarray(ys, float)
        if ys.shape != x.shape:
            raise ValueError(f"series {label!r} has {ys.shape[0] if ys.ndim else 0} values "
                             f"for {len(x)} x values")
        line, = ax.plot(x, ys, marker="o" if markers else None, ms=4, label=label)
        if intervals is not None and label in intervals:
            ci = np.asarray(intervals[label], float).reshape(-1, 2)
            ax.fill_between(x, ci[:, 0], ci[:, 1], color=line.get_color(), alpha=0.2, lw=0)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, color="0.92", lw=0.6)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig


def sweep_axis(values):
    """``("categorical" | "log" | "linear", positions)`` for a swept variable's values: numbers
    spanning a factor of 16 or more (all positive) on a log axis, other numbers on a linear
    one, anything else one category per value."""
    try:
        xs = [float(v) for v in values]
    except (TypeError, ValueError):
        return "categorical", list(range(len(values)))
    if len(xs) > 1 and min(xs) > 0 and max(xs) / min(xs) >= 16:
        return "log", xs
    return "linear", xs


def sweep_figure(values, series, xlabel="", ylabel="", title=""):
    """A metric against a swept variable's ``values``, ready for a paper: ``series[label]``
    is one entry per value, ``None`` or ``{"mean", "low", "high", "seeds": [...]}``; every
    seed is a point, the mean a marker with its interval as an error bar (none where the
    interval is None), ticks at the swept values only, a log or categorical axis as
    :func:`sweep_axis` decides."""
    kind, xs = sweep_axis(values)
    fig = new_figure(6.0, 4.2)
    ax = fig.add_subplot()
    k = max(1, len(series))
    step = (np.diff(np.log(xs)).min() if kind == "log" else
            np.diff(xs).min() if len(xs) > 1 else 1.0) if len(xs) > 1 else 1.0
    for j, (label, entries) in enumerate(series.items()):
        off = (j - (k - 1) / 2) * 0.06 * step          # series side by side, not on top
        pos = [np.exp(np.log(x) + off) if kind == "log" else x + off for x in xs]
        color = f"C{j % 10}"
        mx, my, lo, hi = [], [], [], []
        for p, e in zip(pos, entries):
            if e is None:
                continue
            seeds = np.asarray(e["seeds"], float)
            jitter = np.linspace(-0.015, 0.015, len(seeds)) * step if len(seeds) > 1 else [0.0]
            sx = [np.exp(np.log(p) + d) if kind == "log" else p + d for d in jitter]
            ax.plot(sx, seeds, "o", ms=3, mfc="none", mec=color, alpha=0.7, lw=0)
            mx.append(p)
            my.append(e["mean"])
            ok = e.get("low") is not None and e.get("high") is not None
            lo.append(e["mean"] - e["low"] if ok else 0.0)
            hi.append(e["high"] - e["mean"] if ok else 0.0)
        ax.errorbar(mx, my, yerr=[lo, hi], fmt="s", ms=5, color=color, capsize=3, lw=1.2,
                    ls=":" if kind != "categorical" else "none", label=label)
    if kind == "log":
        ax.set_xscale("log")
    ax.set_xticks(xs, [str(v) for v in values])
    ax.minorticks_off()
    if kind == "categorical":
        ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9, loc="left")
    ax.grid(True, axis="y", color="0.92", lw=0.6)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig
