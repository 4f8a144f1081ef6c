"""Derivatives over the op table (float64): ``check_grads`` to order 2 in forward and
reverse mode; agreement of ``grad`` / ``jvp`` with ``jax.grad`` / ``jax.jvp`` of the same
computation written with ``jax.numpy``; and the staged backward program
(``eval_ir(make_ir(grad(f)))``) against the eager gradient.

A row is differentiated with respect to all of its floating-point array inputs; other
inputs (integer indices, masks, Python scalars) are closed over.  Non-scalar outputs
are reduced to a scalar with fixed random weights.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.test_util import check_grads
from op_table import GRAD_ROWS, leaves, params


def _setup(row):
    """``(f, jf, diff, loss)`` for a row: the funcgrad and jax functions of the float
    inputs only, those inputs (float64), and ``loss(f, mod)``: a weighted sum of the
    float outputs written with ``mod`` (fnp or jnp)."""
    args, nums = row.grad_args()

    def closed_over(fn):
        def f(*diff):
            full = list(args)
            for i, d in zip(nums, diff, strict=True):
                full[i] = d
            return fn(*full)
        return f

    f, jf = closed_over(row.fn), closed_over(row.jref)
    diff = [args[i] for i in nums]
    out = leaves(f(*diff))
    rng = np.random.default_rng(0)
    weights = {k: rng.standard_normal(np.shape(o)) for k, o in enumerate(out) if np.asarray(o).dtype.kind == "f"}

    def loss(fun, mod):
        def scalar(*xs):
            outs = leaves(fun(*xs))
            return sum(mod.sum(outs[k] * w) for k, w in weights.items())
        return scalar

    return f, jf, diff, loss, weights


@pytest.mark.parametrize("row", params(GRAD_ROWS, "grad"))
def test_check_grads(row):
    f, _, diff, _, _ = _setup(row)
    check_grads(f, diff, order=2, modes=("fwd", "rev"), atol=row.v.gtol, rtol=row.v.gtol)


@pytest.mark.parametrize("row", params(GRAD_ROWS, "jax"))
def test_grad_and_jvp_match_jax(row):
    f, jf, diff, loss, weights = _setup(row)
    argnums = tuple(range(len(diff)))
    tangents = [np.random.default_rng(1).standard_normal(np.shape(d)) for d in diff]
    grads = fg.grad(loss(f, fnp), argnums=argnums)(*diff)
    _, out_t = fg.jvp(f, tuple(diff), tuple(tangents))
    with jax.enable_x64(True):
        @jax.jit  # one compile per row: much faster than jax's op-by-op dispatch
        def oracle(diff, tangents):
            return jax.grad(loss(jf, jnp), argnums=argnums)(*diff), jax.jvp(jf, diff, tangents)[1]

        want_grads, want_t = oracle(tuple(diff), tuple(tangents))
    for g, w, d in zip(grads, want_grads, diff, strict=True):
        assert np.asarray(g).dtype == d.dtype and np.shape(g) == np.shape(d)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-8, err_msg="grad vs jax.grad")
    out_t, want_t = leaves(out_t), leaves(want_t)
    for k in weights:
        np.testing.assert_allclose(np.asarray(out_t[k], np.float64), np.asarray(want_t[k], np.float64),
                                   rtol=1e-6, atol=1e-8, err_msg=f"jvp output {k} vs jax.jvp")


@pytest.mark.parametrize("row", params(GRAD_ROWS, "grad_ir"))
def test_staged_gradient_matches_eager(row):
    f, _, diff, loss, _ = _setup(row)
    g = fg.grad(loss(f, fnp), argnums=tuple(range(len(diff))))
    want = g(*diff)
    got = fg.eval_ir(fg.make_ir(g)(*diff), *diff)
    for a, b in zip(got, want, strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("row", params(GRAD_ROWS, "grad_jit"))
def test_jitted_gradient_matches_eager(row):
    f, _, diff, loss, _ = _setup(row)
    g = fg.grad(loss(f, fnp), argnums=tuple(range(len(diff))))
    want = g(*diff)
    got = fg.jit(g)(*diff)
    for a, b in zip(got, want, strict=True):
        assert isinstance(a, jax.Array) and a.dtype == np.asarray(b).dtype
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-11)
