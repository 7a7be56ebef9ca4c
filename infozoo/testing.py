"""Test harnesses for invertible layers and zoo models, for infozoo's own suites and plug-ins.

``check_invertible(layer, x, c=None)`` runs every check infozoo's invariant suite runs on its
own layers (``tests/test_layers.py``), in the spirit of Keras' ``run_layer_test`` and TFP's
``bijector_test_util``; ``check_model(model, x)`` does the same for a ``ZooModel``
(``tests/test_models.py``). Each raises ``AssertionError`` naming the check that failed.
The single checks (``check_round_trip``, ``check_logdet``, ...) can be called alone.

Tolerances come from the arithmetic: float32 round trips agree to ~1e-5 relative after a
few layers (oneDNN may reorder sums); the float64 log-det against ``slogdet`` of an autodiff
Jacobian to 1e-8; under a mixed policy a layer's own arithmetic stays float32 (the round trip
is float32-exact) while its subnets run in bf16/fp16, so the Jacobian's off-diagonal blocks
carry the low dtype's machine epsilon (bf16 2^-7, fp16 2^-10).
"""
import json

import numpy as np

#: machine epsilon of each mixed policy's compute dtype (8 and 11 significand bits)
MIXED_EPS = {"mixed_bfloat16": 2.0 ** -7, "mixed_float16": 2.0 ** -10}


def _tf():
    import tensorflow as tf
    return tf


def _close(actual, desired, rtol, atol, what):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol,
                               err_msg=what)


def check_round_trip(layer, x, c=None, scale=1.0):
    """``inverse(forward(x)) = x`` and ``forward(inverse(y)) = y`` to float32 precision, the
    forward log-det equals minus the inverse's, one log-det per example, and a conditional
    layer depends on (and requires) its condition. ``scale``: the inputs' scale (atol grows
    with it)."""
    tf = _tf()
    y, ld_f = layer.forward(x, c)
    x_back, ld_i = layer.inverse(tf.identity(y), c)
    _close(x_back, x, 1e-5, 1e-5 * scale, "inverse(forward(x)) != x")
    _close(ld_f, -layer.inverse(y, c)[1], 1e-5, 1e-5,
           "forward log-det != -inverse log-det")
    y2 = np.random.RandomState(7).normal(0, scale, tuple(y.shape)).astype("float32")
    x2, _ = layer.inverse(y2, c)
    _close(layer.forward(tf.identity(x2), c)[0], y2, 1e-5, 1e-5 * scale,
           "forward(inverse(y)) != y")
    assert tuple(ld_f.shape) == (x.shape[0],), \
        f"the log-det must be per example, shape [{x.shape[0]}], got {list(ld_f.shape)}"
    if c is not None:
        assert np.abs(layer.forward(x, c[::-1])[0] - y).max() > 1e-4, \
            "the condition does not change the map"
        try:
            layer.forward(x)
        except ValueError as e:
            assert "conditional" in str(e), f"a missing condition gave an unclear error: {e}"
        else:
            raise AssertionError("a conditional layer accepted a call without its condition")
    return y, ld_f


def _jacobian(fn, x):
    tf = _tf()
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = fn(x)
        y_flat = tf.reshape(y, [x.shape[0], -1])
    jac = tape.batch_jacobian(y_flat, x)
    return y, ld, tf.reshape(jac, [x.shape[0], y_flat.shape[1], -1]).numpy()


def check_logdet(layer, x, c=None, nontrivial=None):
    """Both log-dets equal ``slogdet`` of an autodiff ``batch_jacobian``, to 1e-8; ``layer``
    must compute in float64 (``as_dtype(layer, "float64")``). ``nontrivial``: also require
    ``max |log-det| > 1e-3`` (a test of a Jacobian that is not the identity's)."""
    tf = _tf()
    x = np.asarray(x, "float64")
    c = None if c is None else np.asarray(c, "float64")
    y, ld, jac = _jacobian(lambda t: layer.forward(t, c), x)
    sign, logabs = np.linalg.slogdet(jac)
    assert np.all(sign != 0), "the Jacobian is singular: the layer is not invertible here"
    _close(ld, logabs, 1e-8, 1e-8, "forward log-det != log|det| of the autodiff Jacobian")
    if nontrivial:
        assert np.abs(logabs).max() > 1e-3, "the Jacobian tested is volume-preserving"
    _, ld_i, jac_i = _jacobian(lambda t: layer.inverse(t, c), tf.identity(y).numpy())
    _close(ld_i, np.linalg.slogdet(jac_i)[1], 1e-8, 1e-8,
           "inverse log-det != log|det| of the autodiff Jacobian of the inverse")


