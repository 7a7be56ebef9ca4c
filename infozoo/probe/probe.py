"""The information probe: per-layer entropy and information of any zoo model.

#### What it measures

``model.representations(x)`` (see ``ZooModel.representations``) gives the ordered
representations ``T_0 = X, T_1, ..., T_L = X_hat`` of a probe batch, each with
``bijective`` (the step ``T_{l-1} -> T_l`` is a bijection) and ``logdet`` (its
per-example ``log|det J_l|``, or None). An entry may also carry ``"dropped"``
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

import numpy as np
import tensorflow as tf

from infozoo.probe import renyi

LN2 = math.log(2.0)


class Probe:
    """``Probe(model)(x) -> dict``: the per-layer figures of ``model`` on the batch ``x``.

    ``strategy``: a ``tf.distribute`` strategy (default: the current one);
    ``alpha``: Renyi order (1.01); ``gamma``/``factor``: the width rule of
    :mod:`infozoo.probe.renyi`; ``eager=True`` runs without ``tf.function`` (for tests).
    The ``tf.function`` is traced once per batch shape and reused.
    """

    def __init__(self, model, strategy=None, alpha=renyi.DEFAULT_ALPHA, gamma="median",
                 factor=1.0, eager=False):
        self.model = model
        self.strategy = strategy or tf.distribute.get_strategy()
        self.alpha = renyi.check_alpha(alpha)
        self.gamma = renyi.check_gamma(gamma)
        self.factor = float(factor)
        if not self.factor > 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        self.eager = bool(eager)
        self.meta = None
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
        gather = (lambda t: ctx.all_gather(t, axis=0)) if R > 1 else (lambda t: t)
        reps = self.model.representations(x)
        if len(reps) < 2:
            raise ValueError("representations(x) must return at least input and reconstruction")
        meta, flat, logdets, dropped = [], [], [], []
        for i, r in enumerate(reps):
            v = renyi.flatten64(gather(r["value"]))
            dim = v.shape[1]
            if dim is None:
                raise ValueError(f"representation {r['name']!r} has no static size")
            ld = r.get("logdet")
            m = {"name": str(r["name"]), "dim": int(dim), "bijective": bool(r["bijective"]),
                 "has_logdet": ld is not None, "dropped_dim": None}
            flat.append(v)
            logdets.append(tf.reduce_mean(tf.cast(gather(ld), renyi.DTYPE))
                           if ld is not None else tf.zeros([], renyi.DTYPE))
            dr = r.get("dropped")
            if dr is not None:
                d = renyi.flatten64(gather(dr))
                if d.shape[1]:
                    m["dropped_dim"] = int(d.shape[1])
                    dropped.append((i, d))
            meta.append(m)
        self.meta = meta
        alpha, gamma, factor = self.alpha, self.gamma, self.factor
        L = len(flat)
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
        return {"table": table, "logdet": tf.stack(logdets), "dropped_energy": d_energy,
                "prev_energy": prev_energy}

    # -- host ----------------------------------------------------------------------
    def _shards(self, x):
        R = self.replicas
        per = len(x) // R

        def shard(ctx):
            i = ctx.replica_id_in_sync_group
            return tf.constant(x[i * per:(i + 1) * per])
        return self.strategy.experimental_distribute_values_from_function(shard)

    def raw(self, x):
        """The tensors of the probe (``table``, ``logdet``, ...) as NumPy arrays."""
        x = np.asarray(x, dtype=np.float32)
        R = self.replicas
        if len(x) < 2 * R or len(x) % R:
            raise ValueError(f"the probe batch ({len(x)} examples) must be a multiple of the "
                             f"{R} replica(s) and at least {2 * R}")
        if R > 1:
            out = (self._distributed if self.eager else self._fn)(self._shards(x))
            out = {k: self.strategy.experimental_local_results(v)[0] for k, v in out.items()}
        elif self.eager:
            out = self._distributed(tf.constant(x))
        else:
            out = self._fn(tf.constant(x))
        return {k: np.asarray(v, np.float64) for k, v in out.items()}

    def __call__(self, x):
        raw = self.raw(x)
        return assemble(self.meta, raw, n=len(x), alpha=self.alpha, gamma=self.gamma,
                        factor=self.factor, replicas=self.replicas)


def _f(v):
    return None if v is None else float(v)


def assemble(meta, raw, n, alpha, gamma, factor, replicas):
    """The JSON-able result from the static layer info and the probe's tensors."""
    table, L = raw["table"], len(meta)
    s_x, s_xh = table[0, 0], table[L - 1, 0]
    layers, chain, h = [], True, 0.0
    prev_s = None
    for i, m in enumerate(meta):
        s_t, s_xt, s_txh, sigma = table[i]
        ld = float(raw["logdet"][i]) if m["has_logdet"] else None
        if i > 0:
            chain = chain and m["bijective"] and ld is not None
        dh = (ld / LN2) if (i > 0 and chain) else None
        if dh is not None:
            h += dh
        layers.append({
            "index": i, "name": m["name"], "dim": m["dim"], "bijective": m["bijective"],
            "logdet": ld, "dh_bits": _f(dh), "h_bits": (0.0 if i == 0 else (h if chain else None)),
            "S": float(s_t), "dS": None if prev_s is None else float(s_t - prev_s),
            "I_XT": float(s_x + s_t - s_xt), "I_TXhat": float(s_t + s_xh - s_txh),
            "sigma": float(sigma),
        })
        prev_s = s_t
    dropped = []
    k = 0
    for i, m in enumerate(meta):
        if m["dropped_dim"] is None:
            continue
        s_r, s_xr = table[L + k, 0], table[L + k, 1]
        e, pe = raw["dropped_energy"][k], raw["prev_energy"][k]
        dropped.append({"index": i, "layer": m["name"], "dim": m["dropped_dim"],
                        "energy": float(e), "share": float(e / pe) if pe > 0 else 0.0,
                        "S": float(s_r), "I_X": float(s_x + s_r - s_xr),
                        "sigma": float(table[L + k, 2])})
        k += 1
    return {"n": int(n), "alpha": alpha, "gamma": gamma, "factor": factor,
            "replicas": int(replicas), "S_X": float(s_x), "S_Xhat": float(s_xh),
            "I_X_Xhat": layers[-1]["I_XT"], "log2_n": math.log2(n),
            "layers": layers, "dropped": dropped}


