"""The invariant suite over every registered model (tiny configs from tests/tiny.py)."""
import keras
import numpy as np
import pytest

from conftest import perturb
from infozoo.settings.registry import model_names
from infozoo.testing import check_flow_round_trip, check_model_gradients
from tiny import SHAPE, TINY, make

X = np.random.RandomState(0).rand(6, *SHAPE).astype("float32")


def test_every_registered_model_has_a_tiny_config():
    assert set(model_names()) == set(TINY), "add the new model to tests/tiny.py"


def test_every_registered_model_imports_from_infozoo_models():
    import infozoo.models
    from infozoo.models import INN, Classic, Glow, ZooModel  # noqa: F401  (documented names)
    from infozoo.settings.registry import get_model_class
    for name in model_names():
        cls = get_model_class(name)
        assert getattr(infozoo.models, cls.__name__) is cls, name
        assert cls.__name__ in infozoo.models.__all__
    assert Glow is get_model_class("glow") and INN is get_model_class("inn")


@pytest.fixture(params=sorted(TINY))
def model(request):
    keras.utils.set_random_seed(0)
    m = make(request.param)
    perturb(m.trainable_variables, 0.05)
    return m


def test_shapes(model):
    z = model.encode(X)
    assert z.shape == (len(X), model.code_size)
    assert model.decode(z).shape == X.shape
    assert model.reconstruct(X).shape == X.shape
    if model.can_sample:
        s = model.sample(3, 1.0)
        assert s.shape == (3, *SHAPE) and np.all(np.isfinite(s))


#: the models built on an invertible ``Flow`` (the autoencoders have none)
FLOW_MODELS = ("glow", "inn", "inn-vae", "pie")


def test_the_flow_models_are_the_ones_with_a_flow(model):
    assert (getattr(model, "flow", None) is not None) == (model.registry_name in FLOW_MODELS)


@pytest.mark.parametrize("name", FLOW_MODELS)
def test_flow_round_trip(name):
    keras.utils.set_random_seed(0)
    flow = make(name).flow
    perturb(flow.trainable_variables, 0.05)
    assert flow.bijective  # a multi-scale Flow keeps its split parts: a bijection
    check_flow_round_trip(flow, X)


def test_a_seed_fixes_the_samples(model):
    """sample(n, seed=s): the same s gives the same draws, another s others; a model without
    a prior refuses to sample."""
    if model.can_sample:
        a = np.asarray(model.sample(4, 1.0, seed=5))
        np.testing.assert_array_equal(model.sample(4, 1.0, seed=5), a)
        # another seed, other draws (a tiny decoder with small weights may move them little)
        assert not np.array_equal(np.asarray(model.sample(4, 1.0, seed=6)), a)
    else:
        with pytest.raises(TypeError, match="no prior to sample from"):
            model.sample(4, 1.0, seed=5)


def test_inn_decode_pads_with_zeros():
    m = make("inn")
    perturb(m.trainable_variables, 0.05)
    lat = m.latent(X).numpy()
    lat[:, m.bottleneck:] = 0.0
    x_hat = m.flow.inverse(lat.reshape(-1, *SHAPE))[0]
    np.testing.assert_allclose(m.decode(lat[:, :m.bottleneck]), x_hat, rtol=1e-5, atol=1e-6)


def test_gradients_finite(model):
    check_model_gradients(model, X)


def test_config_round_trip(model):
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.encode(X), model.encode(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(clone.reconstruct(X), model.reconstruct(X), rtol=1e-6, atol=1e-6)


def test_keras_file_round_trip(model, tmp_path):
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.reconstruct(X), model.reconstruct(X), rtol=1e-6, atol=1e-6)


