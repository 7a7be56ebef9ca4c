"""``h(dropped | kept)``: the entropy a zero-padding (or a factor-out split) removes, bounded
from above by a conditional density model fitted on the probe's rows.

#### What it bounds

An INN autoencoder maps ``x`` to ``z = F(x)`` (a bijection, ``h(z) = h(X) + E log|det J|``,
the probe's ``dh_bits``), keeps ``k = z[:bottleneck]`` and zero-pads ``d = z[bottleneck:]``.
The chain rule of differential entropy splits the latent's entropy at the padding,

    h(z) = h(k) + h(d | k),    so    h(k) - h(X) = sum_l dh_l - h(d | k)      (bits)

and ``h(d | k)`` is the entropy the padding removes. For any conditional density ``q`` the
cross-entropy is an upper bound (Gibbs' inequality),

    E_p[-log q(d | k)] = h(d | k) + E_k KL(p(d | k) || q(d | k)) >= h(d | k),

so the mean of ``-log2 q(d_i | k_i)`` over rows the model never saw estimates an upper bound
of ``h(d | k)`` without bias (and a lower bound of ``h(k) - h(X)``). ``h`` is the
differential entropy of the ``D``-dimensional ``d`` in the latent's own units, in bits
(total over the ``D`` coordinates; ``per_dim`` divides by ``D``). It can be negative and
is not invariant under a rescaling of ``d`` (``h(a d) = h(d) + D log2 |a|``): it is the
literal entropy bookkeeping of the layers, next to ``dh_bits``, not an information.

**Data.** 8-bit images have a discrete law, for which ``h(d | k) = -inf`` and every bound
holds trivially. The probe therefore dequantises (``dequantize`` = ``w``: the rows are
``x + u``, ``u ~ U(0, w)`` per pixel, as ``FlowModel(dequantize=True)``; ``infozoo probe``
uses ``w = 1/256``): ``X + U`` has a density, and with ``w`` at most the grid spacing
``h(X + U) = H(X) + D_x log2 w`` (``-8`` bits per pixel at ``w = 1/256``). The figure then
bounds ``h(d | k)`` of ``F(X + U)``, ``X`` the law of the test images the rows are drawn
from. Without ``dequantize`` the rows are taken as samples of a continuous law.

#### The models (fitted on a training split, selected on a validation split)

The rows are split at random (``seed``) into ``holdout`` (evaluation), ``val`` of the rest
(selection, early stopping) and the rest (fit).

1. **Gaussian**: the linear-Gaussian regression ``d | k ~ N(A k + b, S)``; ``A, b`` by least
   ridge regression (penalty ``ridge`` per row); ``S`` the residual covariance (divided by
   ``n - df``) shrunk to its diagonal, ``(1 - lam) S + lam diag(S)`` (``D`` can exceed the
   training rows); ``ridge`` (or no regression) and ``lam`` chosen together on the
   validation rows.
   Its cross-entropy is ``1/2 log det(2 pi e S)`` plus the misfit: for jointly Gaussian
   ``(k, d)`` it reaches ``h(d | k)`` as the rows grow.
2. **Flow**: an infozoo conditional :class:`~infozoo.layers.Flow` (``blocks`` x
   (:class:`~infozoo.layers.GLOWCoupling` with dense subnets of ``hidden`` units that read
   the standardised ``k``, :class:`~infozoo.layers.FixedPermutation`)) on the Gaussian's
   whitened residual ``u = L^-1 (d - A k - b)``, ``S = L L^T``:
   ``log q(d | k) = log q_flow(u | k) - log|det L|``. The couplings start as the identity
   (zero-initialised last layers), so at step 0 the flow *is* the Gaussian; Adam on the
   NLL, validation NLL every ``eval_every`` steps, stop after ``patience`` checks without
   improvement, best weights (step 0 included) restored.

The reported ``value`` is the flow's held-out figure at the step the validation rows chose
(the Gaussian's when that is step 0: ``model`` says which). Choosing the smaller of two
held-out figures would bias the bound down; choosing on the validation rows does not. Both
held-out figures are given (``gaussian``, ``flow``).

**Interval** (``ci``): percentile bootstrap of the mean of the held-out rows' ``-log2 q``
terms (``n_boot`` resamples): the spread of the finite evaluation split for the fitted
``q``, not of the fit. Read the bound as ``h(d | k) <= high`` at that level.
"""
import math