def probe(model, x, strategy=None, **kwargs):
    """One-shot :class:`Probe` (``alpha``, ``gamma``, ``factor``, ``eager`` as keywords)."""
    return Probe(model, strategy=strategy, **kwargs)(x)


def format_table(result):
    """A plain-text table of a probe result."""
    head = (f"{'#':>3} {'layer':24s} {'dim':>6} {'bij':>3} {'logdet':>9} {'dh[bit]':>9} "
            f"{'S[bit]':>8} {'dS':>8} {'I(X;T)':>8} {'I(T;X^)':>8}")
    lines = [head, "-" * len(head)]
    fmt = lambda v, w, p=3: f"{'-':>{w}}" if v is None else f"{v:>{w}.{p}f}"  # noqa: E731
    for r in result["layers"]:
        lines.append(f"{r['index']:>3} {r['name'][:24]:24s} {r['dim']:>6} "
                     f"{'yes' if r['bijective'] else 'no':>3} {fmt(r['logdet'], 9, 2)} "
                     f"{fmt(r['dh_bits'], 9, 2)} {fmt(r['S'], 8)} {fmt(r['dS'], 8)} "
                     f"{fmt(r['I_XT'], 8)} {fmt(r['I_TXhat'], 8)}")
    lines.append(f"n = {result['n']}, alpha = {result['alpha']}, gamma = {result['gamma']}, "
                 f"replicas = {result['replicas']}; S(X) = {result['S_X']:.3f}, "
                 f"I(X;X^) = {result['I_X_Xhat']:.3f} bits (log2 n = {result['log2_n']:.3f})")
    for d in result["dropped"]:
        lines.append(f"dropped at {d['layer']}: dim {d['dim']}, energy {d['energy']:.4g} "
                     f"({100 * d['share']:.2f}% of its input), S = {d['S']:.3f}, "
                     f"I(X;dropped) = {d['I_X']:.3f} bits")
    return "\n".join(lines)
