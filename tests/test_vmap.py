"""vmap's API: in_axes/out_axes as ints, None and pytree prefixes, axis_size, errors,
and composition with grad, jit, jvp and itself (jax.vmap as the oracle)."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.errors import ConcretizationError, TreeStructureError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3))
W = RNG.standard_normal((3, 2))


def test_per_example_gradients_equal_a_loop_and_jax():
    def loss(w, x):
        return fnp.sum(fnp.tanh(x @ w) ** 2)

    got = fg.vmap(fg.grad(loss), in_axes=(None, 0))(W, X)
    loop = np.stack([fg.grad(loss)(W, x) for x in X])
    with jax.enable_x64(True):
        ref = jax.vmap(jax.grad(lambda w, x: jnp.sum(jnp.tanh(x @ w) ** 2)), in_axes=(None, 0))(W, X)
    np.testing.assert_allclose(got, loop, rtol=1e-12)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_in_axes_pytree_prefix_and_out_axes():
    class P(NamedTuple):
        w: object
        b: object

    def f(p, x):
        return {"y": x @ p.w + p.b, "n": fnp.sum(x)}

    p = P(W, np.ones(2))
    got = fg.vmap(f, in_axes=(P(None, None), 1), out_axes={"y": 1, "n": 0})(p, X.T)
    for i in range(4):
        np.testing.assert_allclose(got["y"][:, i], X[i] @ W + 1)
        np.testing.assert_allclose(got["n"][i], X[i].sum())


def test_unmapped_output_is_broadcast_and_axis_size():
    out = fg.vmap(lambda x: 2.0, axis_size=3, in_axes=None)(np.ones(2))
    np.testing.assert_array_equal(out, np.full(3, 2.0, np.float32))
    out = fg.vmap(lambda x, c: x * c, in_axes=(0, None))(X, 2.0)
    np.testing.assert_allclose(out, X * 2)


def test_nested_vmap_and_jit_and_grad_of_vmap():
    f = lambda a, b: fnp.dot(a, b)  # noqa: E731
    outer = fg.vmap(fg.vmap(f, in_axes=(None, 0)), in_axes=(0, None))(X, X)
    np.testing.assert_allclose(outer, X @ X.T)
    jitted = fg.jit(fg.vmap(lambda x: fnp.sum(fnp.sin(x))))
    np.testing.assert_allclose(jitted(X), np.sin(X).sum(1))
    g = fg.grad(lambda w: fnp.sum(fg.vmap(lambda x: fnp.tanh(x @ w))(X)))(W)
    np.testing.assert_allclose(g, fg.grad(lambda w: fnp.sum(fnp.tanh(X @ w)))(W), rtol=1e-12)
    t = fg.jvp(fg.vmap(fnp.sin), (X,), (np.ones_like(X),))[1]
    np.testing.assert_allclose(t, np.cos(X))


def test_hyperparameter_sweep_in_one_program():
    def final_loss(lr):
        w = np.zeros((3, 2))
        for _ in range(5):
            w = w - lr * fg.grad(lambda w: fnp.mean((X @ w - 1.0) ** 2))(w)
        return fnp.mean((X @ w - 1.0) ** 2)

    lrs = np.array([0.01, 0.1, 0.3])
    got = fg.jit(fg.vmap(final_loss))(lrs)
    np.testing.assert_allclose(got, [final_loss(float(lr)) for lr in lrs], rtol=1e-10)


def test_errors_name_the_problem_and_the_fix():
    with pytest.raises(ValueError, match="different sizes"):
        fg.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="in_axes 2"):
        fg.vmap(lambda a: a, in_axes=2)(np.ones((3, 2)))
    with pytest.raises(ValueError, match="axis_size"):
        fg.vmap(lambda a: a, in_axes=None)(np.ones(3))
    with pytest.raises(TreeStructureError, match="prefix"):
        fg.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": np.ones(3)})
    with pytest.raises(ConcretizationError, match="vmap"):
        fg.vmap(lambda x: x if x > 0 else -x)(np.ones(3))


def test_debug_print_under_vmap_prints_the_batch(capsys):
    fg.vmap(lambda x: fg.debug_print("x={}", x))(np.arange(3.0))
    assert "x=[0. 1. 2.]" in capsys.readouterr().out


def test_indexing_with_batched_indices_is_vectorised():
    """x[label] and .at[label].add with a label per example: one gather / scatter for the
    whole batch (no loop), equal to the loop."""
    x = RNG.standard_normal((5, 4, 3))
    lab = np.array([0, 3, 1, 2, 3])

    def loss(w, xi, label):
        return -fnp.log(fnp.exp(xi @ w)[label])

    w, xs = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 3))
    pe = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))
    np.testing.assert_allclose(pe(w, xs, lab), np.stack([fg.grad(loss)(w, a, b) for a, b in zip(xs, lab)]))
    ir = fg.make_ir(pe)(w, xs, lab)
    assert "concatenate" not in ir.primitives()         # no per-example loop
    got = fg.vmap(lambda xi, k: fnp.asarray(xi).at[k].add(1.0))(x, lab)
    want = x.copy()
    want[np.arange(5), lab] += 1
    np.testing.assert_allclose(got, want)
    got = fg.vmap(lambda xi, u: fnp.asarray(xi).at[1:3, 0].set(u), in_axes=(None, 0))(x[0], np.ones((5, 2)))
    want = np.repeat(x[:1], 5, 0)
    want[:, 1:3, 0] = 1
    np.testing.assert_allclose(got, want)