import numpy as np

from infozoo.probe.estimators import base
from infozoo.util.representation import Representation

LN2 = math.log(2.0)
MODELS = ("gaussian", "flow")
SHRINKAGE = (0.0, 1e-3, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
RIDGE = (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0, None)   # None: d independent of k


def _gaussian_nll(r, L):
    """Per-row ``-log N(r; 0, L L^T)`` in nats for residuals ``r [m, D]``."""
    from scipy.linalg import solve_triangular
    u = solve_triangular(L, r.T, lower=True)
    D = r.shape[1]
    return 0.5 * (u * u).sum(0) + np.log(np.diag(L)).sum() + 0.5 * D * math.log(2 * math.pi)


def _chol(S):
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return None


def fit_gaussian(d_tr, c_tr, d_va, c_va):
    """The linear-Gaussian regression of :mod:`this module <infozoo.probe.padding>`:
    ``(predict, L, choice, val_nll)``, ``predict(c) -> A c + b``, ``L`` the Cholesky factor
    of the residual covariance; ``choice = {"ridge", "shrinkage"}`` are the ridge penalty of
    ``A`` (per row, ``None``: no regression on ``c``) and the shrinkage of the covariance to
    its diagonal that gave the smallest validation NLL (``val_nll``, nats/row). ``c_tr`` is
    centred (standardised) on the training rows; the residual covariance divides by
    ``n - df`` (``df`` the ridge fit's degrees of freedom), so a fit with as many
    parameters as rows does not read its own residuals as the noise."""
    n, p = c_tr.shape
    md = d_tr.mean(0)
    dc = d_tr - md
    e, V = np.linalg.eigh(c_tr.T @ c_tr)
    e = np.maximum(e, 0.0)
    cty = V.T @ (c_tr.T @ dc)
    floor = None
    best = (np.inf, None, None, None)
    for a in RIDGE:
        if a is None:
            B, df = np.zeros((p, d_tr.shape[1])), 1.0
        else:
            den = e + a * n
            if a == 0 and (n - p - 1 < 1 or e.min() <= 1e-10 * max(e.max(), 1e-300)):
                continue
            B, df = V @ (cty / den[:, None]), 1.0 + float((e / den).sum())
        r = dc - c_tr @ B
        S = r.T @ r / max(n - df, 1.0)
        diag = np.diag(S).copy()
        if floor is None:   # an exactly constant coordinate: the bound stays a density
            floor = 1e-12 * max(float(diag.mean()), 1e-300)
        diag = np.maximum(diag, floor)
        rv = d_va - md - c_va @ B
        for lam in SHRINKAGE:
            L = _chol((1.0 - lam) * S + lam * np.diag(diag) + floor * np.eye(len(diag)))
            if L is None:
                continue
            v = float(_gaussian_nll(rv, L).mean())
            if np.isfinite(v) and v < best[0]:
                best = (v, L, {"ridge": a, "shrinkage": lam}, B)
    if best[1] is None:
        raise ValueError("the residual covariance has no Cholesky factor at any shrinkage")
    B = best[3]
    return (lambda c: md + c @ B), best[1], best[2], best[0]


def _conditional_flow(D, p, blocks, hidden, clamp, seed):
    from infozoo import layers
    steps = []
    for b in range(blocks):
        steps += [layers.GLOWCoupling(subnet="dense", hidden=hidden, hidden_layers=1,
                                      activation="relu", clamp=clamp, cond_shape=(p,),
                                      name=f"hdk_c{b}"),
                  layers.FixedPermutation(seed=seed * 1000 + b, name=f"hdk_p{b}")]
    f = layers.Flow(steps, name="hdk_flow")
    f.build((None, D))
    return f


def _summary(terms_bits, level, n_boot, seed):
    v = float(terms_bits.mean())
    out = {"value": v, "low": None, "high": None}
    if level is not None:
        lo, hi = base.bootstrap_terms(terms_bits, level, n_boot, seed)
        out["low"], out["high"] = v + lo, v + hi
    return out


def dropped_entropy(dropped, kept, model="flow", ci=0.95, n_boot=1000, holdout=0.3, val=0.2,
                    blocks=2, hidden=64, steps=None, batch=128, lr=1e-3, clamp=2.0,
                    eval_every=20, patience=5, seed=0):
    """Upper bound of ``h(dropped | kept)`` in bits (module doc): a dict with ``value``,
    ``low``/``high`` (``ci`` level, percentile bootstrap over held-out rows), ``level``,
    ``per_dim`` (bits per dropped coordinate), ``model`` (``"gaussian"`` or ``"flow"``: the
    one the validation rows chose), ``dim``, ``cond_dim``, ``n_train``/``n_val``/``n_eval``,
    ``gaussian`` (``value``, ``low``, ``high``, ``ridge``, ``shrinkage``, ``val_nll``) and, with
    ``model="flow"``, ``flow`` (``value``, ``low``, ``high``, ``steps``, ``best_step``,
    ``val_nll``, ``val_nll_step0``, ``val_curve``: nats per row at every check).

    ``dropped [n, ...]``, ``kept [n, ...]``: paired rows. ``model``: ``"gaussian"`` (the
    linear-Gaussian regression alone) or ``"flow"`` (a conditional flow on its residual);
    ``steps``: at most this many Adam steps (default ``clip(40 n_train / batch, 200,
    2000)``); ``blocks``, ``hidden``, ``batch``, ``lr``, ``clamp``, ``eval_every``,
    ``patience``: the flow's size and training; ``seed``: the split and the flow's init.
    ValueError for too few rows (at least ``cond_dim + 12``) or a bad option."""
    if model not in MODELS:
        raise ValueError(f"dropped entropy: model must be one of {', '.join(MODELS)}, got "
                         f"{model!r}")
    if not (0 < float(holdout) < 1 and 0 < float(val) < 1):
        raise ValueError(f"dropped entropy: holdout and val must be in (0, 1), got {holdout}, "
                         f"{val}")
    c = lambda k, v, m=1: base.check_int("dropped entropy", k, v, m)  # noqa: E731
    blocks, hidden, batch = c("blocks", blocks), c("hidden", hidden), c("batch", batch, 2)
    eval_every, patience, n_boot = c("eval_every", eval_every), c("patience", patience), \
        c("n_boot", n_boot, 10)
    if not (float(lr) > 0 and float(clamp) > 0):
        raise ValueError(f"dropped entropy: lr and clamp must be > 0, got {lr}, {clamp}")
    level = None if ci is None else base.check_level(ci)
    d = base.as_matrix(dropped, "dropped", np.float64)
    k = base.as_matrix(kept, "kept", np.float64)
    if len(d) != len(k):
        raise ValueError(f"dropped and kept must hold the same rows, got {len(d)} and {len(k)}")
    n, D, p = len(d), d.shape[1], k.shape[1]
    rng = np.random.RandomState(seed)
    perm = rng.permutation(n)
    n_eval = max(4, int(round(n * float(holdout))))
    n_val = max(4, int(round((n - n_eval) * float(val))))
    n_tr = n - n_eval - n_val
    if n_tr < p + 4:
        raise ValueError(f"dropped entropy: {n} rows are too few for a {p}-dimensional "
                         f"condition (need {n_eval} held out, {n_val} for validation and at "
                         f"least {p + 4} to fit): probe more samples")
    ev, va, tr = perm[:n_eval], perm[n_eval:n_eval + n_val], perm[n_eval + n_val:]
    mk, sk = k[tr].mean(0), k[tr].std(0)
    kc = (k - mk) / np.where(sk > 0, sk, 1.0)        # the condition, standardised on tr
    predict, L, choice, g_val = fit_gaussian(d[tr], kc[tr], d[va], kc[va])
    g_terms = _gaussian_nll(d[ev] - predict(kc[ev]), L) / LN2
    out = {"model": "gaussian", "dim": D, "cond_dim": p, "n_train": n_tr, "n_val": n_val,
           "n_eval": n_eval, "level": level, "ci_method": None if level is None else "terms",
           "units": "bits (total over the dropped coordinates)", "seed": int(seed),
           "gaussian": {**_summary(g_terms, level, n_boot, seed), **choice,
                        "val_nll": g_val}}
    terms = g_terms
    if model == "flow":
        if D < 2:   # a coupling needs two coordinates
            out["flow"] = {"value": None, "skipped": "one dropped coordinate: no coupling"}
        else:
            f_terms, info = _fit_flow(d, kc, predict, L, tr, va, ev, blocks, hidden, steps,
                                      batch, float(lr), float(clamp), eval_every, patience,
                                      seed, rng)
            out["flow"] = {**_summary(f_terms, level, n_boot, seed), **info}
            if info["best_step"] > 0:
                out["model"], terms = "flow", f_terms
    out.update(_summary(terms, level, n_boot, seed))
    out["per_dim"] = out["value"] / D
    return out


def _fit_flow(d, kc, predict, L, tr, va, ev, blocks, hidden, steps, batch, lr, clamp,
              eval_every, patience, seed, rng):
    """Trains the conditional flow on the whitened residuals; ``(held-out terms in bits,
    info)``."""
    import keras
    import tensorflow as tf
    from scipy.linalg import solve_triangular
    D, p = d.shape[1], kc.shape[1]
    u = solve_triangular(L, (d - predict(kc)).T, lower=True).T.astype(np.float32)
    cf = kc.astype(np.float32)
    log_det_L = float(np.log(np.diag(L)).sum())
    n_tr = len(tr)
    per = min(batch, n_tr)
    steps = int(np.clip(40 * n_tr / per, 200, 2000)) if steps is None else int(steps)
    keras.utils.set_random_seed(seed)
    flow = _conditional_flow(D, p, blocks, hidden, clamp, seed)
    var = flow.trainable_variables
    opt = keras.optimizers.Adam(lr)
    opt.build(var)
    spec = [tf.TensorSpec([None, D], tf.float32), tf.TensorSpec([None, p], tf.float32)]

    @tf.function(input_signature=[tf.TensorSpec([None, None, D], tf.float32),
                                  tf.TensorSpec([None, None, p], tf.float32)],
                 jit_compile=False)
    def chunk(us, cs):
        ok = tf.constant(True)
        for i in tf.range(tf.shape(us)[0]):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(flow.log_prob(us[i], c=cs[i]))
            grads = tape.gradient(loss, var)
            opt.apply_gradients(zip(grads, var))
            ok = tf.logical_and(ok, tf.math.is_finite(loss))
        return ok

    @tf.function(input_signature=spec, jit_compile=False)
    def nll(ub, cb):
        return -flow.log_prob(ub, c=cb)

    def val_nll():   # nats per row of d (the whitening's log-det added back)
        return float(np.mean(np.asarray(nll(u[va], cf[va]), np.float64))) + log_det_L

    snap = lambda: [v.numpy() for v in var]  # noqa: E731
    best, best_step, best_w, since, it = val_nll(), 0, snap(), 0, 0
    start, curve = best, []
    diverged = False
    while it < steps:
        kk = min(eval_every, steps - it)
        sel = np.stack([rng.choice(n_tr, size=per, replace=False) for _ in range(kk)])
        ok = bool(chunk(tf.constant(u[tr][sel]), tf.constant(cf[tr][sel])))
        it += kk
        v = val_nll() if ok else float("nan")
        curve.append(v)
        if not np.isfinite(v):
            diverged = True
            break
        if v < best - 1e-3:
            best, best_step, best_w, since = v, it, snap(), 0
        else:
            since += 1
            if since >= patience:
                break
    for v, w in zip(var, best_w):
        v.assign(w)
    terms = (np.asarray(nll(u[ev], cf[ev]), np.float64) + log_det_L) / LN2
    info = {"steps": it, "best_step": best_step, "val_nll": best, "val_nll_step0": start,
            "val_curve": curve,
            "blocks": blocks, "hidden": hidden, "params": int(sum(np.prod(v.shape)
                                                                  for v in var))}
    if diverged:
        info["diverged_at"] = it
    return terms, info


def padding_entropy(representations, x, meta, model="flow", dequantize=None, block=256,
                    ci=0.95, n_boot=None, seed=0, **options):
    """Per entry of ``meta`` with a dropped part: ``{"index", "h_given_kept" (the dict of
    :func:`dropped_entropy`, or ``{"value": None, "skipped": why}``), "h_before_bits"
    (``h(T_{l-1}) - h(X)`` from the mean log-dets of the same rows, None unless every step
    before is a bijection with a log-det), "h_kept_bits"`` (``h(kept) - h(X) >= h_before -
    h(d | k)``: the lower bound, with ``low``/``high`` from the interval)``}``.

    ``representations``: the model's ``y -> entries``; ``x``: the probe batch; the rows are
    ``x + U(0, dequantize)`` (``seed``) when ``dequantize`` is given (module doc)."""
    import tensorflow as tf
    x = np.asarray(x)
    if dequantize is not None:
        w = float(dequantize)
        if not w > 0:
            raise ValueError(f"dequantize (the width of the uniform noise added to the input) "
                             f"must be > 0, got {dequantize}")
        x = x + np.random.RandomState(seed + 7919).uniform(0.0, w, x.shape).astype(x.dtype)
    want = [i for i, m in enumerate(meta) if m.get("dropped_dim")]
    if not want:
        return []
    kept = {i: [] for i in want}
    drop = {i: [] for i in want}
    ld_sum = np.zeros(len(meta))
    for s in range(0, len(x), int(block)):
        reps = [Representation.of(r) for r in representations(tf.constant(x[s:s + int(block)]))]
        for i in want:
            kept[i].append(np.asarray(reps[i].value, np.float64).reshape(
                len(reps[i].value), -1))
            drop[i].append(np.asarray(reps[i].dropped, np.float64).reshape(
                len(reps[i].dropped), -1))
        for j, r in enumerate(reps):
            if r.logdet is not None:
                ld_sum[j] += float(np.sum(np.asarray(r.logdet, np.float64)))
    out = []
    for i in want:
        chain = all(meta[j]["bijective"] and meta[j]["has_logdet"] for j in range(1, i))
        before = float(ld_sum[1:i].sum() / len(x) / LN2) if chain else None
        try:
            h = dropped_entropy(np.concatenate(drop[i]), np.concatenate(kept[i]), model=model,
                                ci=ci, n_boot=n_boot or 1000, seed=seed, **options)
            h["dequantize"] = None if dequantize is None else float(dequantize)
        except ValueError as e:
            if "too few" not in str(e):
                raise
            h = {"value": None, "skipped": str(e)}
        hk = None
        if before is not None and h.get("value") is not None:
            hk = {"value": before - h["value"],
                  "low": None if h["high"] is None else before - h["high"],
                  "high": None if h["low"] is None else before - h["low"]}
        out.append({"index": i, "h_given_kept": h, "h_before_bits": before, "h_kept_bits": hk})
    return out


def model_dropped_entropy(model, x, dropped_entropy="flow", dequantize=None, ci=0.95,
                          n_boot=None, seed=0, **options):
    """:func:`padding_entropy` of a zoo model (anything with ``representations``) on the
    batch ``x`` without the rest of the probe: one entry per dropped part, with its
    ``layer`` name (e.g. ``model_dropped_entropy(inn, x_test[:2000], dequantize=1/256)``)."""
    import tensorflow as tf
    if not hasattr(model, "representations"):
        raise ValueError("model_dropped_entropy needs a model with representations(x) (a zoo "
                         "model): a plain Keras model has no dropped parts")
    x = np.asarray(x, np.float32)
    reps = [Representation.of(r) for r in model.representations(tf.constant(x[:2]))]
    meta = [{"name": str(r.name), "bijective": bool(r.bijective),
             "has_logdet": r.logdet is not None,
             "dropped_dim": (None if r.dropped is None
                             else int(np.prod(r.dropped.shape[1:])) or None)}
            for r in reps]
    out = padding_entropy(model.representations, x, meta, model=dropped_entropy,
                          dequantize=dequantize, ci=ci, n_boot=n_boot, seed=seed, **options)
    for o in out:
        o["layer"] = meta[o["index"]]["name"]
    return out
