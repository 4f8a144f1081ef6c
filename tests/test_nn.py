"""``funcgrad.nn`` and ``funcgrad.scipy``: agreement with jax.nn / jax.scipy / optax in
value, gradient and dtype (eagerly and under jit), numerical stability at extreme
inputs, jax's derivative conventions at the kinks, initializers, dropout, and the
errors a user meets.  (The op table runs every function through every transform too.)"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special as ssp
import scipy.stats

import funcgrad as fg
import funcgrad.nn as nn
import funcgrad.scipy.special as fsp
import funcgrad.scipy.stats.norm as fnorm
from funcgrad.errors import DTypeError, ShapeError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5)) * 3

ACTIVATIONS = [("relu", {}), ("relu6", {}), ("sigmoid", {}), ("log_sigmoid", {}), ("tanh", {}), ("softplus", {}),
               ("silu", {}), ("gelu", {}), ("gelu", {"approximate": False}), ("elu", {}), ("elu", {"alpha": 0.3}),
               ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("softmax", {}),
               ("softmax", {"axis": 0}), ("log_softmax", {}), ("log_softmax", {"axis": (0, 1)}), ("logsumexp", {}),
               ("logsumexp", {"axis": 1, "keepdims": True}), ("standardize", {}), ("standardize", {"axis": 0})]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _ids(cases):
    return [f"{n}-{kw}" if kw else n for n, kw in cases]


def _jax_value_and_grad(jfn, x, w):
    with jax.enable_x64(x.dtype == np.float64):
        f = lambda x: jnp.sum(jfn(x) * w)  # noqa: E731
        return np.asarray(jfn(jnp.asarray(x))), np.asarray(jax.grad(f)(jnp.asarray(x)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=_ids(ACTIVATIONS))
def test_activation_matches_jax_nn_in_value_grad_and_dtype(name, kw, dtype):
    x = X.astype(dtype)
    fn = lambda x: getattr(nn, name)(x, **kw)  # noqa: E731
    w = RNG.standard_normal(np.shape(jax.eval_shape(lambda x: getattr(jax.nn, name)(x, **kw), x)))
    want, want_g = _jax_value_and_grad(lambda x: getattr(jax.nn, name)(x, **kw), x, w)
    for got in (fn(x), fg.jit(fn)(x)):
        assert np.asarray(got).dtype == dtype
        np.testing.assert_allclose(np.asarray(got), want, **TOL[dtype])
    loss = lambda x: fg.numpy.sum(fn(x) * w.astype(dtype))  # noqa: E731
    for g in (fg.grad(loss)(x), fg.jit(fg.grad(loss))(x)):
        assert np.asarray(g).dtype == dtype
        np.testing.assert_allclose(np.asarray(g), want_g, **TOL[dtype])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "softplus", "sigmoid", "log_sigmoid",
                                  "silu", "cross_entropy", "cross_entropy_onehot", "binary_cross_entropy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_values_and_gradients_equal_to_jax(name, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 3.0], [1e4, 1e4, -1e4]], dtype)
    labels = np.array([1, 2, 0])
    fns = {
        "cross_entropy": (lambda z: nn.cross_entropy(z, labels),
                          lambda z: optax.softmax_cross_entropy_with_integer_labels(z, labels).mean()),
        "cross_entropy_onehot": (lambda z: nn.cross_entropy(z, np.eye(3, dtype=dtype)[labels]),
                                 lambda z: optax.softmax_cross_entropy(z, jnp.eye(3, dtype=dtype)[labels]).mean()),
        "binary_cross_entropy": (lambda z: nn.binary_cross_entropy(z, (x > 0).astype(dtype)),
                                 lambda z: optax.sigmoid_binary_cross_entropy(z, (x > 0).astype(dtype)).mean()),
    }
    f, jf = fns.get(name, (lambda z: fg.numpy.sum(getattr(nn, name)(z)), lambda z: jnp.sum(getattr(jax.nn, name)(z))))
    with jax.enable_x64(dtype == np.float64):
        want, want_g = jax.value_and_grad(jf)(jnp.asarray(x))
    for v, g in (fg.value_and_grad(f)(x), fg.jit(fg.value_and_grad(f))(x)):
        assert np.isfinite(np.asarray(v)).all() and np.isfinite(np.asarray(g)).all()
        assert np.asarray(g).dtype == dtype
        np.testing.assert_allclose(np.asarray(v), np.asarray(want), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(g), np.asarray(want_g), rtol=1e-6, atol=1e-6)


KINKS = [  # (function, x, derivative there): jax.nn's conventions
    (nn.relu, 0.0, 0.0), (nn.relu6, 0.0, 0.0), (nn.relu6, 6.0, 0.0), (nn.elu, 0.0, 1.0),
    (lambda x: nn.elu(x, alpha=0.3), 0.0, 0.3), (nn.leaky_relu, 0.0, 1.0), (nn.softplus, 0.0, 0.5),
    (nn.sigmoid, 0.0, 0.25), (nn.log_sigmoid, 0.0, 0.5), (nn.silu, 0.0, 0.5),
]


@pytest.mark.parametrize("fn,x,want", KINKS)
def test_derivatives_at_kinks_follow_jax(fn, x, want):
    x = np.float64(x)
    assert fg.grad(fn)(x) == want
    assert float(fg.jit(fg.grad(fn))(x)) == want


def test_kink_derivatives_equal_jax_nn():
    x = np.array([0.0, 6.0, -0.0])
    for name in ("relu", "relu6", "elu", "leaky_relu", "softplus", "sigmoid", "silu"):
        got = fg.grad(lambda v: fg.numpy.sum(getattr(nn, name)(v)))(x)
        with jax.enable_x64(True):
            want = jax.grad(lambda v: jnp.sum(getattr(jax.nn, name)(v)))(jnp.asarray(x))
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-13, atol=0, err_msg=name)


def test_second_derivatives_at_zero_are_exact():
    assert fg.grad(fg.grad(nn.softplus))(np.float64(0.0)) == 0.25
    assert fg.grad(fg.grad(nn.sigmoid))(np.float64(0.0)) == 0.0
    np.testing.assert_allclose(fg.grad(fg.grad(nn.log_sigmoid))(np.float64(0.0)), -0.25)


def test_relu_keeps_nan_and_infinities():
    x = np.array([np.nan, np.inf, -np.inf, -1.0])
    np.testing.assert_array_equal(nn.relu(x), np.asarray(jax.nn.relu(x)))
    np.testing.assert_array_equal(nn.relu6(x), np.asarray(jax.nn.relu6(x)))


def test_relu_keeps_integer_dtype_and_python_scalars_become_float32():
    assert nn.relu(np.array([-2, 3], np.int32)).dtype == np.int32
    for out in (nn.relu(2.0), nn.sigmoid(0.0), nn.softplus(1.0)):  # weak Python floats: float32, as jax
        assert np.asarray(out).dtype == np.float32 and np.shape(out) == ()


# ----------------------------------------------------------------------------- softmax family

def test_softmax_and_log_softmax_where_mask_as_jax():
    mask = np.array([[True, False, True], [False, True, True]])
    x = RNG.standard_normal((2, 3))
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(getattr(nn, name)(x, where=mask),
                                   np.asarray(getattr(jax.nn, name)(x, where=mask)), rtol=1e-6)


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": (0, 1), "keepdims": True}, {"return_sign": True},
                                {"b": np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]), "axis": 1},
                                {"b": np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]), "axis": 1, "return_sign": True},
                                {"where": np.array([[True, False, True], [False, False, False]]), "axis": 1}])
def test_logsumexp_matches_jax_scipy(kw):
    x = np.array([[1.0, 2.0, 3.0], [-1e4, 1e4, 0.5]])
    got = fsp.logsumexp(x, **kw)
    with jax.enable_x64(True):
        want = jax.scipy.special.logsumexp(jnp.asarray(x), **kw)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)
    assert nn.logsumexp is fsp.logsumexp


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    assert fsp.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_one_hot_as_jax():
    x = np.array([[0, 2], [3, -1]])
    for kw in ({}, {"axis": 0}, {"axis": 1}, {"dtype": np.int32}):
        got = nn.one_hot(x, 3, **kw)
        want = np.asarray(jax.nn.one_hot(x, 3, **kw))
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert fg.jit(lambda x: nn.one_hot(x, 4))(x).dtype == np.float32


def test_standardize_stable_and_where_as_jax():
    x = RNG.standard_normal((3, 6)) + 100
    mask = RNG.random((3, 6)) < 0.7
    for kw in ({"algorithm": "stable"}, {"where": mask}, {"epsilon": 0.5}):
        with jax.enable_x64(True):
            want = np.asarray(jax.nn.standardize(x, **kw))
        np.testing.assert_allclose(nn.standardize(x, **kw), want, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- losses

def test_losses_follow_torch_conventions():
    p, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    d = p - t
    assert np.isclose(nn.mse_loss(p, t), np.mean(d ** 2))
    assert np.isclose(nn.mse_loss(p, t, reduction="sum"), np.sum(d ** 2))
    np.testing.assert_allclose(nn.mse_loss(p, t, reduction="none"), d ** 2)
    assert np.isclose(nn.l1_loss(p, t), np.mean(np.abs(d)))
    huber = np.where(np.abs(d) <= 0.5, 0.5 * d ** 2, 0.5 * (np.abs(d) - 0.25))
    assert np.isclose(nn.huber_loss(p, t, delta=0.5), huber.mean())
    with jax.enable_x64(True):
        want = np.asarray(optax.huber_loss(p, t, delta=0.5))
    np.testing.assert_allclose(nn.huber_loss(p, t, delta=0.5, reduction="none"), want, rtol=1e-12)
    assert nn.mse_loss(p.astype(np.float32), t.astype(np.float32)).dtype == np.float32
    assert fg.grad(nn.l1_loss)(np.zeros(3), np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_cross_entropy_matches_optax_for_integer_and_probability_labels():
    logits = RNG.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    probs = RNG.dirichlet(np.ones(4), 5)
    want_i = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    want_p = optax.softmax_cross_entropy(logits, probs)
    np.testing.assert_allclose(nn.cross_entropy(logits, labels), np.mean(want_i), rtol=1e-6)
    np.testing.assert_allclose(nn.cross_entropy(logits, labels, reduction="none"), want_i, rtol=1e-6)
    np.testing.assert_allclose(nn.cross_entropy(logits, probs), np.mean(want_p), rtol=1e-6)
    np.testing.assert_allclose(nn.cross_entropy(logits, np.eye(4)[labels]), np.mean(want_i), rtol=1e-6)
    np.testing.assert_allclose(nn.cross_entropy(logits.T, labels, axis=0), np.mean(want_i), rtol=1e-6)
    np.testing.assert_allclose(fg.jit(nn.cross_entropy)(logits, labels), np.mean(want_i), rtol=1e-6)
    per_example = fg.vmap(nn.cross_entropy)(logits, labels)
    np.testing.assert_allclose(per_example, want_i, rtol=1e-6)


def test_cross_entropy_ignores_minus_infinity_logits_of_impossible_classes():
    logits = np.array([[0.0, -np.inf, 1.0]])
    want = -np.log(np.exp(1.0) / (1 + np.exp(1.0)))
    np.testing.assert_allclose(nn.cross_entropy(logits, np.array([2])), want)
    np.testing.assert_allclose(nn.cross_entropy(logits, np.array([[0.0, 0.0, 1.0]])), want)


def test_cross_entropy_out_of_range_label_is_nan_under_jit():
    out = fg.jit(lambda z, y: nn.cross_entropy(z, y, reduction="none"))(np.zeros((2, 3)), np.array([1, 3]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_binary_cross_entropy_takes_logits_as_optax():
    logits, labels = RNG.standard_normal(6) * 4, (RNG.random(6) < 0.5).astype(float)
    with jax.enable_x64(True):
        want = np.asarray(optax.sigmoid_binary_cross_entropy(logits, labels))
    np.testing.assert_allclose(nn.binary_cross_entropy(logits, labels), np.mean(want), rtol=1e-6)
    np.testing.assert_allclose(nn.binary_cross_entropy(logits, labels.astype(bool), reduction="none"), want,
                               rtol=1e-6)
    p = fsp.expit(logits)  # from probabilities: pass their logits
    np.testing.assert_allclose(nn.binary_cross_entropy(fsp.logit(p), labels), np.mean(want), rtol=1e-6)


# ----------------------------------------------------------------------------- errors

def test_one_hot_of_floats_is_a_dtype_error_that_says_the_fix():
    with pytest.raises(DTypeError, match=r"(?s)one_hot.*integers.*f64\[3\].*Fix.*astype"):
        nn.one_hot(np.array([0.0, 1.0, 2.0]), 3)
    with pytest.raises(TypeError, match="num_classes"):
        nn.one_hot(np.array([0, 1]), 2.5)


def test_cross_entropy_errors_name_the_labels_and_shapes():
    with pytest.raises(ValueError, match=r"cross_entropy: label 5 is out of range for 3 classes"):
        nn.cross_entropy(np.zeros((2, 3)), np.array([0, 5]))
    with pytest.raises(ShapeError, match=r"cross_entropy: integer labels must have the shape.*\(4,\).*\(4, 1\)"):
        nn.cross_entropy(np.zeros((4, 3)), np.zeros((4, 1), np.int32))
    with pytest.raises(ShapeError, match=r"probability \(one-hot\) labels must have the shape of logits \(4, 3\)"):
        nn.cross_entropy(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.cross_entropy(np.zeros((4, 3)), np.zeros(4, np.int32), reduction="avg")


def test_elementwise_losses_refuse_silent_broadcasting():
    with pytest.raises(ShapeError, match=r"(?s)mse_loss: pred has shape \(4, 1\) but target has shape \(4,\).*Fix"):
        nn.mse_loss(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ShapeError, match="binary_cross_entropy: logits"):
        nn.binary_cross_entropy(np.zeros((4, 1)), np.zeros(4))
    assert nn.mse_loss(np.ones(3), 0.0) == 1.0  # a scalar target is fine


def test_dropout_and_initializer_argument_errors():
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\]"):
        nn.dropout(fg.random.key(0), 1.5, np.ones(3))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.glorot_uniform(fg.random.key(0), (5,))
    with pytest.raises(ValueError, match="non-negative integer"):
        fsp.polygamma(-1, 1.0)


# ----------------------------------------------------------------------------- initializers

INITS = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal"]


@pytest.mark.parametrize("shape", [(3, 4), (3, 3, 8, 16), (5, 7, 2)])
@pytest.mark.parametrize("name", INITS)
def test_initializers_equal_jax_initializers(name, shape):
    key = fg.random.key(7)
    for dtype in (np.float32, np.float64):
        got = getattr(nn, name)(key, shape, dtype)
        with jax.enable_x64(True):
            want = np.asarray(getattr(jax.nn.initializers, name)()(jax.random.PRNGKey(7), shape, dtype))
        assert got.dtype == dtype and got.shape == shape
        if "uniform" in name:  # the same uniform bits, the same scaling: bit-equal
            np.testing.assert_array_equal(got, want)
        else:  # normals go through erfinv: equal to an ulp or two
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fg.jit(lambda k: getattr(nn, name)(k, shape))(key), getattr(nn, name)(key, shape),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,scale,mode", [("glorot_uniform", 1, "avg"), ("glorot_normal", 1, "avg"),
                                             ("he_uniform", 2, "in"), ("he_normal", 2, "in")])
def test_initializer_statistics(name, scale, mode):
    shape = (3, 3, 64, 128)  # HWIO: fan_in = 3*3*64, fan_out = 3*3*128
    fan_in, fan_out = 9 * 64, 9 * 128
    w = getattr(nn, name)(fg.random.key(1), shape)
    var = scale / (fan_in if mode == "in" else (fan_in + fan_out) / 2)
    assert w.dtype == np.float32 and abs(w.mean()) < 0.02 * np.sqrt(var)
    np.testing.assert_allclose(w.var(), var, rtol=0.03)
    bound = np.sqrt(3 * var) if "uniform" in name else 2 * np.sqrt(var) / 0.87962566103423978
    assert np.abs(w).max() <= bound * (1 + 1e-6)


def test_zeros_initializer():
    z = nn.zeros(fg.random.key(0), (2, 3))
    assert z.dtype == np.float32 and z.shape == (2, 3) and not z.any()
    assert nn.zeros(None, (2,), np.float64).dtype == np.float64


# ----------------------------------------------------------------------------- dropout

def test_dropout_keeps_the_mean_and_the_keep_rate():
    x = np.ones(100_000, np.float32)
    y = nn.dropout(fg.random.key(0), 0.25, x)
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - 0.25) < 0.01 and abs(y.mean() - 1.0) < 0.01
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}


def test_dropout_mask_is_deterministic_per_key_and_matches_jax_bernoulli():
    x = RNG.standard_normal((8, 16)).astype(np.float32)
    k1, k2 = fg.random.split(fg.random.key(3))
    a, b, c = nn.dropout(k1, 0.5, x), nn.dropout(k1, 0.5, x), nn.dropout(k2, 0.5, x)
    np.testing.assert_array_equal(a, b)
    assert ((a == 0) != (c == 0)).any()
    np.testing.assert_array_equal(fg.jit(nn.dropout, static_argnums=1)(k1, 0.5, x), a)
    keep = np.asarray(jax.random.bernoulli(jnp.asarray(k1), 0.5, x.shape))  # flax.linen.Dropout's mask
    np.testing.assert_array_equal(a, np.where(keep, x / 0.5, 0))


def test_dropout_is_differentiable_in_x_and_rate_zero_is_the_identity():
    x = RNG.standard_normal(50)
    key = fg.random.key(5)
    g = fg.grad(lambda x: fg.numpy.sum(nn.dropout(key, 0.2, x)))(x)
    np.testing.assert_allclose(g, np.where(nn.dropout(key, 0.2, x) != 0, 1 / 0.8, 0.0))
    assert nn.dropout(key, 0.0, x) is x
    assert not nn.dropout(key, 1.0, x).any()
    per_row = fg.vmap(lambda k, x: nn.dropout(k, 0.5, x))(fg.random.split(key, 3), np.ones((3, 10)))
    assert per_row.shape == (3, 10) and not (per_row[0] == per_row[1]).all()


# ----------------------------------------------------------------------------- funcgrad.scipy

def _vec(fn):
    return np.vectorize(fn, otypes=[np.float64])


_SQRT_PI = np.sqrt(np.pi)
# (name, inputs, value reference, derivative reference): Python's libm and scipy, analytic derivatives.
SPECIAL = [
    ("erf", np.linspace(-6, 6, 49), _vec(math.erf), lambda x: 2 / _SQRT_PI * np.exp(-x * x)),
    ("erfc", np.linspace(-6, 27, 67), _vec(math.erfc), lambda x: -2 / _SQRT_PI * np.exp(-x * x)),
    ("erfinv", np.concatenate([np.linspace(-0.999, 0.999, 41), [-1.0, 1.0, 1 - 1e-12]]), ssp.erfinv,
     lambda x: _SQRT_PI / 2 * np.exp(ssp.erfinv(x) ** 2)),
    ("gammaln", np.concatenate([np.linspace(0.05, 30, 40), [-2.5, -0.3, -40.5, 1.0, 2.0, 1e5]]), _vec(math.lgamma),
     ssp.digamma),
    ("digamma", np.concatenate([np.linspace(0.05, 30, 40), [-2.5, -0.3, -10.7]]), ssp.digamma,
     lambda x: ssp.polygamma(1, x)),
    ("expit", np.linspace(-40, 40, 33), ssp.expit, lambda x: ssp.expit(x) * ssp.expit(-x)),
    ("logit", np.linspace(0.01, 0.99, 21), ssp.logit, lambda x: 1 / (x * (1 - x))),
    ("ndtr", np.linspace(-38, 8, 47), lambda x: 0.5 * _vec(math.erfc)(-x / np.sqrt(2)),
     lambda x: np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
]


@pytest.mark.parametrize("name,x,ref,dref", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_special_functions_are_accurate_and_match_jax(name, x, ref, dref):
    fn = getattr(fsp, name)
    got = fn(x)
    assert got.dtype == np.float64
    # ndtr's tails inherit the rounding of x / sqrt(2) (as jax's): ~x^2 ulps; erfinv is Giles'
    # polynomial in -log(1 - x^2), as XLA's, whose rounding near +-1 costs ~40 ulps
    rtol = {"ndtr": 1e-12, "gammaln": 1e-14, "digamma": 1e-13, "erfinv": 2e-14}.get(name, 4e-15)
    np.testing.assert_allclose(got, ref(x), rtol=rtol, atol=1e-300 if name not in ("gammaln", "digamma") else 2e-15)
    with jax.enable_x64(True):
        want = np.asarray(getattr(jax.scipy.special, name)(jnp.asarray(x)))
    np.testing.assert_allclose(fg.jit(fn)(x), want, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    with np.errstate(all="ignore"):
        want_g = dref(x)
    for g in (fg.vmap(fg.grad(fn))(x), fg.jit(fg.vmap(fg.grad(fn)))(x)):
        np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-300)
    x32 = x.astype(np.float32)
    assert fn(x32).dtype == np.float32
    np.testing.assert_allclose(fg.jit(fn)(x32), fn(x32), rtol=2e-5, atol=2e-6)


def test_special_dtypes_follow_numpy_ufuncs():
    assert fsp.erf(np.arange(3, dtype=np.int32)).dtype == np.float64
    assert fsp.gammaln(np.arange(1, 3, dtype=np.int8)).dtype == np.float16
    assert type(fsp.erf(1.0)) is np.float32 and type(fsp.gammaln(3)) is np.float32


def test_polygamma_and_higher_derivatives_of_gammaln():
    x = np.linspace(0.3, 12, 9)
    for n in range(4):
        np.testing.assert_allclose(fsp.polygamma(n, x), ssp.polygamma(n, x), rtol=1e-13)
    d2 = fg.vmap(fg.grad(fg.grad(fsp.gammaln)))(x)
    d3 = fg.vmap(fg.grad(fg.grad(fg.grad(fsp.gammaln))))(x)
    np.testing.assert_allclose(d2, ssp.polygamma(1, x), rtol=1e-13)
    np.testing.assert_allclose(d3, ssp.polygamma(2, x), rtol=1e-13)
    np.testing.assert_allclose(fg.grad(fg.grad(fsp.erfinv))(0.3), np.asarray(
        jax.grad(jax.grad(jax.scipy.special.erfinv))(0.3)), rtol=1e-5)


def test_special_values_at_the_edges():
    assert fsp.erfinv(1.0) == np.inf and fsp.erfinv(-1.0) == -np.inf and np.isnan(fsp.erfinv(1.5))
    assert fsp.gammaln(0.0) == np.inf and fsp.gammaln(-3.0) == np.inf and fsp.gammaln(np.inf) == np.inf
    assert fsp.digamma(0.0) == -np.inf and np.isnan(fsp.digamma(-2.0))
    assert fsp.erfc(30.0) == 0.0 and fsp.erf(np.inf) == 1.0 and np.isnan(fsp.erf(np.nan))
    np.testing.assert_allclose(fsp.erfc(np.array([10.0, 26.0])), ssp.erfc(np.array([10.0, 26.0])), rtol=1e-13)


@pytest.mark.parametrize("name", ["logpdf", "pdf", "cdf"])
def test_norm_matches_scipy_stats_and_jax(name):
    x = np.linspace(-12, 6, 37)
    loc, scale = 0.7, np.array(1.3)
    np.testing.assert_allclose(getattr(fnorm, name)(x, loc, scale), getattr(scipy.stats.norm, name)(x, loc, scale),
                               rtol=1e-12, atol=1e-300)
    with jax.enable_x64(True):
        jf = getattr(jax.scipy.stats.norm, name)
        want_g = jax.grad(lambda x, s: jnp.sum(jf(x, loc, s)), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(scale))
    got_g = fg.grad(lambda x, s: fg.numpy.sum(getattr(fnorm, name)(x, loc, s)), argnums=(0, 1))(x, scale)
    for g, w in zip(got_g, want_g, strict=True):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-10, atol=1e-300)
    assert getattr(fnorm, name)(x.astype(np.float32)).dtype == np.float32


def test_norm_cdf_keeps_its_digits_in_the_far_tail():
    np.testing.assert_allclose(fnorm.cdf(-10.0), scipy.stats.norm.cdf(-10.0), rtol=1e-6)  # float32 (weak input)
    np.testing.assert_allclose(fnorm.cdf(np.float64(-37.0)), scipy.stats.norm.cdf(-37.0), rtol=1e-12)


def test_namespaces():
    assert "nn" in fg.__all__ and "scipy" in fg.__all__
    assert fg.scipy.stats.norm is fnorm and fg.scipy.special is fsp
    for name in ("relu relu6 sigmoid log_sigmoid tanh softplus silu gelu elu leaky_relu softmax log_softmax "
                 "logsumexp one_hot standardize dropout mse_loss cross_entropy binary_cross_entropy l1_loss "
                 "huber_loss glorot_uniform glorot_normal he_uniform he_normal zeros").split():
        assert callable(getattr(nn, name)), name
