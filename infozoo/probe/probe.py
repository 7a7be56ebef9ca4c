"""The information probe: per-layer entropy and information of any zoo model.

#### What it measures

``model.representations(x)`` (see ``ZooModel.representations``) gives the ordered
representations ``T_0 = X, T_1, ..., T_L = X_hat`` of a probe batch, each a
:class:`~infozoo.util.representation.Representation` (or a dict with its fields) with
``bijective`` (the step ``T_{l-1} -> T_l`` is a bijection) and ``logdet`` (its
per-example ``log|det J_l|``, or None). An entry may also carry ``dropped``
``[B, ...]``: the part of ``T_{l-1}`` the step throws away (INN zero-padding, PIE
splits). For every entry the probe returns

- ``name``, ``dim`` (flattened size), ``bijective``;
- ``logdet``: the batch mean of ``log|det J_l|`` in nats (None where the layer has none);
- ``dh_bits``: the *exact* change of differential entropy through the layer,
  ``h(T_l) - h(T_{l-1}) = E log|det J_l|`` (in bits), defined only while every step
  from the input is a bijection (afterwards ``T_{l-1}`` has no density on its space
  and the identity does not apply: None); ``h_bits`` is its running sum, ``h(T_l) - h(X)``;
- ``S``: the matrix-based Renyi entropy ``S_alpha(T_l)`` (bits), ``dS`` its change from
  the previous entry;
- ``I_XT`` = ``I_alpha(X; T_l)`` and ``I_TXhat`` = ``I_alpha(T_l; X_hat)``: the
  information plane;
- ``sigma``: the kernel width the width rule gave that layer.

For every entry with a dropped part, ``dropped`` lists its ``dim``, ``energy``
(batch mean of ``||r||^2``), ``share`` (that energy over the energy of the
representation it was cut from), ``S`` = ``S_alpha(r)`` and ``I_X`` = ``I_alpha(X; r)``,
to be read next to ``I_X_Xhat`` = ``I_alpha(X; X_hat)``.

#### How the work is split under ``tf.distribute``

One ``tf.function`` (never XLA-compiled) runs ``strategy.run`` over the replicas:

1. **Forward pass, data parallel.** The probe batch of ``n`` examples is cut into
   ``R`` contiguous shards (``n`` must be a multiple of ``R``); each replica runs
   ``model.representations`` on its shard.
2. **All-gather.** Every representation (and log-det, and dropped part) is
   all-gathered in replica order, so each replica holds the whole batch in the
   original order: Gram matrices need all ``n`` examples.
3. **Eigen-decompositions, layer parallel.** The ``O(n^3)`` work is one job per
   entry (``S(T)``, ``S(X, T)``, ``S(T, X_hat)``: three ``eigvalsh``) and one per
   dropped part (two ``eigvalsh``). Job ``j`` runs on replica ``j mod R`` only
   (``tf.cond`` on the replica id); the others contribute zeros. The Gram matrices of
   ``X`` and ``X_hat``, needed by every job, are built on every replica (``O(n^2 d)``).
4. **All-reduce.** A sum over replicas assembles the table. Each entry is computed by
   exactly one replica and ``a + 0 = a`` exactly, so the result equals the
   1-replica result up to the forward pass on shards (float32 rounding of
   batch-size-dependent kernels), far below ``1e-5`` bits.

With the default strategy (one replica) the same code runs without the gather and
the conditions.
"""
import math
import warnings

import numpy as np
import tensorflow as tf

from infozoo.distribute import strategy as distribute

from infozoo.probe import renyi
from infozoo.probe.settings import ProbeSettings

LN2 = math.log(2.0)


