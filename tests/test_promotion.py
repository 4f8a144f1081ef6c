"""dtype promotion: NumPy 2 (NEP 50) with weak Python scalars, checked against NumPy
itself eagerly, in the IR's avals (``make_ir``) and under ``jit``.

``f32_array * 2.0`` stays float32, ``i32_array * 2`` stays int32, ``int_array * 2.0`` is
float64, NumPy scalars (``np.float64(1.0)``) are strong, and mixed array dtypes follow
NumPy's table (``u8 + i8`` is int16).  Where NumPy refuses a combination (``bool - bool``)
funcgrad raises ``TypeError`` too.  Only where no array is involved does funcgrad differ
from NumPy: weak values alone materialise in the default dtype of their kind (bool,
int64, float32), as in JAX.
"""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

_SHORT = {"bool": np.bool_, "u8": np.uint8, "u32": np.uint32, "u64": np.uint64, "i8": np.int8, "i16": np.int16,
          "i32": np.int32, "i64": np.int64, "f16": np.float16, "f32": np.float32, "f64": np.float64}


def _operand(x):
    """A string names an array of that dtype; anything else (Python or NumPy scalar) is itself."""
    return np.array([1, 2], _SHORT[x]) if isinstance(x, str) else x


CASES = [
    # weak Python scalars take the array's dtype unless their kind is higher
    ("f32", 2.0), ("f16", 2.0), ("f64", 2.0), ("f32", 2), ("i32", 2), ("i8", 3), ("u8", 3), ("u32", 7),
    ("i32", 2.0), ("i64", 2.0), ("u8", 2.0), ("i8", 2.5), ("bool", 2.0), ("bool", 1), ("bool", True),
    ("i32", True), ("f32", True), (2.0, "f32"), (3, "u8"), (2.5, "i32"),
    # NumPy scalars are strong
    ("f32", np.float64(1.0)), ("f32", np.int64(3)), ("i32", np.int64(3)), ("i8", np.float32(1.5)),
    (np.float64(2.0), "f16"), ("u8", np.uint16(2)),
    # arrays with arrays: NumPy's table
    ("bool", "i32"), ("bool", "f32"), ("bool", "bool"), ("u8", "i8"), ("u8", "u32"), ("i32", "u32"), ("i8", "u64"),
    ("i32", "f32"), ("i64", "f32"), ("i16", "f16"), ("f16", "f32"), ("f32", "f64"), ("u32", "i64"), ("u8", "f16"),
    ("i32", "i64"),
]
OPS = ["add", "subtract", "multiply", "true_divide", "floor_divide", "power", "maximum", "arctan2", "equal"]
JIT_OPS = ["add", "true_divide", "maximum"]


def _ids(case):
    return "-".join(c if isinstance(c, str) else f"{type(c).__name__}({c})" for c in case)


