"""The base of every infozoo model: one dict of loss terms, one train/test step.

A model implements ``loss_terms(x, training) -> {name: per-example tensor}``
with the total objective under ``"loss"``; ``train_step`` averages every term
over the *global* batch (``tf.nn.compute_average_loss``, so a mirrored run
equals a single-device run), and every term is a Keras metric: it shows in the
progress bar and in TensorBoard. Under a strategy, draws go through
``batch_noise`` and batch-level estimators through ``global_mmd`` /
``infozoo.distribute.strategy.gather_batch``, so N replicas compute what one device does
(``infozoo.distribute.strategy``). Models also implement ``encode``/``decode``
(and ``sample`` where they can), which the exporter turns into SavedModel
endpoints.

Mixed precision (``infozoo.run.precision``): a model built under a mixed Keras
policy keeps it (``.keras`` reloads rebuild it under the same policy); its
plain networks compute in the low precision, while the model's own arithmetic
(losses, priors, metrics) uses the policy's variable dtype, float32.
"""
import inspect
import itertools

import keras
import numpy as np
import tensorflow as tf

from infozoo.distribute import strategy as distribute
from infozoo.data import inputs
from infozoo.settings.hparams import HParams
from infozoo.losses.mmd import DEFAULT_SCALES, mmd
from infozoo.run.precision import policy_scope
from infozoo.util.representation import Representation
from infozoo.settings.registry import register_model  # noqa: F401  (re-exported for model files)

#: keyword arguments a ZooModel passes on to ``keras.Model`` (everything else is a
#: hyperparameter of ``hparams``)
KERAS_KWARGS = ("name", "dtype", "trainable", "autocast")


def _is_concrete(x):
    """True for numpy arrays, lists and eager tensors (not inside ``tf.function``/symbolic)."""
    if not tf.executing_eagerly() or isinstance(x, keras.KerasTensor):
        return False
    return not isinstance(x, tf.data.Dataset)


class _HParamSignature:
    """``inspect.signature(Model)`` (``help()``, IDEs): ``input_shape`` and every declared
    hyperparameter with its default, for a model whose ``__init__`` takes them as
    ``**kwargs``; otherwise ``__init__``'s own. Instances get Python's usual signature."""

    def __get__(self, obj, cls):
        if obj is not None:
            raise AttributeError("__signature__")
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # no self
        own = inspect.Signature(params)
        if not cls.hparams or not params or params[-1].kind is not inspect.Parameter.VAR_KEYWORD \
                or any(p.name in cls.hparams for p in params):
            return own
        leading = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        sig = cls.hparams.signature(leading)
        return sig.replace(parameters=list(sig.parameters.values())[1:])