class Probe:
    """``Probe(model)(x) -> dict``: the per-layer figures of ``model`` on the batch ``x``.

    ``model``: a zoo model, any model with ``representations(x)``, or a plain Functional /
    Sequential Keras model (every layer's output is an entry, see
    :func:`infozoo.probe.keras_models.keras_representations`).
    ``estimators``: names from :mod:`infozoo.probe.estimators` (default ``input-noise``:
    ``I(X; T_l)`` with the noise added once at the input, the per-layer figure that no
    bijection changes); ``"renyi"`` gives the matrix-based Renyi figures (``S``, ``I_XT``,
    ... at the top of each layer), every other name the Shannon figures under
    ``estimates[name]``. ``options``: ``{name: {option: value}}`` for them; ``sigma``: the
    noise scale of ``noisy`` (in each layer's units, required with it) and of
    ``input-noise`` (in input units, default 2.0);
    ``ci``: confidence level of the intervals (e.g. 0.95; None: none); ``n_boot``: bootstrap
    resamples. ``strategy``: a ``tf.distribute`` strategy (default: the current one);
    ``alpha``: Renyi order (1.01); ``gamma``/``factor``: the width rule of
    :mod:`infozoo.probe.renyi`; ``eager=True`` runs without ``tf.function`` (for tests).
    ``dropped_entropy``: None (default), ``"gaussian"``, ``"flow"`` or a dict (``model``,
    ``dequantize``, and options of :func:`infozoo.probe.padding.dropped_entropy`): adds
    ``h_given_kept``, the upper bound of ``h(dropped | kept)`` (bits), to every dropped
    part (:mod:`infozoo.probe.padding`).
    These settings come as one :class:`~infozoo.probe.settings.ProbeSettings`
    (``settings=``), as keywords (``Probe(m, estimators=["ksg"], ci=0.95)``), or both (the
    keywords replace the record's fields); ``probe.settings`` holds them resolved.
    The ``tf.function`` is traced once per batch shape and reused.
    """

    def __init__(self, model, strategy=None, settings=None, eager=False, **kwargs):
        from infozoo.probe import estimators as est_lib
        settings = ProbeSettings.of(settings, **kwargs)
        self.model = model
        est = settings.estimators
        self.estimators = est_lib.parse_names(est if isinstance(est, str) else ",".join(est))
        self.renyi = "renyi" in self.estimators
        self.options = {k: dict(v) for k, v in (settings.options or {}).items()}
        unused = sorted(set(self.options) - set(self.estimators))
        if unused:
            raise ValueError(f"options given for {', '.join(map(repr, unused))}, which "
                             f"{'is' if len(unused) == 1 else 'are'} not among the estimators "
                             f"{self.estimators}: options take estimator names, one of "
                             f"{', '.join(est_lib.estimator_names())}")
        sigma = settings.sigma
        if sigma is not None:   # the noise scale of noisy (layer units), input-noise (input units)
            for name in ("noisy", "input-noise"):
                if name in self.estimators:
                    self.options.setdefault(name, {}).setdefault("sigma", float(sigma))
        self.ci = None if settings.ci is None else est_lib.base.check_level(settings.ci)
        self.n_boot = settings.n_boot
        # configured once (bad options fail here, before any TensorFlow work)
        self._est = {name: est_lib.get_estimator(name, **self.options.get(name, {}))
                     for name in self.estimators if name != "renyi"}
        self.strategy = strategy or tf.distribute.get_strategy()
        self.alpha = renyi.check_alpha(settings.alpha)
        self.gamma = renyi.check_gamma(settings.gamma)
        self.factor = float(settings.factor)
        if not self.factor > 0:
            raise ValueError(f"factor must be > 0, got {settings.factor}")
        self.dropped_entropy = _padding_options(settings.dropped_entropy)
        #: the settings as resolved and checked (what ``assemble`` reports)
        self.settings = settings.replace(
            estimators=tuple(self.estimators), options=self.options, ci=self.ci,
            alpha=self.alpha, gamma=self.gamma, factor=self.factor,
            dropped_entropy=self.dropped_entropy)
        self.eager = bool(eager)
        self.meta = None
        self._representations = None
        self._fn = tf.function(self._distributed, jit_compile=False, autograph=False)

    @property
    def replicas(self):
        return int(self.strategy.num_replicas_in_sync)

    # -- graph ---------------------------------------------------------------------
    def _distributed(self, x):
        return self.strategy.run(self._replica_step, args=(x,))

    def _replica_step(self, x):
        ctx = tf.distribute.get_replica_context()
        R = int(ctx.num_replicas_in_sync)
        gather = lambda t: tf.ensure_shape(  # noqa: E731  (even shards: R x the local batch)
            distribute.gather_batch(t), [R * t.shape[0], *t.shape[1:]]) if R > 1 else t
        reps = self._representations(x)
        if len(reps) < 2:
            raise ValueError("representations(x) must return at least input and reconstruction")
        meta, flat, logdets, dropped = [], [], [], []
        for i, r in enumerate(reps):
            v = renyi.flatten64(gather(r.value))
            dim = v.shape[1]
            if dim is None:
                raise ValueError(f"representation {r.name!r} has no static size")
            ld = r.logdet
            m = {"name": str(r.name), "dim": int(dim), "bijective": bool(r.bijective),
                 "injective": bool(r.injective), "has_logdet": ld is not None,
                 "dropped_dim": None}
            flat.append(v)
            logdets.append(tf.reduce_mean(tf.cast(gather(ld), renyi.DTYPE))
                           if ld is not None else tf.zeros([], renyi.DTYPE))
            dr = r.dropped
            if dr is not None:
                d = renyi.flatten64(gather(dr))
                if d.shape[1]:
                    m["dropped_dim"] = int(d.shape[1])
                    dropped.append((i, d))
            meta.append(m)
        self.meta = meta
        alpha, gamma, factor = self.alpha, self.gamma, self.factor
        L = len(flat)
        if self.renyi:
            kx, sx = renyi.gram(flat[0], gamma, factor)
            kxh, sxh = renyi.gram(flat[-1], gamma, factor)

        def layer_job(l):
            def run():
                if l == 0:
                    k, s = kx, sx
                elif l == L - 1:
                    k, s = kxh, sxh
                else:
                    k, s = renyi.gram(flat[l], gamma, factor)
                return tf.stack([renyi.matrix_entropy(k, alpha),
                                 renyi.joint_entropy(kx, k, alpha),
                                 renyi.joint_entropy(k, kxh, alpha), s])
            return run

        def dropped_job(d):
            def run():
                k, s = renyi.gram(d, gamma, factor)
                return tf.stack([renyi.matrix_entropy(k, alpha), renyi.joint_entropy(kx, k, alpha),
                                 s, tf.zeros([], renyi.DTYPE)])
            return run

        jobs = [layer_job(l) for l in range(L)] + [dropped_job(d) for _, d in dropped]
        if not self.renyi:
            jobs = [lambda: tf.zeros([4], renyi.DTYPE)] * len(jobs)
        rows = []
        if R > 1:
            rid = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
            zeros = lambda: tf.zeros([4], renyi.DTYPE)  # noqa: E731
            for j, job in enumerate(jobs):
                rows.append(tf.cond(tf.equal(rid, j % R), job, zeros))
        else:
            rows = [job() for job in jobs]
        table = tf.stack(rows)
        if R > 1:
            table = ctx.all_reduce(tf.distribute.ReduceOp.SUM, table)
        energy = lambda t: tf.reduce_mean(tf.reduce_sum(t * t, axis=1))  # noqa: E731
        d_energy = tf.stack([energy(d) for _, d in dropped] or [tf.zeros([], renyi.DTYPE)])
        prev_energy = tf.stack([energy(flat[i - 1]) for i, _ in dropped]
                               or [tf.zeros([], renyi.DTYPE)])
        return {"S": table[:, 0], "S_XT": table[:, 1], "S_TXhat": table[:, 2],
                "sigma": table[:, 3], "logdet": tf.stack(logdets), "dropped_energy": d_energy,
                "prev_energy": prev_energy, "reps": flat, "dropped": [d for _, d in dropped]}

    # -- host ----------------------------------------------------------------------
    def _shards(self, x):
        R = self.replicas
        per = len(x) // R

        def shard(ctx):
            i = ctx.replica_id_in_sync_group
            return tf.constant(x[i * per:(i + 1) * per])
        return self.strategy.experimental_distribute_values_from_function(shard)

    def _resolve(self, x):
        if self._representations is None:
            from infozoo.probe.keras_models import representations_of
            self._representations = representations_of(self.model, x)

    def raw(self, x):
        """The tensors of the probe as NumPy arrays: named per-entry fields (``S``,
        ``S_XT``, ``S_TXhat``, ``sigma``, ``logdet``, ...) and the gathered
        representations ``reps`` / ``dropped`` (lists of ``[n, d]`` float64)."""
        dtype = getattr(self.model, "compute_dtype", "float32")
        x = np.asarray(x, dtype=dtype if dtype in ("float32", "float64") else "float32")
        self._resolve(x)
        R = self.replicas
        if len(x) < 2 * R or len(x) % R:
            raise ValueError(f"the probe batch ({len(x)} examples) must be a multiple of the "
                             f"{R} replica(s) and at least {2 * R}")
        if R > 1:
            out = (self._distributed if self.eager else self._fn)(self._shards(x))
            local = lambda v: self.strategy.experimental_local_results(v)[0]  # noqa: E731
            out = {k: ([local(t) for t in v] if isinstance(v, list) else local(v))
                   for k, v in out.items()}
        elif self.eager:
            out = self._distributed(tf.constant(x))
        else:
            out = self._fn(tf.constant(x))
        out = {k: ([np.asarray(t, np.float64) for t in v] if isinstance(v, list)
                   else np.asarray(v, np.float64)) for k, v in out.items()}
        out["x"] = x   # the batch as the model reads it (input-noise runs the model again)
        return out

    def shannon(self, raw):
        """``{estimator: {"layers": [{"I_XT": Estimate, "I_TXhat": Estimate}], "dropped":
        [{"I_X": Estimate}]}}`` for every estimator but ``renyi``."""
        from infozoo.probe.estimators import estimate
        reps, out = raw["reps"], {}
        kw = dict(ci=self.ci, n_boot=self.n_boot, strategy=self.strategy)
        for name, est in self._est.items():
            if getattr(est, "needs_model", False):   # input-noise: I(X; T_l), noise at the input
                ests = est.layer_estimates(self._representations, raw["x"], self.meta,
                                           ci=self.ci, n_boot=self.n_boot,
                                           strategy=self.strategy)
                out[name] = {"layers": [{"I_XT": e, "I_TXhat": None} for e in ests],
                             "dropped": [{"I_X": None} for _ in raw["dropped"]],
                             "skipped": {self.meta[i]["name"]: why
                                         for i, why in sorted(est.skipped.items())}}
                continue
            layers = []
            last = None
            for t in reps:
                i_xt = estimate(est, reps[0], t, **kw)
                if est.uses_x or last is None:  # noisy: I(T; X^ + sigma Z) is h(X^ + ..) - h
                    last = estimate(est, t, reps[-1], **kw)  # for every T (data processing)
                layers.append({"I_XT": i_xt, "I_TXhat": last})
            out[name] = {"layers": layers,
                         "dropped": [{"I_X": estimate(est, reps[0], d, **kw)}
                                     for d in raw["dropped"]]}
        return out

    def padding(self, raw):
        """``h(dropped | kept)`` of every dropped part (:func:`infozoo.probe.padding.
        padding_entropy`), or [] when ``dropped_entropy`` was not asked."""
        if self.dropped_entropy is None or not raw["dropped"]:
            return []
        from infozoo.probe.padding import padding_entropy
        return padding_entropy(self._representations, raw["x"], self.meta, ci=self.ci,
                               n_boot=self.n_boot, **self.dropped_entropy)

    def __call__(self, x):
        raw = self.raw(x)
        out = assemble(self.meta, raw, n=len(x), replicas=self.replicas,
                       settings=self.settings, shannon=self.shannon(raw))
        add_padding(out, self.padding(raw))
        return out


