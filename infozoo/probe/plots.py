"""PNG figures of a probe result, drawn with NumPy (no plotting library) and written
with ``tf.io.encode_png``.

- :func:`information_plane`: ``I(X; T_l)`` (x) against ``I(T_l; X_hat)`` (y) for every
  layer, joined in layer order from the input (blue) to the reconstruction (red);
  circles are layers reached through a bijection, squares layers after a
  non-bijective step. Coinciding consecutive layers share one label (``"1-5"``).
- :func:`entropy_change`: three panels over the layers: (a) ``S_alpha(T_l)`` and
  ``I_alpha(X; T_l)``; (b) ``dS = S_alpha(T_l) - S_alpha(T_{l-1})``; (c) the exact
  change ``E log|det J_l|`` in bits where it is defined (an ``x`` marks layers where
  it is not: non-bijective steps and everything after them).
"""
import os

import numpy as np

_GLYPHS = {
    "0": (14, 17, 19, 21, 25, 17, 14), "1": (4, 12, 4, 4, 4, 4, 14),
    "2": (14, 17, 1, 2, 4, 8, 31), "3": (31, 2, 4, 2, 1, 17, 14),
    "4": (2, 6, 10, 18, 31, 2, 2), "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14), "7": (31, 1, 2, 4, 8, 8, 8),
    "8": (14, 17, 17, 14, 17, 17, 14), "9": (14, 17, 17, 15, 1, 2, 12),
    "A": (14, 17, 17, 31, 17, 17, 17), "B": (30, 17, 17, 30, 17, 17, 30),
    "C": (14, 17, 16, 16, 16, 17, 14), "D": (28, 18, 17, 17, 17, 18, 28),
    "E": (31, 16, 16, 30, 16, 16, 31), "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15), "H": (17, 17, 17, 31, 17, 17, 17),
    "I": (14, 4, 4, 4, 4, 4, 14), "J": (7, 2, 2, 2, 2, 18, 12),
    "K": (17, 18, 20, 24, 20, 18, 17), "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17), "N": (17, 17, 25, 21, 19, 17, 17),
    "O": (14, 17, 17, 17, 17, 17, 14), "P": (30, 17, 17, 30, 16, 16, 16),
    "Q": (14, 17, 17, 17, 21, 18, 13), "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30), "T": (31, 4, 4, 4, 4, 4, 4),
    "U": (17, 17, 17, 17, 17, 17, 14), "V": (17, 17, 17, 17, 17, 10, 4),
    "W": (17, 17, 17, 21, 21, 21, 10), "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 17, 10, 4, 4, 4), "Z": (31, 1, 2, 4, 8, 16, 31),
    " ": (0,) * 7, ".": (0, 0, 0, 0, 0, 12, 12), ",": (0, 0, 0, 0, 12, 4, 8),
    ":": (0, 12, 12, 0, 12, 12, 0), ";": (0, 12, 12, 0, 12, 4, 8),
    "-": (0, 0, 0, 31, 0, 0, 0), "_": (0, 0, 0, 0, 0, 0, 31),
    "(": (2, 4, 8, 8, 8, 4, 2), ")": (8, 4, 2, 2, 2, 4, 8), "/": (0, 1, 2, 4, 8, 16, 0),
    "=": (0, 0, 31, 0, 31, 0, 0), "+": (0, 4, 4, 31, 4, 4, 0),
    "%": (24, 25, 2, 4, 8, 19, 3), "<": (2, 4, 8, 16, 8, 4, 2), ">": (8, 4, 2, 1, 2, 4, 8),
    "^": (4, 10, 17, 0, 0, 0, 0), "*": (0, 4, 21, 14, 21, 4, 0),
    "[": (14, 8, 8, 8, 8, 8, 14), "]": (14, 2, 2, 2, 2, 2, 14), "|": (4,) * 7,
    "#": (10, 10, 31, 10, 31, 10, 10), "'": (12, 4, 8, 0, 0, 0, 0),
    "?": (14, 17, 1, 2, 4, 0, 4),
}
_BITMAPS = {c: np.array([[(row >> (4 - i)) & 1 for i in range(5)] for row in rows], bool)
            for c, rows in _GLYPHS.items()}

