"""The autodiff transforms' options and results, checked against jax as an oracle:
grad, value_and_grad, jvp, vjp, linearize, jacfwd, jacrev, hessian, stop_gradient.

jax runs under ``jax.enable_x64(True)`` (a context manager) when float64 is involved;
jax's global configuration is never changed.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

# GPUs may run float32 matmuls in TF32 (jax's default precision): compare float32
# results of jax programs with NumPy's more loosely there.
F32_RTOL = 1e-5 if jax.default_backend() == "cpu" else 5e-3


def assert_tree_close(got, want, rtol=1e-6, atol=1e-6, check_dtype=True):
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    assert g_tree == w_tree, f"structure {g_tree} != {w_tree}"
    for g, w in zip(g_leaves, w_leaves, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        if check_dtype:
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol)


X64 = np.array([0.3, -1.2, 2.0])
W64 = np.array([[0.5, -0.1], [1.5, 0.2], [-0.7, 0.9]])


def f_fg(x, w):
    return fnp.sum(fnp.tanh(x @ w) ** 2) + fnp.sum(fnp.sin(x) * x)


def f_jax(x, w):
    return jnp.sum(jnp.tanh(x @ w) ** 2) + jnp.sum(jnp.sin(x) * x)


# ----------------------------------------------------------------------------- grad

@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0), -1])
def test_grad_argnums_matches_jax(argnums):
    got = fg.grad(f_fg, argnums=argnums)(X64, W64)
    with jax.enable_x64(True):
        want = jax.jit(jax.grad(f_jax, argnums=argnums))(X64, W64)
    if isinstance(argnums, tuple):
        assert isinstance(got, tuple) and len(got) == 2
    assert_tree_close(got, want)


def test_grad_returns_numpy_arrays_eagerly():
    g = fg.grad(f_fg)(X64, W64)
    assert isinstance(g, np.ndarray)
    assert g.shape == X64.shape


def test_value_and_grad_matches_jax():
    (v, g) = fg.value_and_grad(f_fg, argnums=(0, 1))(X64, W64)
    with jax.enable_x64(True):
        jv, jg = jax.jit(jax.value_and_grad(f_jax, argnums=(0, 1)))(X64, W64)
    assert_tree_close(v, jv)
    assert_tree_close(g, jg)


def test_value_and_grad_has_aux_returns_value_aux_pair_and_grads():
    def loss(x):
        y = fnp.sin(x)
        return fnp.sum(y ** 2), {"y": y, "label": "hello"}

    (value, aux), g = fg.value_and_grad(loss, has_aux=True)(X64)
    np.testing.assert_allclose(value, np.sum(np.sin(X64) ** 2))
    np.testing.assert_allclose(g, 2 * np.sin(X64) * np.cos(X64))
    assert aux["label"] == "hello"
    # aux holds plain values, not tracers of the finished transform
    assert type(aux["y"]) is np.ndarray or isinstance(aux["y"], np.ndarray)
    np.testing.assert_allclose(aux["y"], np.sin(X64))


def test_grad_has_aux_returns_grads_and_aux():
    g, aux = fg.grad(lambda x: (fnp.sum(x * x), x * 3.0), has_aux=True)(X64)
    np.testing.assert_allclose(g, 2 * X64)
    assert isinstance(aux, np.ndarray)
    np.testing.assert_allclose(aux, 3 * X64)


def test_aux_stays_differentiable_for_an_outer_transform():
    # aux is not differentiated by the inner grad, but an outer grad sees through it
    def inner_aux_sum(y):
        _, aux = fg.grad(lambda x: (fnp.sum(x * x * y), y * x), has_aux=True)(X64)
        return fnp.sum(aux)

    np.testing.assert_allclose(fg.grad(inner_aux_sum)(2.0), np.sum(X64))


def test_has_aux_requires_a_pair():
    with pytest.raises(TypeError, match="has_aux=True"):
        fg.grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_kwargs_are_passed_through_and_not_differentiated():
    def loss(x, *, scale, shift=0.0):
        return scale * fnp.sum(x ** 2) + shift

    g = fg.grad(loss)(X64, scale=3.0, shift=1.0)
    np.testing.assert_allclose(g, 6.0 * X64)
    (v, g2) = fg.value_and_grad(loss)(X64, scale=2.0)
    np.testing.assert_allclose(v, 2.0 * np.sum(X64 ** 2))
    np.testing.assert_allclose(g2, 4.0 * X64)
    J = fg.jacrev(lambda x, *, k: x * k)(X64, k=2.0)
    np.testing.assert_allclose(J, 2.0 * np.eye(3))
    J = fg.jacfwd(lambda x, *, k: x * k)(X64, k=2.0)
    np.testing.assert_allclose(J, 2.0 * np.eye(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_keep_the_primal_dtype(dtype):
    x = X64.astype(dtype)
    w = W64.astype(dtype)
    gx, gw = fg.grad(f_fg, argnums=(0, 1))(x, w)
    assert gx.dtype == dtype and gw.dtype == dtype
    _, t = fg.jvp(lambda x: fnp.sin(x) * 2.0, (x,), (np.ones_like(x),))
    assert t.dtype == dtype
    _, vjp_fn = fg.vjp(lambda x: fnp.exp(x) / 3, x)
    (ct,) = vjp_fn(np.ones_like(x))
    assert ct.dtype == dtype
    assert fg.jacrev(fnp.sin)(x).dtype == dtype
    assert fg.jacfwd(fnp.sin)(x).dtype == dtype
    assert fg.hessian(lambda x: fnp.sum(x ** 3))(x).dtype == dtype


def test_float64_gradients_of_division_by_python_scalars_are_exact():
    assert fg.grad(lambda w: w / 5)(np.float64(1.0)) == 0.2
    np.testing.assert_allclose(fg.grad(fnp.mean)(np.ones(5)), np.full(5, 0.2), rtol=1e-15)


def test_float32_gradients_match_jax_default_precision():
    x, w = X64.astype(np.float32), W64.astype(np.float32)
    got = fg.grad(f_fg, argnums=(0, 1))(x, w)
    want = jax.jit(jax.grad(f_jax, argnums=(0, 1)))(x, w)
    assert_tree_close(got, want, rtol=F32_RTOL, atol=1e-5)


def test_mixed_precision_args_get_their_own_dtypes():
    gx, gw = fg.grad(lambda x, w: fnp.sum(x @ w), argnums=(0, 1))(X64.astype(np.float32), W64)
    assert gx.dtype == np.float32 and gw.dtype == np.float64


def test_grad_of_python_scalar_is_float32_like_jax():
    g = fg.grad(lambda x: x * x * 3.0)(2.0)
    assert np.asarray(g).dtype == np.float32
    assert float(g) == 12.0


def test_grad_of_unused_argument_is_zeros():
    g = fg.grad(lambda x, y: fnp.sum(x * 2.0), argnums=1)(X64, W64)
    np.testing.assert_array_equal(g, np.zeros_like(W64))
    assert g.dtype == W64.dtype


def test_grad_of_constant_function_is_zero():
    g = fg.grad(lambda x: 3.0)(X64)
    np.testing.assert_array_equal(g, np.zeros(3))


# ----------------------------------------------------------------------------- Python control flow

def piecewise(x):
    if x > 0:
        return x ** 3
    elif x > -1:
        return -x
    y = x
    while fnp.abs(y) < 10.0:
        y = y * 2.0
    return y


@pytest.mark.parametrize("x, want", [(2.0, 12.0), (-0.5, -1.0), (-3.0, 4.0)])
def test_python_control_flow_on_concrete_values_under_grad(x, want):
    assert float(fg.grad(piecewise)(x)) == pytest.approx(want)


@pytest.mark.parametrize("x, want", [(2.0, 12.0), (-0.5, -1.0), (-3.0, 4.0)])
def test_python_control_flow_on_concrete_values_under_jvp_and_vjp(x, want):
    _, t = fg.jvp(piecewise, (x,), (1.0,))
    assert float(t) == pytest.approx(want)
    _, vjp_fn = fg.vjp(piecewise, x)
    assert float(vjp_fn(np.float32(1.0))[0]) == pytest.approx(want)


def test_concrete_values_convert_to_python_under_grad():
    def f(x):
        n = int(fnp.floor(x))            # int() of a concrete traced value
        k = float(x) if x.item() > 0 else 0.0
        return x * n + k

    assert float(fg.grad(f)(np.float32(2.5))) == 2.0
    assert float(fg.grad(f)(np.array(2.5))) == 2.0


def test_item_of_a_traced_python_scalar_under_grad():
    assert float(fg.grad(lambda x: x * x.item())(2.5)) == 2.5


# ----------------------------------------------------------------------------- jvp / vjp / linearize

def test_jvp_matches_jax():
    tx, tw = np.array([1.0, 0.5, -2.0]), np.ones_like(W64)
    out, t = fg.jvp(f_fg, (X64, W64), (tx, tw))
    with jax.enable_x64(True):
        jout, jt = jax.jit(lambda p, t: jax.jvp(f_jax, p, t))((X64, W64), (tx, tw))
    assert_tree_close((out, t), (jout, jt))


def test_jvp_accepts_lists_and_pytree_primals():
    f = lambda p: {"s": fnp.sin(p["a"]) * p["b"][0]}
    primals = [{"a": X64, "b": (2.0,)}]
    tangents = [{"a": np.ones(3), "b": (0.5,)}]
    out, t = fg.jvp(f, primals, tangents)
    np.testing.assert_allclose(out["s"], np.sin(X64) * 2.0)
    np.testing.assert_allclose(t["s"], np.cos(X64) * 2.0 + np.sin(X64) * 0.5, rtol=1e-6)


def test_jvp_with_zero_tangent_output_gives_zeros():
    out, t = fg.jvp(lambda x: fnp.ones(3) * 2.0, (X64,), (np.ones(3),))
    np.testing.assert_array_equal(t, np.zeros(3))
    assert np.asarray(t).shape == (3,)


def test_vjp_matches_jax_and_returns_a_tuple_per_primal():
    out, vjp_fn = fg.vjp(lambda x, w: fnp.tanh(x @ w), X64, W64)
    ct = np.array([1.0, -2.0])
    cts = vjp_fn(ct)
    with jax.enable_x64(True):
        jout, jvp_fn = jax.vjp(lambda x, w: jnp.tanh(x @ w), X64, W64)
        jcts = jvp_fn(ct)
    assert isinstance(cts, tuple) and len(cts) == 2
    assert_tree_close(out, jout)
    assert_tree_close(cts, jcts)


def test_vjp_fn_can_be_called_many_times():
    _, vjp_fn = fg.vjp(lambda x: x * x, X64)
    a = vjp_fn(np.ones(3))[0]
    b = vjp_fn(2 * np.ones(3))[0]
    np.testing.assert_allclose(b, 2 * a)


def test_vjp_has_aux():
    out, vjp_fn, aux = fg.vjp(lambda x: (fnp.sin(x), {"c": fnp.cos(x)}), X64, has_aux=True)
    np.testing.assert_allclose(vjp_fn(np.ones(3))[0], np.cos(X64))
    np.testing.assert_allclose(aux["c"], np.cos(X64))
    assert not isinstance(aux["c"], fg.core.trace.Tracer)


def test_vjp_with_pytree_output_and_cotangent():
    out, vjp_fn = fg.vjp(lambda x: {"a": x * 2.0, "b": [fnp.sum(x)]}, X64)
    (ct,) = vjp_fn({"a": np.ones(3), "b": [np.float64(10.0)]})
    np.testing.assert_allclose(ct, 12.0 * np.ones(3))


def test_linearize_matches_jvp_and_is_linear():
    f = lambda x, w: fnp.tanh(x @ w)
    out, jvp_fn = fg.linearize(f, X64, W64)
    tx, tw = np.array([1.0, 2.0, 3.0]), np.full_like(W64, 0.5)
    ref_out, ref_t = fg.jvp(f, (X64, W64), (tx, tw))
    np.testing.assert_allclose(out, ref_out)
    np.testing.assert_allclose(jvp_fn(tx, tw), ref_t)
    np.testing.assert_allclose(jvp_fn(2 * tx, 2 * tw), 2 * ref_t)
    with jax.enable_x64(True):
        _, jlin = jax.linearize(lambda x, w: jnp.tanh(x @ w), X64, W64)
        np.testing.assert_allclose(jvp_fn(tx, tw), jlin(tx, tw))


def test_linearize_replays_only_a_linear_program():
    calls = []

    def f(x):
        calls.append(1)
        return fnp.sin(x) * 3.0

    _, jvp_fn = fg.linearize(f, X64)
    n = len(calls)
    jvp_fn(np.ones(3))
    jvp_fn(np.ones(3))
    assert len(calls) == n  # the tangent program is an IR: f is not called again
    assert isinstance(jvp_fn.ir, fg.IR)
    assert "sin" not in jvp_fn.ir.primitives()  # sin's value is a constant of the tangent program


# ----------------------------------------------------------------------------- jacobians, hessian

def g_fg(x, y):
    return {"a": fnp.sin(x) * y[0], "b": fnp.sum(x[:2] * y[1])}


def g_jax(x, y):
    return {"a": jnp.sin(x) * y[0], "b": jnp.sum(x[:2] * y[1])}


Y = (np.float64(2.0), np.array([1.0, 3.0]))


@pytest.mark.parametrize("which", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_jacobians_of_pytrees_match_jax(which, argnums):
    got = getattr(fg, which)(g_fg, argnums=argnums)(X64, Y)
    with jax.enable_x64(True):
        want = jax.jit(getattr(jax, which)(g_jax, argnums=argnums))(X64, Y)
    assert_tree_close(got, want)


@pytest.mark.parametrize("which", ["jacfwd", "jacrev"])
def test_jacobians_has_aux(which):
    jac, aux = getattr(fg, which)(lambda x: (fnp.sin(x), {"x2": x * 2.0}), has_aux=True)(X64)
    np.testing.assert_allclose(jac, np.diag(np.cos(X64)))
    np.testing.assert_allclose(aux["x2"], 2 * X64)
    assert isinstance(aux["x2"], np.ndarray)


@pytest.mark.parametrize("which", ["jacfwd", "jacrev"])
def test_jacobian_shapes_are_out_shape_plus_in_shape(which):
    J = getattr(fg, which)(lambda w: fnp.tanh(w * 2.0).T)(W64)
    assert J.shape == (2, 3, 3, 2)
    with jax.enable_x64(True):
        np.testing.assert_allclose(J, jax.jit(jax.jacfwd(lambda w: jnp.tanh(w * 2.0).T))(W64), rtol=1e-12)


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_hessian_matches_jax(argnums):
    f = lambda x, y: fnp.sum(fnp.sin(x) * y) ** 2 + fnp.prod(x)
    jf = lambda x, y: jnp.sum(jnp.sin(x) * y) ** 2 + jnp.prod(x)
    got = fg.hessian(f, argnums=argnums)(X64, X64 + 1.0)
    with jax.enable_x64(True):
        want = jax.jit(jax.hessian(jf, argnums=argnums))(X64, X64 + 1.0)
    assert_tree_close(got, want, rtol=1e-10, atol=1e-12)


def test_hessian_of_dict_input_matches_jax():
    p = {"w": W64, "b": np.array([0.1, -0.2])}
    f = lambda p: fnp.sum(fnp.tanh(X64 @ p["w"] + p["b"]) ** 2)
    jf = lambda p: jnp.sum(jnp.tanh(X64 @ p["w"] + p["b"]) ** 2)
    got = fg.hessian(f)(p)
    with jax.enable_x64(True):
        want = jax.jit(jax.hessian(jf))(p)
    assert_tree_close(got, want, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- stop_gradient

def test_stop_gradient_blocks_derivatives_in_every_mode():
    f = lambda x: fnp.sum(x * fg.stop_gradient(x))
    np.testing.assert_allclose(fg.grad(f)(X64), X64)
    np.testing.assert_allclose(fg.jvp(f, (X64,), (np.ones(3),))[1], np.sum(X64))
    np.testing.assert_allclose(fg.jit(fg.grad(f))(X64), X64)


def test_stop_gradient_on_a_pytree_leaves_integers_alone():
    tree = {"x": X64, "n": np.arange(3)}
    out = fg.stop_gradient(tree)
    np.testing.assert_array_equal(out["x"], X64)
    assert out["n"].dtype == np.arange(3).dtype