def _padding_options(spec):
    """``dropped_entropy`` as a dict of options (``model`` set), or None."""
    if spec is None or spec is False or spec == "none":
        return None
    from infozoo.probe.padding import MODELS
    opts = {"model": spec} if isinstance(spec, str) else dict(spec)
    opts.setdefault("model", "flow")
    if opts["model"] not in MODELS:
        raise ValueError(f"dropped_entropy must be None, one of {', '.join(MODELS)} or a dict "
                         f"of options, got {spec!r}")
    import inspect
    from infozoo.probe.padding import dropped_entropy
    known = (set(inspect.signature(dropped_entropy).parameters) - {"dropped", "kept", "ci",
                                                                    "n_boot"}
             | {"dequantize", "block"})
    bad = sorted(set(opts) - known)
    if bad:
        raise ValueError(f"dropped_entropy: unknown option(s) {', '.join(bad)}; known: "
                         f"{', '.join(sorted(known))}")
    return opts


def add_padding(result, padding):
    """Puts the :func:`~infozoo.probe.padding.padding_entropy` figures into the ``dropped``
    entries of a probe result (``h_given_kept``, ``h_before_bits``, ``h_kept_bits``);
    entries without one get None."""
    by_index = {p["index"]: p for p in padding}
    for d in result["dropped"]:
        p = by_index.get(d["index"], {})
        for key in ("h_given_kept", "h_before_bits", "h_kept_bits"):
            d[key] = _jsonable(p.get(key))
    return result


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def _f(v):
    return None if v is None else float(v)


