"""``eval_ir(make_ir(f))`` against eager, over the whole op table.

The shape/dtype rule of every primitive is checked here: the IR's output avals must
equal the shapes and dtypes of the eager results, and running the IR must give the
eager values.
"""
import warnings

import numpy as np
import pytest

import funcgrad as fg
from op_table import ROWS, assert_match, leaves, params


@pytest.mark.parametrize("row", params(ROWS, "ir"))
def test_eval_ir_matches_eager(row):
    args = row.args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = row.fn(*row.args())
        ir = fg.make_ir(row.fn)(*args)
        got = fg.eval_ir(ir, *fg.tree.leaves(args))
    want_leaves = leaves(want)
    avals = ir.out_avals
    assert len(avals) == len(want_leaves)
    for k, (a, w) in enumerate(zip(avals, want_leaves, strict=True)):
        assert a.shape == np.shape(w), f"IR output {k}: aval shape {a.shape}, eager {np.shape(w)}\n{ir}"
        assert a.dtype == np.asarray(w).dtype, f"IR output {k}: aval dtype {a.dtype}, eager {np.asarray(w).dtype}\n{ir}"
    # an output that is an input passes through unchanged: a Python scalar has its aval's dtype
    got = [np.asarray(g, a.dtype) if type(g) in (bool, int, float) else g for g, a in zip(got, avals, strict=True)]
    assert_match(got, want_leaves, row, f"eval_ir {row.id}")
