"""``jit`` against eager over the whole op table: dtypes exactly, values to tolerance,
results are ``jax.Array``."""
import warnings

import jax
import pytest

import funcgrad as fg
from op_table import ROWS, assert_match, params


@pytest.mark.parametrize("row", params(ROWS, "jit"))
def test_jit_matches_eager(row):
    args = row.args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = row.fn(*row.args())
    got = fg.jit(row.fn)(*args)
    assert_match(got, want, row, f"jit {row.id}", check_type=jax.Array)