def assemble(meta, raw, n, replicas, settings, shannon=None):
    """The JSON-able result from the static layer info, the probe's tensors and its resolved
    ``settings`` (a ``ProbeSettings``, as ``Probe.settings``: its ``alpha``, ``gamma``,
    ``factor``, ``ci`` are reported).

    Rényi fields (``S``, ``dS``, ``I_XT``, ``I_TXhat``, ``sigma``, ``S_X``, ...) are None
    when ``renyi`` was not asked; ``estimates[name]`` holds every other estimator's
    ``I_XT`` / ``I_TXhat`` (or ``I_X`` for a dropped part) as ``Estimate.as_dict()``."""
    renyi_on = "renyi" in settings.estimators
    L = len(meta)
    S, S_XT, S_TXhat, width = raw["S"], raw["S_XT"], raw["S_TXhat"], raw["sigma"]
    R = (lambda v: float(v)) if renyi_on else (lambda v: None)  # noqa: E731
    s_x, s_xh = S[0], S[L - 1]
    shannon = shannon or {}
    layers, chain, h = [], True, 0.0
    prev_s = None
    for i, m in enumerate(meta):
        ld = float(raw["logdet"][i]) if m["has_logdet"] else None
        if i > 0:
            chain = chain and m["bijective"] and ld is not None
        dh = (ld / LN2) if (i > 0 and chain) else None
        if dh is not None:
            h += dh
        layers.append({
            "index": i, "name": m["name"], "dim": m["dim"], "bijective": m["bijective"],
            "logdet": ld, "dh_bits": _f(dh), "h_bits": (0.0 if i == 0 else (h if chain else None)),
            "S": R(S[i]), "dS": None if (prev_s is None or not renyi_on) else float(S[i] - prev_s),
            "I_XT": R(s_x + S[i] - S_XT[i]), "I_TXhat": R(S[i] + s_xh - S_TXhat[i]),
            "sigma": R(width[i]),
            "estimates": {name: {k: _d(e) for k, e in v["layers"][i].items()}
                          for name, v in shannon.items()},
        })
        prev_s = S[i]
    dropped = []
    k = 0
    for i, m in enumerate(meta):
        if m["dropped_dim"] is None:
            continue
        e, pe = raw["dropped_energy"][k], raw["prev_energy"][k]
        dropped.append({"index": i, "layer": m["name"], "dim": m["dropped_dim"],
                        "energy": float(e), "share": float(e / pe) if pe > 0 else 0.0,
                        "S": R(S[L + k]), "I_X": R(s_x + S[L + k] - S_XT[L + k]),
                        "sigma": R(width[L + k]),
                        "estimates": {name: {"I_X": _d(v["dropped"][k]["I_X"])}
                                      for name, v in shannon.items()}})
        k += 1
    warn = ceiling_warnings(layers, dropped) + order_warnings(layers)
    for w in warn:
        warnings.warn(w, stacklevel=3)
    return {"n": int(n), "alpha": settings.alpha, "gamma": settings.gamma,
            "factor": settings.factor, "replicas": int(replicas), "S_X": R(s_x),
            "S_Xhat": R(s_xh), "I_X_Xhat": layers[-1]["I_XT"], "log2_n": math.log2(n),
            "estimators": (["renyi"] if renyi_on else []) + list(shannon), "ci": settings.ci,
            "estimator_options": {name: shannon[name]["layers"][0]["I_XT"].options
                                  for name in shannon},
            "layers": layers, "dropped": dropped, "warnings": warn,
            "not_estimated": {name: v["skipped"] for name, v in shannon.items()
                              if v.get("skipped")}}


