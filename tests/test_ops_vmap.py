"""``vmap`` against a Python loop over the whole op table: ``vmap(f)(xs)`` equals
``stack([f(x) for x in xs])`` in values and dtypes, and so does ``vmap`` over the
second axis with ``out_axes=1``."""
import warnings

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.errors import ConcretizationError
from op_table import ROWS, assert_match, leaves, params

B = 3


def _batch(row):
    """Three argument sets: float arrays permuted elementwise (domains kept), others repeated.

    Returns ``(per_example_args, in_axes)``; Python scalars are not mapped."""
    base = row.args()
    rng = np.random.default_rng(7)
    examples = [list(base)]
    for _ in range(B - 1):
        ex = []
        for a in base:
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size > 1:
                a = rng.permutation(a.ravel()).reshape(a.shape)
            ex.append(a)
        examples.append(ex)
    in_axes = tuple(0 if isinstance(a, np.ndarray) else None for a in base)
    return examples, in_axes


def _stack(outs):
    first = outs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_stack([o[k] for o in outs]) for k in range(len(first)))
    return np.stack([np.asarray(o) for o in outs])


MAPPABLE = [r for r in ROWS if any(isinstance(a, np.ndarray) for a in r.args())]


@pytest.mark.parametrize("row", params(MAPPABLE, "vmap"))
def test_vmap_matches_a_loop(row):
    examples, in_axes = _batch(row)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = _stack([row.fn(*ex) for ex in examples])
        batched = [np.stack([ex[i] for ex in examples]) if d == 0 else examples[0][i]
                   for i, d in enumerate(in_axes)]
        try:
            got = fg.vmap(row.fn, in_axes=in_axes)(*batched)
        except ConcretizationError:
            pytest.skip("needs concrete values (shape depends on values), as under jax.vmap")
    assert_match(got, want, row, f"vmap {row.id}")


@pytest.mark.parametrize("row", params(MAPPABLE[::7], "vmap"))
def test_vmap_over_another_axis(row):
    examples, in_axes = _batch(row)
    want = _stack([row.fn(*ex) for ex in examples])
    batched = [np.stack([ex[i] for ex in examples], axis=-1) if d == 0 else examples[0][i]
               for i, d in enumerate(in_axes)]
    in_axes = tuple(-1 if d == 0 else None for d in in_axes)
    try:
        got = fg.vmap(row.fn, in_axes=in_axes, out_axes=-1)(*batched)
    except ConcretizationError:
        pytest.skip("needs concrete values (shape depends on values), as under jax.vmap")
    got_l = [np.moveaxis(np.asarray(g), -1, 0) for g in leaves(got)]
    for g, w in zip(got_l, leaves(want), strict=True):
        assert g.dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