class ZooModel(keras.Model):
    #: names of the per-example terms ``loss_terms`` returns, ``"loss"`` first
    term_names = ("loss",)
    #: terms that depend on random draws even when ``training=False``
    random_terms = ()
    #: True where ``sample(n)`` draws from the model's prior
    can_sample = False

    #: the model's typed hyperparameters (``infozoo.settings.hparams``): ``__init__`` checks them,
    #: ``self.hp`` holds their values, ``get_config`` returns them
    hparams = HParams()

    __signature__ = _HParamSignature()

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        owner = type(self).__name__
        hp = {k: kwargs.pop(k) for k in list(kwargs) if k in self.hparams}
        input_range = inputs.check_range_value(kwargs.pop("input_range", inputs.PIXELS))
        unknown = sorted(set(kwargs) - set(KERAS_KWARGS))
        if unknown:
            raise ValueError(f"{owner}: unknown hyperparameter(s) {', '.join(unknown)}; known: "
                             f"{', '.join(self.hparams.names()) or 'none'}")
        hp = self.hparams.check(hp, owner)
        super().__init__(**kwargs)
        #: the hyperparameters' values, checked and complete (defaults filled in)
        self.hp = hp
        self.image_shape = tuple(int(s) for s in input_shape)
        #: what ``encode``/``reconstruct``/``log_prob``/``loss_terms`` and the SavedModel
        #: accept: images in [0, 1] (``infozoo.data.inputs.PIXELS``), or None (any finite values)
        self.input_range = input_range
        self.trackers = [keras.metrics.Mean(name=n) for n in self.term_names]
        # every variable is made in __init__ (a subclass makes its own right after calling
        # this one; the shapes are known there), so the model is built from the start
        self.built = True

    @property
    def compute_dtype(self):
        """The policy's variable dtype: float32 under a mixed policy (see the module doc)."""
        return self.dtype_policy.variable_dtype

    @classmethod
    def from_config(cls, config):
        """Rebuilt under the saved dtype policy, so sublayers get the same precision."""
        with policy_scope(config.get("dtype")):
            return super().from_config(config)

    # -- the public entry points: check eager input, then call the subclass's _method -----
    def encode(self, x, training=False):
        """The code ``[batch, code_size]`` of a batch of images ``x``."""
        self._check_eager(x, self.check_input)
        return self._encode(x, training=training)

    def decode(self, z, training=False):
        """Images from codes ``z`` ``[batch, code_size]``."""
        self._check_eager(z, self.check_code)
        return self._decode(z, training=training)

    def reconstruct(self, x, training=False):
        """``decode(encode(x))``."""
        self._check_eager(x, self.check_input)
        return self._reconstruct(x, training=training)

    def sample(self, n, temperature=1.0, seed=None):
        """``n`` draws from the model's prior at ``temperature``, decoded. ``seed``: an int or a
        ``keras.random.SeedGenerator`` fixes the draws; ``None`` draws from TensorFlow's
        global generator (fresh draws on every call, also in an exported SavedModel)."""
        if not self.can_sample:
            raise TypeError(f"{type(self).__name__} has no prior to sample from")
        if _is_concrete(n) and _is_concrete(temperature):
            self.check_sample(n, temperature)
        return self._sample(n, temperature, seed)

    def sample_seeds(self):
        """An endless stream of ints for the ``seed=`` of successive ``sample`` calls, from
        the model's ``seed`` hyperparameter (a run's ``train.seed``; 0 for models without
        one): evaluation grids, sharpness and image callbacks draw with it, so a run's seed
        fixes its samples."""
        return itertools.count(int(self.hp.get("seed", 0)) * 1_000_003)

    def _check_eager(self, x, check):
        """Inputs given eagerly from outside are checked (shape, NaN/inf); symbolic and
        traced ones are not (the model's own calls go to ``_encode``/... directly)."""
        if x is not None and _is_concrete(x):
            check(x)

    def loss_terms(self, x, training=False):
        """``{name: per-example tensor}`` of a batch ``x``, the objective under ``"loss"``."""
        self._check_eager(x, self.check_input)
        return self._loss_terms(x, training=training)

    # -- what subclasses implement -------------------------------------------------
    def _loss_terms(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement _loss_terms")

    def _encode(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement _encode")

    def _decode(self, z, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement _decode")

    def _reconstruct(self, x, training=False):
        return self._decode(self._encode(x, training=training), training=training)

    def _sample(self, n, temperature, seed):
        raise NotImplementedError(f"{type(self).__name__} must implement _sample")

    @property
    def code_size(self):
        raise NotImplementedError(f"{type(self).__name__} must implement code_size")

    def evaluator(self, **kwargs):
        """The model's :class:`infozoo.evaluation.evaluators.Evaluator` (model-specific metrics and
        figures as arrays; it writes nothing). Default: an empty report."""
        from infozoo.evaluation.evaluators import Evaluator
        return Evaluator(self, **kwargs)

    def export_endpoints(self):
        """``{name: (fn, [tf.TensorSpec, ...])}`` for the SavedModel. Default: encode,
        decode, reconstruct, and ``sample(n)`` where the model can sample."""
        x_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="x")
        z_spec = tf.TensorSpec([None, self.code_size], tf.float32, name="z")
        eps = {
            "encode": (lambda x: self.encode(x), [x_spec]),
            "decode": (lambda z: self.decode(z), [z_spec]),
            "reconstruct": (lambda x: self.reconstruct(x), [x_spec]),
        }
        if self.can_sample:
            eps["sample"] = (self._sample_endpoint,
                             [tf.TensorSpec([], tf.int32, name="n"),
                              tf.TensorSpec([], tf.float32, name="temperature"),
                              tf.TensorSpec([], tf.int64, name="seed")])
        return eps

    def _sample_endpoint(self, n, temperature, seed):
        """``sample(n, temperature, seed)``; a negative seed draws from TF's global generator."""
        return tf.cond(seed >= 0, lambda: self.sample(n, temperature, seed=seed),
                       lambda: self.sample(n, temperature))

    def representations(self, x):
        """Ordered intermediate representations for the information probe.

        A list of :class:`~infozoo.util.representation.Representation` (``name``,
        ``value`` [batch, ...], ``bijective``: the step from the previous entry is a
        bijection, ``logdet`` [batch] or None, ``dropped``, ``injective``), from ``"input"``
        through the code to ``"reconstruction"``. Models override this to expose every
        layer; the default has input, code and reconstruction.
        """
        code = self._encode(x)
        return [Representation("input", x, True), Representation("code", code, False),
                Representation("reconstruction", self._decode(code), False)]

    # -- randomness and batch-level estimators under tf.distribute -------------------
    def batch_noise(self, draw, shape):
        """``draw(shape)`` for this replica's rows of the global batch.

        ``draw(global_shape)`` must use the model's (mirrored) ``SeedGenerator``: every
        replica draws the global batch's noise with the same seed and keeps its own
        rows, so the global batch sees independent draws, the same as on one device.
        With one replica this is ``draw(shape)``."""
        shape = tf.cast(shape, tf.int32)
        offset, total = distribute.batch_rows(shape[0])
        if distribute._replica_context() is None:
            return draw(shape)
        full = draw(tf.concat([tf.reshape(total, [1]), shape[1:]], 0))
        return full[offset:offset + shape[0]]

    def global_mmd(self, z, prior_draw, kernel="imq", scales=DEFAULT_SCALES):
        """Unbiased MMD^2 between the *global* batch of codes ``z`` and ``prior_draw(n)``
        (``n`` draws, with the model's ``SeedGenerator``): the same value on every replica."""
        z_all = distribute.gather_batch(z)
        return mmd(z_all, prior_draw(tf.shape(z_all)[0]), kernel, scales)

    # -- shared behaviour ----------------------------------------------------------
    def call(self, x, training=False):
        return self.reconstruct(x, training=training)

    def build(self, input_shape=None):
        """Subclasses build every variable in ``__init__`` (shapes are known there)."""
        self.built = True

    def check_input(self, x, what="the batch"):
        """Raises a clear ValueError for a batch of the wrong shape, an empty one, one with
        NaN/inf or with values outside ``input_range`` (the rules of ``infozoo.data.inputs``,
        which the SavedModel endpoints apply too).

        ``encode``, ``reconstruct``, ``log_prob``, ``loss_terms`` and ``fit`` call it on
        eager inputs."""
        x = self._check(x, self.image_shape, what, "batches")
        inputs.check_range(x, self.input_range)
        return x

    def check_code(self, z, what="the codes"):
        """As :meth:`check_input` for ``decode``'s codes ``[batch, code_size]``."""
        return self._check(z, (self.code_size,), what, "codes")

    def check_sample(self, n, temperature=1.0):
        """ValueError unless ``n >= 1`` is an integer and ``temperature`` finite and >= 0."""
        inputs.check_sample(n, temperature)

    def _check(self, x, shape, what, kind):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{type(self).__name__}: {what} is not an array ({e})") from None
        if tuple(x.shape) == tuple(shape):
            raise ValueError(f"{type(self).__name__} expects {kind} of shape "
                             f"[batch, {', '.join(map(str, shape))}], got one example of "
                             f"shape {list(x.shape)} without the batch axis: add it, e.g. "
                             f"x[None] or np.expand_dims(x, 0)")
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
            raise ValueError(f"{type(self).__name__} expects {kind} of shape "
                             f"[batch, {', '.join(map(str, shape))}], got "
                             f"{list(x.shape)}: reshape it, or build the model with "
                             f"input_shape={list(x.shape[1:]) if x.ndim > 1 else '...'}"
                             if kind == "batches" else
                             f"{type(self).__name__} expects {kind} of shape "
                             f"[batch, {', '.join(map(str, shape))}], got "
                             f"{list(x.shape)}")
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"{what} has dtype {x.dtype}; expected numbers (float32)")
        if len(x) == 0:
            raise ValueError(f"{type(self).__name__}: "
                             f"{inputs.empty_message('x' if kind == 'batches' else 'z')}: "
                             f"pass at least one example")
        bad = ~np.isfinite(x)
        if bad.any():
            idx = np.unique(np.nonzero(bad)[0])[:5].tolist()
            raise ValueError(f"{what} contains NaN or infinite values (first bad examples: "
                             f"{idx}); clean the data first")
        return x

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit`` after checking numpy/tensor inputs (shape, NaN/inf) and the element
        shape of a ``tf.data`` dataset; for the CLI's checkpoints, resume and images use
        :func:`infozoo.fit`."""
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            spec = spec[0] if isinstance(spec, (tuple, list)) else spec
            if hasattr(spec, "shape") and spec.shape.rank is not None and \
                    tuple(spec.shape[1:]) != self.image_shape and None not in spec.shape[1:]:
                raise ValueError(f"{type(self).__name__} expects batches of shape "
                                 f"[batch, {', '.join(map(str, self.image_shape))}]; the dataset "
                                 f"yields {spec.shape.as_list()}")
        elif x is not None and not isinstance(x, (dict, tf.distribute.DistributedDataset)):
            self.check_input(x, "the training data")
        vd = kwargs.get("validation_data")
        if vd is not None and not isinstance(vd, (tf.data.Dataset,
                                                  tf.distribute.DistributedDataset)):
            self.check_input(vd[0] if isinstance(vd, (tuple, list)) else vd,
                             "the validation data")
        return super().fit(x, y, *args, **kwargs)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=True,
                **kwargs):
        """Keras' summary; with ``expand_nested`` (default) every step of a flow and every
        layer of a nested encoder/decoder gets its own row, with output shape and weights."""
        if not expand_nested:
            return super().summary(line_length=line_length, positions=positions,
                                   print_fn=print_fn, **kwargs)
        rows = []
        for layer in self._flatten_layers(include_self=False, recursive=False):
            rows += _summary_rows(layer, None, 0)
        title = (f'Model: "{self.name}" ({type(self).__name__}, input {list(self.image_shape)}, '
                 f'code {self.code_size})')
        print_summary(self, title, rows, print_fn)

    @property
    def metrics(self):
        return list(self.trackers)

    def _update(self, terms):
        for t in self.trackers:
            t.update_state(terms[t.name])
        return distribute.synced_results(self.trackers)

    def evaluate(self, *args, **kwargs):
        """Keras ``evaluate``, leaving the random streams where they were: evaluation draws
        (and the validation inside ``fit``) do not shift the training draws, which then
        do not depend on how evaluation batches are split or iterated (a multi-worker
        iterator may run one more, empty, step than a single-process one)."""
        states = [(v, np.array(v.numpy())) for v in self.non_trainable_variables
                  if v.name == "seed_generator_state"]
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            for v, value in states:
                v.assign(value)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras (3.15) peeks at one distributed batch here and reduces it with
        ``strategy.reduce``, which MultiWorkerMirroredStrategy refuses for a batch
        (tensorflow#72388). ZooModels build every variable in ``__init__`` (and
        ``train.compile_model`` the optimizer), so nothing needs the peek."""
        unbuilt = [c for c in (getattr(self, "_compile_metrics", None),
                               getattr(self, "_compile_loss", None))
                   if c is not None and not c.built]
        if not unbuilt and all(layer.built for layer in self._flatten_layers()):
            iterator = None  # Keras then only builds the optimizer
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, training=True)
            loss = tf.nn.compute_average_loss(terms["loss"])
            if self.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.losses))
            loss = self.optimizer.scale_loss(loss)  # mixed_float16: LossScaleOptimizer
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update(terms)

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._update(self.loss_terms(x, training=False))

    def get_config(self):
        extra = {} if self.input_range == inputs.PIXELS else {
            "input_range": None if self.input_range is None else list(self.input_range)}
        return {**super().get_config(), "input_shape": list(self.image_shape), **self.hp,
                **extra}

    def count_params_trainable(self):
        return int(sum(np.prod(v.shape) for v in self.trainable_variables))