def order_warnings(layers, names=("input-noise",)):
    """One message per estimator of a Markov-chain quantity (``input-noise``'s ``I(X; T_l)``
    never rises along the network) whose figure at some layer lies above an earlier
    layer's beyond both intervals: the estimate, not the network, broke the data processing
    inequality (for ``input-noise``: the first-order pushforward does not hold at this
    ``sigma``)."""
    out = []
    for name in names:
        best, where = None, []
        for r in layers:
            e = r.get("estimates", {}).get(name, {}).get("I_XT")
            if e is None:
                continue
            lo = e["low"] if e.get("low") is not None else e["value"]
            hi = e["high"] if e.get("high") is not None else e["value"]
            if best is not None and lo > best[1]:
                where.append(f"{r['name']} ({e['value']:.2f} above {best[0]}'s "
                             f"{best[2]:.2f})")
            if best is None or hi < best[1]:
                best = (r["name"], hi, e["value"])
        if where:
            out.append(f"{name}: the data processing inequality fails at {', '.join(where)}: "
                       f"the estimate is not valid there (the first-order pushforward of the "
                       f"input noise does not hold at this sigma: use a smaller one)")
    return out


def _d(e):
    return None if e is None else e.as_dict()


def ceiling_warnings(layers, dropped=()):
    """One message per estimator whose figures reach their ceiling (``log2 n`` for the
    sample-propagation estimators) within their interval: there the figure is the sample's
    limit, not the layer's information (raise ``n``, or ``sigma`` for the noise estimators)."""
    hits = {}
    for r in list(layers) + list(dropped):
        for name, e in r.get("estimates", {}).items():
            for key, v in e.items():
                if v is not None and v.get("at_ceiling"):
                    hits.setdefault((name, v["ceiling"]), []).append(
                        f"{r.get('name', r.get('layer'))}:{key}")
    return [f"{name}: {len(where)} figure(s) within their interval of the ceiling "
            f"{ceil:.3f} bits (log2 n), e.g. {', '.join(where[:4])}: they show the sample's "
            f"limit, not the information; use more samples"
            + (" or a larger sigma" if name in ("noisy", "input-noise") else "")
            for (name, ceil), where in hits.items()]


