"""Probing a plain Keras model: every layer's output as an entry of ``representations``.

``probe(model, x)`` accepts any Functional or Sequential Keras model with one input. The
entries are the input and the output of every layer (in ``model.layers`` order, layers
with several outputs left out); the last one, the model's output, plays the part of
``X^`` in ``I(T; X^)``. Nothing is marked bijective (no log-dets): for exact entropy
changes a model implements ``representations(x)`` itself, as the zoo models do.
"""


def representations_of(model, x):
    """``x -> [Representation, ...]`` for any model the probe reads: its own
    ``representations`` (a plug-in's dicts become records here, once for every reader), or a
    plain Keras model's layers (:func:`keras_representations`)."""
    from infozoo.util.representation import Representation
    reps = (model.representations if hasattr(model, "representations")
            else keras_representations(model, x))
    return lambda xb: [Representation.of(r) for r in reps(xb)]


def keras_representations(model, x):
    """``x -> [Representation, ...]`` for a plain Keras model (``x``, a sample batch, builds
    an unbuilt Sequential model)."""
    import keras

    from infozoo.util.representation import Representation
    if not isinstance(model, keras.Model):
        raise ValueError(f"probe needs a Keras model or an object with representations(x), "
                         f"got {type(model).__name__}")
    if isinstance(model, keras.Sequential) and not model.built:
        model(x[:1])
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(f"{model.name}: a subclassed Keras model has no layer graph to walk; "
                         f"give it a representations(x) method (see ZooModel.representations)")
    if len(inputs) != 1:
        raise ValueError(f"{model.name}: probe takes models with one input, this one has "
                         f"{len(inputs)}")
    names, outs = [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            out = layer.output
        except (AttributeError, ValueError):  # shared layer: several outputs
            continue
        if isinstance(out, (list, tuple, dict)):
            continue
        names.append(layer.name)
        outs.append(out)
    if not outs:
        raise ValueError(f"{model.name}: no single-output layer to probe")
    sub = keras.Model(inputs, outs, name=f"{model.name}_representations")

    def representations(xb):
        vals = sub(xb, training=False)
        vals = vals if isinstance(vals, (list, tuple)) else [vals]
        return ([Representation("input", xb, False)]
                + [Representation(n, v, False) for n, v in zip(names, vals)])
    return representations
