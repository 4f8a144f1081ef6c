"""Primitives that hold a sub-program -- ``custom_jvp``, ``custom_vjp``, ``checkpoint``
and ``jit`` called inside a transform -- under every transform and in both nesting
orders, against jax's results for the same program written with jax.

Each subject's custom rule is deliberately *not* the true derivative, so a
composition that loses the rule (and differentiates the plain function) fails."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

RNG = np.random.default_rng(9)
X = RNG.uniform(0.2, 1.2, (4, 3))
T = RNG.standard_normal((4, 3))


class FG:
    grad, vmap, jit, jvp, np = fg.grad, fg.vmap, fg.jit, fg.jvp, fnp
    custom_jvp, custom_vjp, checkpoint = fg.custom_jvp, fg.custom_vjp, fg.checkpoint


class JAX:
    grad, vmap, jit, jvp, np = jax.grad, jax.vmap, jax.jit, jax.jvp, jnp
    custom_jvp, custom_vjp, checkpoint = jax.custom_jvp, jax.custom_vjp, jax.checkpoint


def subject(kind, M):
    """``f: [3] -> [3]`` built with library ``M``'s own custom_jvp/custom_vjp/checkpoint/jit."""
    m = M.np
    if kind == "custom_jvp":
        f = M.custom_jvp(lambda x: m.sin(x))
        f.defjvp(lambda p, t: (m.sin(p[0]), 3.0 * m.cos(p[0]) * t[0]))   # 3x the true derivative
        return f
    if kind == "custom_vjp":
        f = M.custom_vjp(lambda x: m.sin(x))
        f.defvjp(lambda x: (m.sin(x), m.cos(x)), lambda c, g: (100.0 * c * g,))  # 100x the true one
        return f
    w = m.asarray(np.array([2.0, -1.0, 0.3]))
    block = lambda x: m.tanh(m.sin(x) * w) * x  # noqa: E731
    if kind == "checkpoint":
        return M.checkpoint(block)
    return M.jit(block)


def nested_custom_in_jit(M):
    return M.jit(lambda x: subject("custom_vjp", M)(x) * 2.0)


COMPOSITIONS = {
    "eager": lambda M, f: f(X[0]),
    "grad": lambda M, f: M.grad(lambda x: M.np.sum(f(x) ** 2))(X[0]),
    "vmap": lambda M, f: M.vmap(f)(X),
    "vmap(grad)": lambda M, f: M.vmap(M.grad(lambda x: M.np.sum(f(x) ** 2)))(X),
    "grad(vmap)": lambda M, f: M.grad(lambda x: M.np.sum(M.vmap(f)(x) ** 2))(X),
    "jit(vmap)": lambda M, f: M.jit(M.vmap(f))(X),
    "vmap(jit)": lambda M, f: M.vmap(M.jit(f))(X),
    "jit(grad)": lambda M, f: M.jit(M.grad(lambda x: M.np.sum(f(x) ** 2)))(X[0]),
    "grad(jit)": lambda M, f: M.grad(lambda x: M.np.sum(M.jit(f)(x) ** 2))(X[0]),
    "grad(grad)": lambda M, f: M.grad(lambda x: M.np.sum(M.grad(lambda y: M.np.sum(f(y) ** 2))(x)))(X[0]),
    "jvp": lambda M, f: M.jvp(f, (X[0],), (T[0],)),
    "jvp(vmap)": lambda M, f: M.jvp(M.vmap(f), (X,), (T,)),
    "vmap(jvp)": lambda M, f: M.vmap(lambda x, t: M.jvp(f, (x,), (t,)))(X, T),
    "grad(vmap(jit))": lambda M, f: M.grad(lambda x: M.np.sum(M.vmap(M.jit(f))(x) ** 2))(X),
}
FORWARD = {"jvp", "jvp(vmap)", "vmap(jvp)"}
KINDS = ["custom_jvp", "custom_vjp", "checkpoint", "jit"]