def probe(model, x, strategy=None, **kwargs):
    """One-shot :class:`Probe` of a zoo model or a plain Keras model on the batch ``x``
    (``estimators``, ``sigma``, ``ci``, ``options``, ``alpha``, ``gamma``, ``factor``,
    ``eager`` as keywords)."""
    return Probe(model, strategy=strategy, **kwargs)(x)


def _interval(e, w=8):
    if e is None:
        return f"{'-':>{w}}"
    v = f"{e['value']:>{w}.3f}"
    return v if e.get("low") is None else f"{v} [{e['low']:.3f}, {e['high']:.3f}]"


def padding_lines(d):
    """The ``h(dropped | kept)`` lines of a dropped entry (none when it was not asked)."""
    h = d.get("h_given_kept")
    if not h:
        return []
    if h.get("value") is None:
        return [f"  h(dropped | kept) not estimated: {h.get('skipped')}"]
    iv = lambda e: "" if e.get("low") is None else f" [{e['low']:.1f}, {e['high']:.1f}]"  # noqa
    g, f = h["gaussian"], h.get("flow") or {}
    deq = h.get("dequantize")
    lines = [f"  h(dropped | kept) <= {h['value']:.1f}{iv(h)} bits ({h['per_dim']:.3f} "
             f"bits/dim, {h['dim']} dims; {h['model']} chosen on the validation rows; "
             f"gaussian {g['value']:.1f}"
             + (f", flow {f['value']:.1f} (best step {f['best_step']} of {f['steps']})"
                if f.get("value") is not None else "")
             + f"; rows {h['n_train']}/{h['n_val']}/{h['n_eval']} fit/val/held out"
             + (f"; input + U(0, {deq:g})" if deq else "") + ")"]
    hk = d.get("h_kept_bits")
    if hk is not None:
        lines.append(f"  entropy view: h(z) - h(X) = sum dh = {d['h_before_bits']:.1f} bits, "
                     f"so h(kept) - h(X) >= {hk['value']:.1f}{iv(hk)} bits")
    return lines