WHITE, BLACK, GREY = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (0.6, 0.6, 0.6)
LIGHT = (0.88, 0.88, 0.88)
BLUE, ORANGE, RED, TEAL = (0.2, 0.35, 0.75), (0.95, 0.55, 0.1), (0.85, 0.15, 0.1), (0.3, 0.7, 0.75)


def text_bitmap(s, scale=1):
    """A boolean ``[7 * scale, 6 * len(s) * scale]`` bitmap of ``s`` (5x7 glyphs, upper case)."""
    cols = []
    for ch in str(s):
        g = _BITMAPS.get(ch.upper(), _BITMAPS["?"])
        cols += [g, np.zeros((7, 1), bool)]
    bm = np.concatenate(cols, 1) if cols else np.zeros((7, 0), bool)
    return np.kron(bm, np.ones((scale, scale), bool)).astype(bool)


def text_width(s, scale=1):
    return 6 * len(str(s)) * scale


class Canvas:
    """An RGB float image ``[H, W, 3]`` in ``[0, 1]`` with a few drawing primitives."""

    def __init__(self, width, height, color=WHITE):
        self.img = np.empty((int(height), int(width), 3), np.float32)
        self.img[:] = color

    @property
    def shape(self):
        return self.img.shape[:2]

    def rect(self, x0, y0, x1, y1, color, fill=True):
        h, w = self.shape
        x0, x1 = sorted((int(round(x0)), int(round(x1))))
        y0, y1 = sorted((int(round(y0)), int(round(y1))))
        xa, xb, ya, yb = max(x0, 0), min(x1 + 1, w), max(y0, 0), min(y1 + 1, h)
        if xa >= xb or ya >= yb:
            return
        if fill:
            self.img[ya:yb, xa:xb] = color
        else:
            self.line(x0, y0, x1, y0, color)
            self.line(x0, y1, x1, y1, color)
            self.line(x0, y0, x0, y1, color)
            self.line(x1, y0, x1, y1, color)

    def line(self, x0, y0, x1, y1, color, width=1):
        n = int(max(abs(x1 - x0), abs(y1 - y0))) * 2 + 2
        xs = np.rint(np.linspace(x0, x1, n)).astype(int)
        ys = np.rint(np.linspace(y0, y1, n)).astype(int)
        h, w = self.shape
        r = (width - 1) // 2
        for dx in range(-r, width - r):
            for dy in range(-r, width - r):
                ok = (xs + dx >= 0) & (xs + dx < w) & (ys + dy >= 0) & (ys + dy < h)
                self.img[ys[ok] + dy, xs[ok] + dx] = color

    def disc(self, cx, cy, r, color):
        h, w = self.shape
        yy, xx = np.ogrid[:h, :w]
        self.img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = color

    def text(self, x, y, s, color=BLACK, scale=1, anchor="left", vertical=False):
        bm = text_bitmap(s, scale)
        if vertical:
            bm = np.rot90(bm)
        bh, bw = bm.shape
        if anchor == "center":
            x, y = (x - bw // 2, y) if not vertical else (x, y - bh // 2)
        elif anchor == "right":
            x = x - bw
        x, y = int(round(x)), int(round(y))
        h, w = self.shape
        ya, yb, xa, xb = max(y, 0), min(y + bh, h), max(x, 0), min(x + bw, w)
        if ya >= yb or xa >= xb:
            return
        sub = bm[ya - y:yb - y, xa - x:xb - x]
        self.img[ya:yb, xa:xb][sub] = color

    def to_uint8(self):
        return (np.clip(self.img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def nice_ticks(lo, hi, n=5):
    """Round tick values covering ``[lo, hi]``."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10.0 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = np.floor(lo / step) * step
    ticks = np.arange(start, hi + step * 0.999, step)
    return ticks, step


def _fmt(v, step):
    dec = max(0, int(-np.floor(np.log10(step)))) if step < 1 else 0
    return f"{v:.{dec}f}"


def layer_color(i, n):
    """Blue (first) to red (last)."""
    t = i / max(n - 1, 1)
    return (0.15 + 0.75 * t, 0.3 + 0.2 * (1 - abs(2 * t - 1)), 0.85 - 0.75 * t)


class Axes:
    """A panel of a canvas with linear x/y maps, a frame, ticks and a grid."""

    def __init__(self, canvas, box, xlim, ylim):
        self.c, (self.x0, self.y0, self.x1, self.y1) = canvas, box
        self.xlim, self.ylim = xlim, ylim

    def X(self, v):
        a, b = self.xlim
        return self.x0 + (v - a) / (b - a) * (self.x1 - self.x0)

    def Y(self, v):
        a, b = self.ylim
        return self.y1 - (v - a) / (b - a) * (self.y1 - self.y0)

    def frame(self, yticks=None, ystep=None, xticks=None, xstep=None, xlabels=None):
        c = self.c
        for t in yticks if yticks is not None else ():
            y = self.Y(t)
            c.line(self.x0, y, self.x1, y, LIGHT)
            c.text(self.x0 - 4, y - 3, _fmt(t, ystep), anchor="right")
        for t in xticks if xticks is not None else ():
            x = self.X(t)
            c.line(x, self.y0, x, self.y1, LIGHT)
            c.text(x, self.y1 + 5, _fmt(t, xstep), anchor="center")
        for x, s in xlabels or ():
            c.text(x, self.y1 + 5, s, anchor="center")
        c.rect(self.x0, self.y0, self.x1, self.y1, BLACK, fill=False)


def information_plane(result, title=""):
    """``uint8 [H, W, 3]``: the information plane of a probe result."""
    layers = result["layers"]
    n = len(layers)
    xs = np.array([r["I_XT"] for r in layers])
    ys = np.array([r["I_TXhat"] for r in layers])
    top = max(float(np.nanmax(xs)), float(np.nanmax(ys)), float(result["S_X"]), 1e-3) * 1.05
    ticks, step = nice_ticks(0.0, top)
    lim = (0.0, float(ticks[-1]))
    W, plot_h = 900, 520
    H = max(plot_h + 110, 70 + 11 * n + 40)
    c = Canvas(W, H)
    ax = Axes(c, (80, 50, 80 + plot_h, 50 + plot_h), lim, lim)
    ax.frame(ticks, step, ticks, step)
    c.text(80, 12, title or "information plane", scale=2)
    c.text(80, 34, f"n = {result['n']}, alpha = {result['alpha']}, gamma = {result['gamma']}; "
                   f"dashed: S(X) = {result['S_X']:.2f} bits")
    c.text(ax.x0 + plot_h / 2, ax.y1 + 22, "I(X;T) [bits]", anchor="center", scale=1)
    c.text(20, ax.y0 + plot_h / 2, "I(T;X^) [bits]", anchor="center", vertical=True)
    # S(X) reference lines
    sx = result["S_X"]
    for k in range(0, plot_h, 8):
        x = ax.X(sx)
        if ax.x0 <= x <= ax.x1:
            c.line(x, ax.y0 + k, x, min(ax.y0 + k + 3, ax.y1), GREY)
        y = ax.Y(sx)
        if ax.y0 <= y <= ax.y1:
            c.line(ax.x0 + k, y, min(ax.x0 + k + 3, ax.x1), y, GREY)
    px, py = ax.X(xs), ax.Y(ys)
    for i in range(1, n):
        c.line(px[i - 1], py[i - 1], px[i], py[i], GREY)
    chain = True
    for i, r in enumerate(layers):
        chain = chain and r["bijective"]
        col = layer_color(i, n)
        if chain:
            c.disc(px[i], py[i], 5, col)
        else:
            c.rect(px[i] - 4, py[i] - 4, px[i] + 4, py[i] + 4, col)
    # labels: runs of coinciding consecutive points share one label
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(px[j + 1] - px[i]) < 3 and abs(py[j + 1] - py[i]) < 3:
            j += 1
        c.text(px[i] + 7, py[i] - 10, str(i) if i == j else f"{i}-{j}")
        i = j + 1
    lx = ax.x1 + 30
    c.text(lx, 50, "layers (circle: bijective from the input)")
    for i, r in enumerate(layers):
        y = 66 + 11 * i
        c.rect(lx, y, lx + 6, y + 6, layer_color(i, n))
        c.text(lx + 10, y, f"{i:>2} {r['name'][:36]}")
    return c.to_uint8()


def entropy_change(result, title=""):
    """``uint8 [H, W, 3]``: per-layer entropy, information and entropy-change bars."""
    layers = result["layers"]
    n = len(layers)
    slot = max(12, min(40, 760 // max(n, 1)))
    W = max(900, 90 + slot * n + 40)
    ph, gap = 170, 60
    H = 60 + 3 * ph + 2 * gap + 80
    c = Canvas(W, H)
    c.text(80, 12, title or "entropy per layer", scale=2)
    c.text(80, 34, f"n = {result['n']}, alpha = {result['alpha']}, gamma = {result['gamma']}; "
                   f"x axis: layer index (see the information plane for names)")
    x0, x1 = 80, 80 + slot * n
    xlabels = [(x0 + slot * (i + 0.5), str(i)) for i in range(n)
               if n <= 40 or i % max(1, n // 20) == 0 or i == n - 1]

    def panel(k, label, series, colors, legend):
        y0 = 60 + k * (ph + gap)
        vals = np.array([v for s in series for v in s if v is not None] or [0.0], float)
        lo, hi = min(0.0, float(vals.min())), max(0.0, float(vals.max()))
        if hi - lo < 1e-9:
            lo, hi = lo - 1.0, hi + 1.0
        ticks, step = nice_ticks(lo, hi, 4)
        ax = Axes(c, (x0, y0, x1, y0 + ph), (0, n), (float(ticks[0]), float(ticks[-1])))
        ax.frame(ticks, step, xlabels=xlabels)
        zero = ax.Y(0.0)
        c.line(x0, zero, x1, zero, BLACK)
        m = len(series)
        bw = max(2, (slot - 4) // m)
        for j, (s, col) in enumerate(zip(series, colors)):
            for i, v in enumerate(s):
                left = x0 + slot * i + 2 + j * bw
                if v is None:
                    if j == m - 1 and k == 2 and i > 0:
                        cx, cy = left + bw / 2, zero
                        c.line(cx - 3, cy - 3, cx + 3, cy + 3, RED)
                        c.line(cx - 3, cy + 3, cx + 3, cy - 3, RED)
                    continue
                c.rect(left, ax.Y(v), left + bw - 1, zero, col)
        c.text(x0, y0 - 14, label)
        lx = x0 + text_width(label) + 20
        for txt, col in zip(legend, colors):
            c.rect(lx, y0 - 14, lx + 6, y0 - 8, col)
            c.text(lx + 10, y0 - 14, txt)
            lx += text_width(txt) + 30

    panel(0, "(a) bits:", [[r["S"] for r in layers], [r["I_XT"] for r in layers]],
          [TEAL, BLUE], ["S_alpha(T)", "I_alpha(X;T)"])
    panel(1, "(b) bits:", [[r["dS"] for r in layers]], [GREY],
          ["dS_alpha = S(T_l) - S(T_l-1)"])
    panel(2, "(c) bits:", [[r["dh_bits"] for r in layers]], [ORANGE],
          ["exact dh = E log|det J_l| / ln 2   (x: not defined, information lost before)"])
    return c.to_uint8()


def write_png(path, img):
    import tensorflow as tf
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(np.asarray(img, np.uint8)))
    return path


def write_plots(result, out_dir, prefix="probe", title=""):
    """Writes ``<out_dir>/<prefix>_information_plane.png`` and ``..._entropy_change.png``."""
    return [write_png(os.path.join(out_dir, f"{prefix}_information_plane.png"),
                      information_plane(result, title)),
            write_png(os.path.join(out_dir, f"{prefix}_entropy_change.png"),
                      entropy_change(result, title))]