def _numpy(name, a, b):
    """NumPy's result dtype, or the exception type NumPy raises."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(getattr(np, name)(a, b)).dtype
    except (TypeError, OverflowError) as e:
        return type(e)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("name", OPS)
def test_eager_promotion_matches_numpy(name, case):
    a, b = (_operand(c) for c in case)
    want = _numpy(name, a, b)
    if isinstance(want, type):
        with pytest.raises((TypeError, OverflowError)):
            getattr(fnp, name)(a, b)
        return
    with np.errstate(all="ignore"):
        assert np.asarray(getattr(fnp, name)(a, b)).dtype == want


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("name", OPS)
def test_ir_promotion_matches_numpy(name, case):
    a, b = (_operand(c) for c in case)
    want = _numpy(name, a, b)
    f = getattr(fnp, name)
    if isinstance(want, type):
        with pytest.raises((TypeError, OverflowError)):
            fg.make_ir(f)(a, b)
        return
    # operands as traced inputs (Python scalars weak, NumPy scalars strong) ...
    assert fg.make_ir(f)(a, b).out_avals[0].dtype == want
    # ... and captured by the function (literals and constants)
    assert fg.make_ir(lambda x: f(x, b))(a).out_avals[0].dtype == want
    assert fg.make_ir(lambda y: f(a, y))(b).out_avals[0].dtype == want


@pytest.mark.parametrize("case", [c for c in CASES if not isinstance(_numpy("add", *map(_operand, c)), type)],
                         ids=_ids)
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "**"])
def test_operator_promotion_on_traced_values(op, case):
    a, b = (_operand(c) for c in case)
    f = eval(f"lambda x, y: x {op} y")  # noqa: S307  (our own operator table)
    with np.errstate(all="ignore"):
        try:
            want = np.asarray(f(a, b)).dtype
        except TypeError:
            return  # NumPy refuses (bool - bool): covered by the eager test
    assert fg.make_ir(f)(a, b).out_avals[0].dtype == want
    if isinstance(a, np.ndarray):
        assert fg.make_ir(lambda x: f(x, b))(a).out_avals[0].dtype == want


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("name", JIT_OPS)
def test_jit_promotion_matches_numpy(name, case):
    a, b = (_operand(c) for c in case)
    want = _numpy(name, a, b)
    if isinstance(want, type):
        return
    f = getattr(fnp, name)
    out = fg.jit(f)(a, b)
    assert out.dtype == want
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(np.asarray(out, np.float64), np.asarray(f(a, b), np.float64), rtol=1e-6)


@pytest.mark.parametrize("cond_case", [("f32", 0.0), ("i32", 1.5), ("u8", "i8"), ("f32", "f64"), ("bool", 1),
                                       ("i32", np.float32(1.0))], ids=_ids)
def test_where_promotion(cond_case):
    a, b = (_operand(c) for c in cond_case)
    c = np.array([True, False])
    want = np.where(c, a, b).dtype
    assert fnp.where(c, a, b).dtype == want
    assert fg.make_ir(lambda x, y: fnp.where(c, x, y))(a, b).out_avals[0].dtype == want
    assert fg.jit(lambda x, y: fnp.where(c, x, y))(a, b).dtype == want


@pytest.mark.parametrize("pair", [("f32", "i32"), ("u8", "i8"), ("bool", "f16"), ("f32", "f64"), ("i64", "u8")],
                         ids=_ids)
def test_concatenate_promotion(pair):
    a, b = (_operand(c) for c in pair)
    want = np.concatenate([a, b]).dtype
    assert fnp.concatenate([a, b]).dtype == want
    assert fg.make_ir(lambda x, y: fnp.concatenate([x, y]))(a, b).out_avals[0].dtype == want
    assert fg.jit(lambda x, y: fnp.concatenate([x, y]))(a, b).dtype == want


# Where no array is involved funcgrad follows JAX: weak values materialise as bool,
# int64 or float32 (NumPy would give float64 for Python floats).
WEAK_ONLY = [
    (lambda: fnp.add(2.0, 3.0), np.float32), (lambda: fnp.add(2, 3), np.int64), (lambda: fnp.add(2, 3.0), np.float32),
    (lambda: fnp.multiply(True, 2.5), np.float32), (lambda: fnp.exp(1.0), np.float32),
    (lambda: fnp.true_divide(1, 2), np.float32), (lambda: fnp.logical_and(True, False), np.bool_),
]


@pytest.mark.parametrize("k", range(len(WEAK_ONLY)))
def test_weak_values_alone_materialise_in_default_dtypes(k):
    f, want = WEAK_ONLY[k]
    assert np.asarray(f()).dtype == want


@pytest.mark.parametrize("make, want", [
    (lambda: fnp.zeros(3), np.float32), (lambda: fnp.ones((2, 2)), np.float32), (lambda: fnp.array([1.0]), np.float32),
    (lambda: fnp.array([1, 2]), np.int64), (lambda: fnp.arange(3), np.int64), (lambda: fnp.arange(3.0), np.float32),
    (lambda: fnp.full(2, 1.5), np.float32), (lambda: fnp.linspace(0, 1, 3), np.float32),
    (lambda: fnp.eye(2), np.float32), (lambda: fnp.asarray(np.zeros(2)), np.float64),
    (lambda: fnp.array([1.0], dtype=fnp.float64), np.float64), (lambda: fnp.zeros_like(np.zeros(2)), np.float64),
    (lambda: fnp.full(2, np.float64(1.5)), np.float64),
], ids=["zeros", "ones", "array-float", "array-int", "arange-int", "arange-float", "full", "linspace", "eye",
        "asarray-f64", "array-dtype", "zeros_like-f64", "full-np.float64"])
def test_creation_defaults(make, want):
    assert make().dtype == want


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtype_survives_jit_with_python_scalars(dtype):
    x = np.array([1.0, 2.0], dtype)
    f = lambda x: x * 2.0 + 1 - x / 3.0  # noqa: E731
    assert f(x).dtype == dtype
    assert fg.make_ir(f)(x).out_avals[0].dtype == dtype
    assert fg.jit(f)(x).dtype == dtype


# Unary functions on every dtype: NumPy picks the smallest float type that holds the
# input (bool and uint8 -> float16, int32 -> float64) or keeps integers (abs, square).
UNARY = ["negative", "positive", "abs", "sign", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt",
         "cbrt", "square", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
         "arccosh", "arctanh", "floor", "ceil", "rint", "trunc", "round", "sinc", "isfinite", "isnan", "isinf",
         "logical_not", "reciprocal"]
UNARY_DTYPES = ["bool", "u8", "i8", "i32", "i64", "f16", "f32", "f64"]


@pytest.mark.parametrize("dtype", UNARY_DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_dtypes_match_numpy(name, dtype):
    x = np.array([1, 2, 3] if name == "reciprocal" else [0, 1, 2], _SHORT[dtype])  # NumPy's 1 // 0 is garbage
    try:
        with np.errstate(all="ignore"):
            want = np.asarray(getattr(np, name)(x))
    except TypeError:
        with pytest.raises(TypeError):
            getattr(fnp, name)(x)
        return
    with np.errstate(all="ignore"):
        got = np.asarray(getattr(fnp, name)(x))
    assert got.dtype == want.dtype
    rtol = {np.float16: 2e-3, np.float32: 1e-6}.get(want.dtype.type, 1e-12)
    np.testing.assert_allclose(got, want, rtol=rtol, equal_nan=True)
    assert fg.make_ir(getattr(fnp, name))(x).out_avals[0].dtype == want.dtype


@pytest.mark.parametrize("args", [
    (np.dtype("float32"), np.dtype("float64")), (np.float32, np.int64), (np.float32, 1.0), ("float16", np.int8),
    (np.ones(2, np.float32), 1.0), (np.ones(2, np.int32), np.float32), (np.int8, np.uint8, 2)])
def test_result_type_takes_dtypes_arrays_and_scalars_as_numpy(args):
    assert fnp.result_type(*args) == np.result_type(*args)
    # and traced values stand in as their dtypes
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    if arrays:
        rest = [a for a in args if not isinstance(a, np.ndarray)]
        got = fg.make_ir(lambda x: fnp.zeros((), fnp.result_type(x, *rest)))(arrays[0])
        assert got.outs[0].aval.dtype == np.result_type(*args)


@pytest.mark.parametrize("on_true, on_false", [(1.5, 2.0), (1, 2), (1, 2.5), (True, False)])
def test_where_of_two_python_scalars_has_the_traced_dtype(on_true, on_false):
    """``where(cond, 1.5, 2.0)``: both branches weak, so the result is float32 eagerly as
    under jit (NumPy alone would give float64)."""
    x = np.array([1.0, -1.0, 2.0], np.float32)
    eager = fnp.where(x > 0, on_true, on_false)
    jitted = fg.jit(lambda x: fnp.where(x > 0, on_true, on_false))(x)
    ir = fg.make_ir(lambda x: fnp.where(x > 0, on_true, on_false))(x)
    assert eager.dtype == np.asarray(jitted).dtype == ir.out_avals[0].dtype
    np.testing.assert_array_equal(eager, np.where(x > 0, on_true, on_false).astype(eager.dtype))