def format_table(result):
    """A plain-text table of a probe result: the exact log-dets and the Renyi figures, then
    one block per Shannon estimator with its intervals."""
    head = (f"{'#':>3} {'layer':24s} {'dim':>6} {'bij':>3} {'logdet':>9} {'dh[bit]':>9} "
            f"{'S[bit]':>8} {'dS':>8} {'I(X;T)':>8} {'I(T;X^)':>8}")
    lines = [head, "-" * len(head)]
    fmt = lambda v, w, p=3: f"{'-':>{w}}" if v is None else f"{v:>{w}.{p}f}"  # noqa: E731
    for r in result["layers"]:
        lines.append(f"{r['index']:>3} {r['name'][:24]:24s} {r['dim']:>6} "
                     f"{'yes' if r['bijective'] else 'no':>3} {fmt(r['logdet'], 9, 2)} "
                     f"{fmt(r['dh_bits'], 9, 2)} {fmt(r['S'], 8)} {fmt(r['dS'], 8)} "
                     f"{fmt(r['I_XT'], 8)} {fmt(r['I_TXhat'], 8)}")
    if result["S_X"] is not None:
        lines.append(f"Renyi-alpha matrix functional (not Shannon): n = {result['n']}, "
                     f"alpha = {result['alpha']}, gamma = {result['gamma']}, replicas = "
                     f"{result['replicas']}; S(X) = {result['S_X']:.3f}, I(X;X^) = "
                     f"{result['I_X_Xhat']:.3f} bits (log2 n = {result['log2_n']:.3f})")
    else:
        lines.append(f"n = {result['n']}, replicas = {result['replicas']} (no Renyi figures: "
                     f"add renyi to the estimators for S, I(X;T), I(T;X^) above)")
    for d in result["dropped"]:
        extra = "" if d["S"] is None else f", S = {d['S']:.3f}, I(X;dropped) = {d['I_X']:.3f} bits"
        lines.append(f"dropped at {d['layer']}: dim {d['dim']}, energy {d['energy']:.4g} "
                     f"({100 * d['share']:.2f}% of its input){extra}")
        lines += padding_lines(d)
    ci = result.get("ci")
    for name in result.get("estimators", []):
        if name == "renyi":
            continue
        opts = ", ".join(f"{k}={v}" for k, v in result["estimator_options"][name].items())
        lines.append("")
        ceil = result["layers"][0]["estimates"][name]["I_XT"].get("ceiling")
        lines.append(f"{name} ({opts}): Shannon MI in bits" +
                     (f", {100 * ci:g}% bootstrap intervals" if ci else "") +
                     (f", ceiling {ceil:.3f} (log2 n)" if ceil is not None else ""))
        lines.append(f"{'#':>3} {'layer':24s} {'I(X;T)':>28} {'I(T;X^)':>28}")
        for r in result["layers"]:
            e = r["estimates"][name]
            lines.append(f"{r['index']:>3} {r['name'][:24]:24s} {_interval(e['I_XT']):>28} "
                         f"{_interval(e['I_TXhat']):>28}")
        for d in result["dropped"]:
            lines.append(f"    dropped at {d['layer']}: I(X;dropped) = "
                         f"{_interval(d['estimates'][name]['I_X'], 0).strip()}")
    for name, skipped in result.get("not_estimated", {}).items():
        for layer, why in skipped.items():
            lines.append(f"{name}: {layer} not estimated: {why}")
    for w in result.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)