def print_summary(model, title, rows, print_fn=None):
    """Prints ``title`` and a table of ``rows`` ``(name (Class), output shape, params)`` with
    the model's parameter counts, one ``print_fn`` call per line (as tf.keras 2 did, so
    ``print_fn=logger.info`` logs one record per row; Keras 3.15's own summary passes the
    whole table in one call)."""
    rows = [("Layer (type)", "Output shape", "Param #")] + list(rows)
    total = model.count_params() if model.built else 0
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "-" * (w[0] + w[1] + w[2] + 6)
    out = [title, line]
    for i, r in enumerate(rows):
        out.append(f"{r[0]:<{w[0]}}   {r[1]:<{w[1]}}   {r[2]:>{w[2]}}")
        if i == 0:
            out.append(line)
    out += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}"]
    for text in out:
        (print_fn or print)(text)


def _summary_rows(layer, shape, level):
    """Rows ``(name (Class), output shape, params)`` of ``layer`` and, for flows
    (``steps``) and nested models (``layers``), of every sub-layer, indented."""
    prefix = "  " * level + ("└ " if level else "")
    steps = getattr(layer, "steps", None)
    subs = steps if isinstance(steps, (list, tuple)) else (
        getattr(layer, "layers", None) if isinstance(layer, keras.Model) else None)
    out_shape = "?"
    if shape is None and level == 0:
        shape = _input_shape(layer)
    if shape is not None:
        try:
            shape = tuple(layer.compute_output_shape(shape))
            out_shape = str(list(shape)).replace("None", "b")
        except Exception:  # noqa: BLE001  (a layer that cannot say: "?")
            shape = None
    params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
    rows = [(f"{prefix}{layer.name} ({type(layer).__name__})", out_shape, params)]
    if subs:
        sub_shape = _input_shape(layer)
        for s in subs:
            rows += _summary_rows(s, sub_shape, level + 1)
            sub_shape = _next_shape(s, sub_shape)
    return rows


def _input_shape(layer):
    for attr in ("_build_shapes_dict", ):
        d = getattr(layer, attr, None)
        if isinstance(d, dict) and len(d) == 1:
            return tuple(next(iter(d.values())))
    try:
        return tuple(layer.input.shape)
    except Exception:  # noqa: BLE001
        return None


def _next_shape(layer, shape):
    if shape is None:
        return None
    try:
        return tuple(layer.compute_output_shape(shape))
    except Exception:  # noqa: BLE001
        return None
