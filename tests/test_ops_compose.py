"""Compositions of transforms over the op table: ``vmap(grad(f))`` equals a loop of
gradients, ``grad(vmap(f))`` equals the sum of the per-example gradients, and
``jit(vmap(f))`` equals eager ``vmap(f)`` in values and dtypes."""
import warnings

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.errors import ConcretizationError
from op_table import GRAD_ROWS, ROWS, assert_match, leaves, params

B = 3


def _examples(base, seed=7):
    """``B`` argument sets: float arrays permuted elementwise (domains kept), others repeated."""
    rng = np.random.default_rng(seed)
    out = [list(base)]
    for _ in range(B - 1):
        out.append([rng.permutation(a.ravel()).reshape(a.shape)
                    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size > 1 else a for a in base])
    return out


def _stacked(examples, i):
    return np.stack([ex[i] for ex in examples])


def _grad_setup(row):
    """The row as a scalar loss of its float inputs (weighted sum of float outputs),
    per-example argument sets of those inputs, and the closed-over other arguments."""
    args, nums = row.grad_args()
    examples = _examples([args[i] for i in nums])
    out = leaves(row.fn(*args))
    rng = np.random.default_rng(0)
    weights = {k: rng.standard_normal(np.shape(o)) for k, o in enumerate(out) if np.asarray(o).dtype.kind == "f"}

    def loss(*diff):
        full = list(args)
        for i, d in zip(nums, diff, strict=True):
            full[i] = d
        outs = leaves(row.fn(*full))
        return sum(fnp.sum(outs[k] * w) for k, w in weights.items())

    return loss, examples, len(nums)


def _close(got, want, what):
    for g, w in zip(leaves(got), leaves(want), strict=True):
        assert np.shape(g) == np.shape(w), what
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-11, err_msg=what)


@pytest.mark.parametrize("row", params(GRAD_ROWS, "grad"))
def test_vmap_of_grad_is_a_loop_of_grads(row):
    loss, examples, n = _grad_setup(row)
    argnums = tuple(range(n))
    want = [fg.grad(loss, argnums)(*ex) for ex in examples]
    try:
        got = fg.vmap(fg.grad(loss, argnums))(*[_stacked(examples, i) for i in range(n)])
    except ConcretizationError:
        pytest.skip("needs concrete values (shape depends on values), as under jax.vmap")
    for k in range(n):
        _close(got[k], np.stack([np.asarray(w[k]) for w in want]), f"vmap(grad) {row.id} input {k}")


@pytest.mark.parametrize("row", params(GRAD_ROWS, "grad"))
def test_grad_of_vmap_is_the_sum_of_per_example_grads(row):
    loss, examples, n = _grad_setup(row)
    argnums = tuple(range(n))
    want = [fg.grad(loss, argnums)(*ex) for ex in examples]
    try:
        got = fg.grad(lambda *xs: fnp.sum(fg.vmap(loss)(*xs)), argnums)(*[_stacked(examples, i) for i in range(n)])
    except ConcretizationError:
        pytest.skip("needs concrete values (shape depends on values), as under jax.vmap")
    for k in range(n):
        _close(got[k], np.stack([np.asarray(w[k]) for w in want]), f"grad(vmap) {row.id} input {k}")


MAPPABLE = [r for r in ROWS if any(isinstance(a, np.ndarray) for a in r.args())]


@pytest.mark.parametrize("row", params(MAPPABLE[::3], "jit"))
def test_jit_of_vmap_matches_eager_vmap(row):
    base = row.args()
    examples = _examples(base)
    in_axes = tuple(0 if isinstance(a, np.ndarray) else None for a in base)
    batched = [_stacked(examples, i) if d == 0 else base[i] for i, d in enumerate(in_axes)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            want = fg.vmap(row.fn, in_axes=in_axes)(*batched)
            got = fg.jit(fg.vmap(row.fn, in_axes=in_axes))(*batched)
        except ConcretizationError:
            pytest.skip("needs concrete values (shape depends on values), as under jax.jit")
    got = type(got)(np.asarray(g) for g in got) if isinstance(got, (tuple, list)) else np.asarray(got)
    assert_match(got, want, row, f"jit(vmap) {row.id}")
