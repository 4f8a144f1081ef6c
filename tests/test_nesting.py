"""Transforms nested in each other: higher-order derivatives, the classic perturbation
confusion cases, jit around and inside grad, and make_ir of derivative programs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

# GPUs may run float32 matmuls in TF32 (jax's default precision): compare float32
# results of jax programs with NumPy's more loosely there.
F32_RTOL = 1e-5 if jax.default_backend() == "cpu" else 5e-3


def D(f):
    """The derivative of a scalar function by forward mode."""
    return lambda x: fg.jvp(f, (x,), (1.0,))[1]


# ----------------------------------------------------------------------------- higher order

def test_third_derivative_matches_analytic_and_jax():
    f = lambda x: fnp.sin(x) * fnp.exp(x)
    x = 0.7
    d3 = fg.grad(fg.grad(fg.grad(f)))(x)
    # (sin x e^x)''' = 2 e^x (cos x - sin x)
    assert float(d3) == pytest.approx(2 * np.exp(x) * (np.cos(x) - np.sin(x)), rel=1e-5)
    want = jax.grad(jax.grad(jax.grad(lambda x: jnp.sin(x) * jnp.exp(x))))(x)
    assert float(d3) == pytest.approx(float(want), rel=1e-5)


def test_fourth_derivative_of_a_polynomial_in_float64():
    f = lambda x: 3.0 * x ** 5 - x ** 2
    d4 = fg.grad(fg.grad(fg.grad(fg.grad(f))))(np.float64(1.5))
    assert np.asarray(d4).dtype == np.float64
    assert float(d4) == pytest.approx(360 * 1.5)


@pytest.mark.parametrize("order", ["fff", "ffr", "frr", "rrf", "rfr", "rrr"])
def test_mixed_forward_and_reverse_third_derivatives_agree(order):
    f = lambda x: fnp.tanh(x) * x
    g = f
    for mode in order:
        g = D(g) if mode == "f" else fg.grad(g)
    with jax.enable_x64(True):
        want = jax.grad(jax.grad(jax.grad(lambda x: jnp.tanh(x) * x)))(0.4)
    assert float(g(np.float64(0.4))) == pytest.approx(float(want), rel=1e-10)


def test_hessian_of_an_mlp_loss_matches_jax():
    r = np.random.default_rng(0)
    x = r.standard_normal((4, 3))
    y = r.standard_normal(4)
    w = r.standard_normal(3)

    def loss(w, m=fnp):
        return m.mean((m.tanh(x @ w) - y) ** 2)

    H = fg.hessian(loss)(w)
    with jax.enable_x64(True):
        want = jax.jit(jax.hessian(lambda w: loss(w, jnp)))(w)
    np.testing.assert_allclose(H, want, rtol=1e-10)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)


def test_hessian_vector_product_three_ways():
    f = lambda x: fnp.sum(fnp.sin(x) ** 2 * x[::-1])
    x = np.array([0.1, 0.5, -0.3])
    v = np.array([1.0, -2.0, 0.5])
    fwd_over_rev = fg.jvp(fg.grad(f), (x,), (v,))[1]
    rev_over_fwd = fg.grad(lambda x: fg.jvp(f, (x,), (v,))[1])(x)
    rev_over_rev = fg.grad(lambda x: fnp.vdot(fg.grad(f)(x), v))(x)
    full = fg.hessian(f)(x) @ v
    for hvp in (fwd_over_rev, rev_over_fwd, rev_over_rev):
        np.testing.assert_allclose(hvp, full, rtol=1e-12)


def test_vjp_of_vjp_is_the_jvp():
    f = lambda x: fnp.sin(x) * x
    x = np.array([0.2, 1.0])
    u = np.array([1.0, 3.0])

    def vjp_in_u(u):
        return fg.vjp(f, x)[1](u)[0]

    # u -> J^T u is linear; its vjp with v is J v
    v = np.array([0.5, -1.0])
    _, back = fg.vjp(vjp_in_u, u)
    np.testing.assert_allclose(back(v)[0], fg.jvp(f, (x,), (v,))[1], rtol=1e-12)


def test_maml_style_grad_through_an_inner_gradient_step_matches_jax():
    r = np.random.default_rng(1)
    x, y = r.standard_normal((5, 3)), r.standard_normal(5)
    w0 = r.standard_normal(3)

    def inner(w, m):
        return m.sum((x @ w - y) ** 2) * 0.2

    def outer(w, m, grad):
        for _ in range(2):
            w = w - 0.1 * grad(lambda w: inner(w, m))(w)
        return inner(w, m)

    got = fg.grad(lambda w: outer(w, fnp, fg.grad))(w0)
    with jax.enable_x64(True):
        want = jax.jit(jax.grad(lambda w: outer(w, jnp, jax.grad)))(w0)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_grad_of_eval_ir_of_a_traced_program():
    ir = fg.make_ir(lambda x: fnp.sin(x) * x)(np.zeros(3))
    g = fg.grad(lambda x: fnp.sum(fg.eval_ir(ir, x)[0]))(np.array([0.1, 0.2, 0.3]))
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x))


# ----------------------------------------------------------------------------- perturbation confusion

def test_perturbation_confusion_grad_of_grad():
    # d/dx [ d/dy (x*y) at y=2 ] = d/dx x = 1 (confusing the perturbations gives 2 or 0)
    assert float(fg.grad(lambda x: fg.grad(lambda y: x * y)(2.0))(3.0)) == 1.0


def test_perturbation_confusion_jvp_of_jvp():
    assert float(D(lambda x: D(lambda y: x * y)(2.0))(3.0)) == 1.0


@pytest.mark.parametrize("outer", ["jvp", "grad"])
@pytest.mark.parametrize("inner", ["jvp", "grad"])
def test_siskind_pearlmutter_x_times_derivative_of_x_plus_y(outer, inner):
    # d/dx [ x * d/dy (x + y) at y=1 ] = d/dx [x * 1] = 1; the confused answer is 2
    Do = D if outer == "jvp" else fg.grad
    Di = D if inner == "jvp" else fg.grad
    assert float(Do(lambda x: x * Di(lambda y: x + y)(1.0))(1.0)) == 1.0


@pytest.mark.parametrize("outer", ["jvp", "grad"])
@pytest.mark.parametrize("inner", ["jvp", "grad"])
def test_inner_derivative_of_a_function_closing_over_the_outer_variable(outer, inner):
    # f(x) = d/dy [x * y^2] at y = x  = 2 x^2;  f'(x) = 4 x
    Do = D if outer == "jvp" else fg.grad
    Di = D if inner == "jvp" else fg.grad
    assert float(Do(lambda x: Di(lambda y: x * y * y)(x))(3.0)) == pytest.approx(12.0)


def test_nested_derivative_with_the_same_variable_captured_twice():
    # from the JAX test suite: grad(lambda x: grad(lambda y: x * y)(x))(x) == 1 ... with x reused
    def f(x):
        return fg.grad(lambda y: x * y)(x)    # = x

    assert float(fg.grad(f)(5.0)) == 1.0
    assert float(D(f)(5.0)) == 1.0


def test_perturbation_confusion_under_jit():
    f = fg.jit(fg.grad(lambda x: fg.grad(lambda y: x * y)(2.0)))
    assert float(f(3.0)) == 1.0


# ----------------------------------------------------------------------------- jit with grad

def loss(w, x):
    return fnp.sum(fnp.tanh(x @ w) ** 2)


def jloss(w, x):
    return jnp.sum(jnp.tanh(x @ w) ** 2)


W = np.linspace(-1, 1, 6).reshape(3, 2).astype(np.float32)
XB = np.linspace(0, 2, 12).reshape(4, 3).astype(np.float32)


@pytest.mark.parametrize("compose", ["jit(grad)", "grad(jit)", "jit(grad(jit))"])
def test_jit_and_grad_compose_both_ways(compose):
    if compose == "jit(grad)":
        f = fg.jit(fg.grad(loss))
    elif compose == "grad(jit)":
        f = fg.grad(fg.jit(loss))
    else:
        f = fg.jit(fg.grad(fg.jit(loss)))
    got = f(W, XB)
    want = jax.grad(jloss)(W, XB)
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=F32_RTOL, atol=1e-6)


def test_jit_of_jacrev_and_hessian():
    x = np.array([0.1, 0.5, -0.3])
    J = fg.jit(fg.jacrev(lambda x: fnp.sin(x) * x[0]))(x)
    assert isinstance(J, jax.Array) and J.dtype == np.float64
    np.testing.assert_allclose(J, fg.jacrev(lambda x: fnp.sin(x) * x[0])(x), rtol=1e-12)
    H = fg.jit(fg.hessian(lambda x: fnp.sum(x ** 3)))(x)
    np.testing.assert_allclose(H, np.diag(6 * x), rtol=1e-12)


def test_grad_of_grad_under_jit_matches_eager():
    f = lambda x: fnp.sum(fnp.exp(fnp.sin(x)))
    x = np.array([0.3, 0.6], np.float32)
    g2 = lambda x: fnp.sum(fg.grad(f)(x) * x)
    np.testing.assert_allclose(fg.jit(fg.grad(g2))(x), fg.grad(g2)(x), rtol=1e-5)


def test_jvp_of_jit_and_jit_of_jvp():
    f = lambda x: fnp.sin(x) * 2.0
    x = np.array([0.1, 0.2])
    t = np.ones(2)
    a = fg.jvp(fg.jit(f), (x,), (t,))[1]
    b = fg.jit(lambda x, t: fg.jvp(f, (x,), (t,))[1])(x, t)
    np.testing.assert_allclose(a, 2 * np.cos(x))
    np.testing.assert_allclose(b, 2 * np.cos(x))


# ----------------------------------------------------------------------------- make_ir of derivatives

def test_make_ir_of_grad_shows_forward_and_backward_equations():
    f = lambda x: fnp.sum(fnp.sin(x) * x)
    ir = fg.make_ir(fg.grad(f))(np.zeros(3, np.float32))
    prims = ir.primitives()
    assert "sin" in prims and "cos" in prims and "mul" in prims
    assert "reduce_sum" not in prims      # the loss value itself is dead code in grad
    assert [a.str_short() for a in ir.out_avals] == ["f32[3]"]
    np.testing.assert_allclose(fg.eval_ir(ir, np.array([0.5, 1.0, 2.0], np.float32))[0],
                               fg.grad(f)(np.array([0.5, 1.0, 2.0], np.float32)), rtol=1e-6)


def test_make_ir_of_value_and_grad_shows_both():
    f = lambda x: fnp.sum(fnp.sin(x) * x)
    ir = fg.make_ir(fg.value_and_grad(f))(np.zeros(3, np.float32))
    text = str(ir)
    assert "reduce_sum" in text and "cos" in text
    assert [a.str_short() for a in ir.out_avals] == ["f32[]", "f32[3]"]
    value, grad = fg.tree.unflatten(ir.out_tree, fg.eval_ir(ir, np.ones(3, np.float32)))
    np.testing.assert_allclose(value, 3 * np.sin(1.0), rtol=1e-6)
    np.testing.assert_allclose(grad, np.cos(1.0) + np.sin(1.0), rtol=1e-6)


def test_make_ir_of_second_derivative_is_a_closed_program():
    f = lambda x: fnp.sin(x) * x
    ir = fg.make_ir(fg.grad(fg.grad(f)))(1.0)
    for x in (0.3, 1.7):
        np.testing.assert_allclose(fg.eval_ir(ir, np.float32(x))[0], 2 * np.cos(x) - x * np.sin(x), rtol=1e-5)


def test_make_ir_of_jvp_and_jacfwd():
    ir = fg.make_ir(lambda x, t: fg.jvp(fnp.exp, (x,), (t,)))(np.zeros(2), np.zeros(2))
    assert "exp" in ir.primitives() and len(ir.outs) == 2
    ir2 = fg.make_ir(fg.jacfwd(fnp.sin))(np.zeros(2))
    assert ir2.out_avals[0].shape == (2, 2)