def _close(got, want):
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("comp", COMPOSITIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_composition_matches_jax(kind, comp):
    run = COMPOSITIONS[comp]
    if kind == "custom_vjp" and comp in FORWARD:
        with pytest.raises(TypeError, match="forward-mode"):
            run(FG, subject(kind, FG))
        return
    with jax.enable_x64(True):
        want = run(JAX, subject(kind, JAX))
    _close(run(FG, subject(kind, FG)), want)


@pytest.mark.parametrize("comp", [c for c in COMPOSITIONS if c != "eager"])
@pytest.mark.parametrize("kind", KINDS)
def test_make_ir_of_the_composition_keeps_the_rule(kind, comp):
    if kind == "custom_vjp" and comp in FORWARD:
        return
    run = COMPOSITIONS[comp]
    f = subject(kind, FG)
    ir = fg.make_ir(lambda: run(FG, f))()
    ir.check()
    with jax.enable_x64(True):
        want = run(JAX, subject(kind, JAX))
    _close(fg.eval_ir(ir), jax.tree_util.tree_leaves(want))


def test_a_custom_rule_survives_make_ir_and_eval_ir():
    f = subject("custom_vjp", FG)
    ir = fg.make_ir(lambda x: fnp.sum(f(x)))(X[0])
    assert "custom_vjp_call" in ir.primitives()
    g = fg.grad(lambda x: fg.eval_ir(ir, x)[0])(X[0])
    np.testing.assert_allclose(g, 100.0 * np.cos(X[0]), rtol=1e-14)


def test_the_snippet_from_the_docs():
    @fg.custom_vjp
    def f(x):
        return fnp.sin(x)

    f.defvjp(lambda x: (fnp.sin(x), x), lambda r, g: (g * 100.0,))
    np.testing.assert_array_equal(fg.grad(lambda x: f(x).sum())(np.ones(3)), [100.0] * 3)
    np.testing.assert_array_equal(fg.grad(lambda x: fg.vmap(f)(x).sum())(np.ones(3)), [100.0] * 3)
    assert isinstance(fg.vmap(fg.jit(lambda x: x * 2))(np.ones(3)), jax.Array)


def test_jit_inside_transforms_stays_compiled():
    f = fg.jit(lambda x: fnp.sin(x) * 2.0)
    assert isinstance(fg.vmap(f)(X), jax.Array)
    assert isinstance(fg.grad(lambda x: fnp.sum(f(x)))(X[0]), jax.Array)
    out, tangent = fg.jvp(f, (X[0],), (T[0],))
    assert isinstance(out, jax.Array) and isinstance(tangent, jax.Array)


def test_the_printed_ir_nests_sub_programs():
    f = subject("custom_jvp", FG)
    text = str(fg.make_ir(fg.jit(lambda x: f(x) * 2.0))(X[0]))
    assert "jit_call[" in text and "custom_jvp_call[" in text and "sin" in text
    outer, inner = text.index("jit_call["), text.index("custom_jvp_call[")
    assert outer < inner


def test_a_custom_function_closing_over_a_differentiated_value_says_so():
    def run(y):
        g = fg.custom_vjp(lambda x: x * y)
        g.defvjp(lambda x: (x * y, None), lambda r, ct: (ct * y,))
        return fnp.sum(g(X[0]))

    with pytest.raises(fg.errors.NonDifferentiableError, match="closes over a value"):
        fg.grad(run)(2.0 * np.ones(3))


def test_a_custom_rule_may_close_over_values_that_are_not_differentiated():
    def loss(x, scale):
        g = fg.custom_vjp(lambda x: x * scale)
        g.defvjp(lambda x: (x * scale, None), lambda r, ct: (ct * 7.0,))
        return fnp.sum(g(x))

    got = fg.vmap(fg.grad(loss), in_axes=(0, None))(X, 3.0)
    np.testing.assert_allclose(got, np.full_like(X, 7.0))
    got = fg.jit(fg.grad(loss))(X[0], 3.0)
    np.testing.assert_allclose(got, np.full(3, 7.0))


def test_nested_custom_rule_inside_jit_inside_vmap_of_grad():
    f = nested_custom_in_jit(FG)
    got = fg.vmap(fg.grad(lambda x: fnp.sum(f(x))))(X)
    np.testing.assert_allclose(got, 200.0 * np.cos(X), rtol=1e-13)


@pytest.mark.parametrize("wrap", ["checkpoint", "jit"])
def test_checkpoint_and_jit_may_close_over_differentiated_values(wrap):
    def loss(y):
        inner = lambda x: fnp.sin(x * y)  # noqa: E731
        inner = fg.checkpoint(inner) if wrap == "checkpoint" else fg.jit(inner)
        return fnp.sum(inner(X[0]) ** 2)

    with jax.enable_x64(True):
        want = jax.grad(lambda y: jnp.sum(jnp.sin(X[0] * y) ** 2))(1.5 * np.ones(3))
        want_vmapped = jax.vmap(jax.grad(lambda y: jnp.sum(jnp.sin(X[0] * y) ** 2)))(X)
    np.testing.assert_allclose(fg.grad(loss)(1.5 * np.ones(3)), want, rtol=1e-12)
    np.testing.assert_allclose(fg.vmap(fg.grad(loss))(X), want_vmapped, rtol=1e-12)
    ir = fg.make_ir(fg.grad(loss))(1.5 * np.ones(3))
    assert ("remat" if wrap == "checkpoint" else "jit_call") in ir.primitives()