def check_gradients(layer, x, c=None):
    """Finite gradients for the input and every trainable variable through forward, inverse
    and the log-det (and ``log_prob`` of a multi-scale flow)."""
    tf = _tf()
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x, c)
        x_back, _ = layer.inverse(y, c)
        loss = tf.reduce_mean(y ** 2) - tf.reduce_mean(ld) + tf.reduce_mean(x_back)
        if getattr(layer, "multiscale", False):  # the split priors' g enter the density only
            loss += tf.reduce_mean(layer.log_prob(x, c))
    targets = [x] + list(layer.trainable_variables)
    for v, g in zip(targets, tape.gradient(loss, targets)):
        assert g is not None, f"no gradient for {getattr(v, 'path', 'the input')}"
        assert np.all(np.isfinite(g)), f"non-finite gradient for {getattr(v, 'path', 'input')}"


def _clone(layer, x, dtype=None):
    """The layer rebuilt from its config through JSON (as a ``.keras`` file stores it), with
    its weights; ``dtype``: every dtype policy of the config (nested layers too) replaced."""
    import keras
    cfg = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    if dtype is not None:
        cfg = _with_policy(cfg, dtype)
    clone = keras.saving.deserialize_keras_object(cfg)
    if not clone.built:
        clone.build((None, *np.shape(x)[1:]))
    assert len(clone.weights) == len(layer.weights), \
        f"the config round trip made {len(clone.weights)} weights, the layer has " \
        f"{len(layer.weights)}: get_config misses an argument"
    for v, w in zip(clone.weights, layer.get_weights()):
        v.assign(np.asarray(w).astype(v.dtype) if "float" in str(v.dtype) else w)
    return clone


def _with_policy(cfg, dtype):
    if isinstance(cfg, dict):
        out = {k: _with_policy(v, dtype) for k, v in cfg.items()}
        if out.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and \
                isinstance(out.get("config"), dict):
            out["config"] = {**out["config"], "name": dtype}
        elif isinstance(out.get("dtype"), str):
            out["dtype"] = dtype
        return out
    if isinstance(cfg, list):
        return [_with_policy(v, dtype) for v in cfg]
    return cfg


def as_dtype(layer, dtype, x):
    """A copy of the built ``layer`` under another dtype policy (``"float64"``,
    ``"mixed_bfloat16"``, ...), with the same weights (cast)."""
    return _clone(layer, x, dtype)


def check_config_round_trip(layer, x, c=None):
    """``get_config`` through JSON rebuilds a layer that, with the same weights, computes the
    same forward (to 1e-6) and inverts the original's output."""
    tf = _tf()
    clone = _clone(layer, x)
    _close(clone.forward(x, c)[0], layer.forward(x, c)[0], 1e-6, 1e-6,
           "the layer rebuilt from get_config computes another forward")
    _close(clone.inverse(tf.identity(layer.forward(x, c)[0]), c)[0], x, 1e-5, 1e-5,
           "the layer rebuilt from get_config does not invert the original")
    return clone


