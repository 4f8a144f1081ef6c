"""Eager funcgrad.numpy against NumPy: values and dtypes exactly, over the whole op table.

Eager results are NumPy arrays (or NumPy scalars where NumPy returns one), computed by
NumPy, with NumPy 2's promotion (weak Python scalars); creation functions default to
float32 where NumPy defaults to float64 (encoded in the table's references).
"""
import warnings

import numpy as np
import pytest

import funcgrad.numpy as fnp
from op_table import CONTRACT_CONSTANTS, CONTRACT_DTYPES, CONTRACT_FUNCTIONS, OPS, ROWS, assert_match, params


@pytest.mark.parametrize("row", params(ROWS, "eager"))
def test_eager_matches_numpy(row):
    args = row.args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN/inf rows: NumPy warns, both sides alike
        want = row.ref(*row.args())
        got = row.fn(*args)
    assert_match(got, want, row, f"eager {row.id}", check_type=(np.ndarray, np.generic))


def test_every_contract_function_has_a_row():
    names = {o.name for o in OPS}
    missing = [n for n in CONTRACT_FUNCTIONS if n not in names]
    assert not missing, f"funcgrad.numpy functions of the contract without an op-table row: {missing}"


@pytest.mark.parametrize("name", CONTRACT_DTYPES)
def test_dtype_names_are_numpy_dtypes(name):
    assert getattr(fnp, name) is getattr(np, name)


def test_constants():
    for name, value in CONTRACT_CONSTANTS.items():
        assert getattr(fnp, name) == value
    assert np.isnan(fnp.nan)
    assert fnp.newaxis is None