@pytest.mark.slow  # trains (up to ~20 s per model)
def test_one_training_step(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [v.numpy().copy() for v in model.trainable_variables]
    hist = model.fit(X, epochs=1, batch_size=3, verbose=0)
    for k, v in hist.history.items():
        assert np.all(np.isfinite(v)), f"{k} not finite: {v}"
    assert set(model.term_names) <= set(hist.history)
    changed = [not np.allclose(a, v.numpy()) for a, v in zip(before, model.trainable_variables)]
    assert any(changed)
    logs = model.evaluate(X, batch_size=3, verbose=0, return_dict=True)
    terms = {k: float(np.mean(v)) for k, v in model.loss_terms(X).items()}
    for k in model.term_names:  # evaluate() reports the same numbers as loss_terms
        if k not in model.random_terms:  # e.g. MMD to a random prior draw, dequantisation
            assert abs(logs[k] - terms[k]) <= 1e-4 * max(1.0, abs(terms[k])), k


def test_bad_batch_gives_clear_error(model):
    with pytest.raises(ValueError, match="expects batches of shape"):
        model.check_input(np.zeros((2, 5, 5, 1), "float32"))
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.check_input(bad)
    # the public methods check eager inputs themselves, and so does fit
    calls = [model.encode, model.reconstruct] + ([model.log_prob] if hasattr(model, "log_prob")
                                                 else [])
    for fn in calls:
        with pytest.raises(ValueError, match=r"expects batches of shape \[batch, 8, 8, 1\]"):
            fn(np.zeros((2, 5, 5, 1), "float32"))
        with pytest.raises(ValueError, match=r"NaN or infinite values \(first bad examples: \[0\]"):
            fn(bad)
    with pytest.raises(ValueError, match="NaN"):      # given by keyword too
        model.reconstruct(x=bad)
    with pytest.raises(ValueError, match=f"codes of shape \\[batch, {model.code_size}\\]"):
        model.decode(np.zeros((2, model.code_size + 1), "float32"))
    z = np.zeros((2, model.code_size), "float32")
    z[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"first bad examples: \[1\]"):
        model.decode(z)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="the training data contains NaN"):
        model.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="expects batches of shape"):
        model.fit(np.zeros((4, 5, 5, 1), "float32"), epochs=1, verbose=0)


def test_param_count_reported(model):
    assert model.count_params_trainable() == sum(int(np.prod(v.shape))
                                                 for v in model.trainable_variables) > 0


def test_inn_authors_init_and_optimizer():
    """inn-authors: every parameter N(0, 0.1^2) except each coupling subnet's zeroed last
    layer (so the flow still starts near, but not at, the identity), Adam (0.8, 0.8, 1e-4)."""
    import keras

    from infozoo.settings import config
    from infozoo.run.factory import build_model, make_optimizer
    keras.utils.set_random_seed(0)
    cfg = config.resolve("inn-authors", {"dataset": "digits", "conv_hidden": 8,
                                          "fc_hidden": 16, "conv_blocks": 1})
    m = build_model(cfg, (8, 8, 1))
    vals = [np.asarray(v).ravel() for v in m.trainable_variables]
    nonzero = np.concatenate([v for v in vals if np.any(v)])
    zero = [v for v in vals if not np.any(v)]
    assert zero, "the last layer of every subnet must stay zero"
    # N(0, 0.01): the sample std of thousands of draws is within a few % of 0.1
    assert abs(nonzero.std() - 0.1) < 0.01 and abs(nonzero.mean()) < 0.01
    opt = make_optimizer(cfg)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.8, 0.8, 1e-4)


def test_models_are_built_by_the_base_class_and_vimae_refuses_k():
    """No model sets ``built`` itself: ZooModel marks it once the most derived __init__ has
    returned (so a subclass's extra weights exist first); VIMAE's k other than 1 is an error,
    not silently dropped."""
    import inspect

    from infozoo.settings.registry import get_model_class, model_names
    for name in model_names():
        cls = get_model_class(name)
        assert "self.built = True" not in inspect.getsource(inspect.getmodule(cls)), name
        assert make(name).built, name
    with pytest.raises(ValueError, match="k must be 1"):
        make("vimae", k=3)


def test_a_runs_seed_seeds_the_models_draws():
    """train.seed reaches the models that draw noise (reparameterisation, dequantisation,
    encoder input noise), so the seeds of a sweep differ in their draws as well as in their
    initial weights; models without draws get no seed argument; an explicit
    model_args.seed wins."""
    from infozoo.settings import config
    from infozoo.settings.registry import get_model_class
    from infozoo.run.factory import build_model, model_kwargs
    for zoo, seeded in (("vae", True), ("vimae", True), ("pie", True), ("classic", False)):
        cfg = config.resolve(zoo, {"dataset": "digits", "train.seed": 3})
        args = model_kwargs(get_model_class(cfg.model), cfg)
        assert ("seed" in args) == seeded, zoo
        if seeded:
            assert args["seed"] == 3 and build_model(cfg, (8, 8, 1)).hp["seed"] == 3