def check_mixed_policy(layer, x, c=None, policy="mixed_bfloat16", jacobian=True):
    """Under a mixed policy ``layer`` (built with ``dtype=policy``) computes in float32 with
    its plain subnets in the low precision: the round trip stays float32-exact and the
    log-det matches the float32 autodiff Jacobian to the low dtype's epsilon."""
    tf = _tf()
    low = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[policy]
    assert layer.compute_dtype == "float32", \
        f"under {policy} a layer's own arithmetic must be float32, not {layer.compute_dtype}"
    subnets = [lay for lay in layer._flatten_layers(include_self=False)  # leaves with weights
               if lay.trainable_variables and not hasattr(lay, "forward")
               and not lay._flatten_layers(include_self=False)]
    for net in subnets:
        assert net.compute_dtype == low, \
            f"{net.name} computes in {net.compute_dtype}, not {low} as {policy} asks"
    x = tf.constant(np.asarray(x, "float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x, c)
        y_flat = tf.reshape(y, [x.shape[0], -1])
    assert y.dtype == tf.float32 and ld.dtype == tf.float32, \
        f"under {policy} forward must return float32, got {y.dtype.name}/{ld.dtype.name}"
    x_back, ld_i = layer.inverse(tf.identity(y), c)
    # exact up to float32 rounding: the inverse recomputes every subnet on the same input
    _close(x_back, x, 1e-5, 1e-5, f"inverse(forward(x)) != x under {policy}")
    _close(ld, -ld_i, 1e-5, 1e-5, f"forward log-det != -inverse log-det under {policy}")
    if not subnets or not jacobian:
        return subnets
    jac = tape.batch_jacobian(y_flat, x)
    jac = tf.reshape(jac, [x.shape[0], y_flat.shape[1], -1]).numpy().astype("float64")
    # the log-det is the float32 sum of the applied log-scales; autodiff's Jacobian goes
    # through the subnets' low-precision backward pass, whose off-diagonal blocks (which
    # cancel in the exact determinant) carry relative errors of eps: ~eps * (1 + |log-det|)
    eps = MIXED_EPS[policy]
    _close(ld, np.linalg.slogdet(jac)[1], eps, eps,
           f"log-det != the autodiff Jacobian's under {policy}")
    return subnets


def check_invertible(layer, x, c=None, policies=tuple(MIXED_EPS)):
    """Every check of infozoo's invariant suite on a built invertible ``layer`` (float32) at
    the batch ``x`` (and condition ``c``): round trips at x1 and x30 scale, forward/inverse
    log-dets consistent, both log-dets against an autodiff Jacobian in float64, finite
    gradients, the config round trip through JSON, and each mixed policy of ``policies``.
    Raises ``AssertionError`` naming the failed check.

    A plug-in layer: build it, give it non-trivial weights (a zero-initialised coupling is
    the identity and would pass a wrong log-det) and call this in a test::

        layer = MyCoupling(...); layer.build((None, 6))
        for v in layer.trainable_variables: v.assign(rng.normal(0, 0.2, v.shape))
        infozoo.testing.check_invertible(layer, rng.normal(size=(5, 6)).astype("float32"))
    """
    if not layer.built:
        layer.build((None, *np.shape(x)[1:]))
    x = np.asarray(x, "float32")
    for scale in (1.0, 30.0):
        check_round_trip(layer, x * scale, c, scale=scale)
    check_logdet(as_dtype(layer, "float64", x), x[:3],
                 None if c is None else np.asarray(c)[:3])
    check_gradients(layer, x, c)
    check_config_round_trip(layer, x, c)
    for policy in policies:
        check_mixed_policy(as_dtype(layer, policy, x), x[:2],
                           None if c is None else np.asarray(c, "float32")[:2], policy)


# -- models -------------------------------------------------------------------------------
def check_model(model, x, tmp_dir=None):
    """The shared model checks on a built ``ZooModel`` at the batch ``x``: shapes of
    ``encode``/``decode``/``reconstruct`` (and ``sample``), the flow's round trip where the
    model has one, finite gradients of the loss, the config round trip (and the ``.keras``
    round trip if ``tmp_dir`` is given) and clear errors for bad batches."""
    x = np.asarray(x, "float32")
    z = model.encode(x)
    assert tuple(z.shape) == (len(x), model.code_size), \
        f"encode gave {list(z.shape)}, expected [{len(x)}, {model.code_size}] (code_size)"
    assert tuple(model.decode(z).shape) == x.shape, "decode does not give images back"
    assert tuple(model.reconstruct(x).shape) == x.shape, "reconstruct changes the shape"
    if model.can_sample:
        s = model.sample(3, 1.0, seed=0)
        assert tuple(s.shape) == (3, *x.shape[1:]) and np.all(np.isfinite(s)), \
            "sample(3) must give 3 finite images"
        np.testing.assert_array_equal(model.sample(3, 1.0, seed=0), s,
                                      err_msg="sample(n, seed=s) must fix the samples")
    flow = getattr(model, "flow", None)
    if flow is not None:
        check_flow_round_trip(flow, x)
    check_model_gradients(model, x)
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    _close(clone.encode(x), model.encode(x), 1e-6, 1e-6, "from_config(get_config()) encodes "
           "differently")
    _close(clone.reconstruct(x), model.reconstruct(x), 1e-6, 1e-6,
           "from_config(get_config()) reconstructs differently")
    if tmp_dir is not None:
        import os

        import keras
        path = os.path.join(str(tmp_dir), "check_model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, compile=False)
        _close(loaded.reconstruct(x), model.reconstruct(x), 1e-6, 1e-6,
               "the .keras file reloads to another model")
    bad = x.copy()
    bad[0].flat[0] = np.nan
    for fn in [model.encode, model.reconstruct] + (
            [model.log_prob] if hasattr(model, "log_prob") else []):
        for arg, match in ((bad, "NaN or infinite"), (x[:, :-1], "expects batches of shape")):
            try:
                fn(arg)
            except ValueError as e:
                assert match in str(e), f"{fn.__name__}: unclear error {e}"
            else:
                raise AssertionError(f"{fn.__name__} accepted a bad batch ({match})")


def check_flow_round_trip(flow, x):
    """A model's flow maps ``x`` to its latent and back, log-dets of opposite sign."""
    tf = _tf()
    y, ld = flow.forward(x)
    x_back, ld_i = flow.inverse(tf.identity(y))
    _close(x_back, x, 1e-4, 1e-4, "the model's flow does not invert")
    _close(ld, -ld_i, 1e-4, 1e-4, "the model's flow: forward log-det != -inverse log-det")


def check_model_gradients(model, x):
    tf = _tf()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.loss_terms(x, training=True)["loss"])
    grads = tape.gradient(loss, model.trainable_variables)
    for v, g in zip(model.trainable_variables, grads):
        assert g is not None, f"no gradient for {v.path}"
        assert np.all(np.isfinite(g)), f"non-finite gradient for {v.path}"
