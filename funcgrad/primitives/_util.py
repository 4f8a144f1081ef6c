"""Helpers shared by the primitive families: shape and dtype of any value, error text."""
import functools

import numpy as np

from ..core.avals import ShapedArray, get_aval
from ..errors import DTypeError, ShapeError, user_location


def shape_of(x):
    s = getattr(x, "shape", None)
    return tuple(s) if s is not None else ()


def shape_any(x):
    """The shape of any array-like, lists included (fast for arrays and tracers)."""
    s = getattr(x, "shape", None)
    return tuple(s) if s is not None else np.shape(x)


_PY_DTYPES = {float: np.dtype(np.float32), int: np.dtype(np.int64), bool: np.dtype(bool)}


def dtype_of(x):
    """The dtype of any value (a weak Python scalar's is its kind's default)."""
    d = _PY_DTYPES.get(type(x))
    if d is not None:
        return d
    d = getattr(x, "dtype", None)
    return np.dtype(d) if d is not None else get_aval(x).dtype


def fmt(avals):
    return ", ".join(a.str_short() for a in avals)


def shape_error(op, avals, problem, fix):
    return ShapeError(f"{op}: {problem} (operands: {fmt(avals)}) at {user_location()}.\nFix: {fix}")


def dtype_error(op, avals, problem, fix):
    return DTypeError(f"{op}: {problem} (operands: {fmt(avals)}) at {user_location()}.\nFix: {fix}")


@functools.lru_cache(maxsize=4096)
def _probe(fn, key, params_key):
    standins = [d if w is None else w for d, w in key]
    standins = [np.zeros((), s) if isinstance(s, np.dtype) else s for s in standins]
    with np.errstate(all="ignore"):
        out = fn(*standins, **dict(params_key))
    return np.asarray(out).dtype


def probe_dtype(op, fn, avals, **params):
    """The result dtype NumPy gives ``fn`` on these avals (weak ones as Python scalars)."""
    key = tuple((a.dtype, a.standin() if a.weak_type else None) for a in avals)
    try:
        return _probe(fn, key, tuple(params.items()))
    except (TypeError, ValueError) as e:
        raise dtype_error(op, avals, f"not defined for these dtypes ({e})",
                          "convert the operands with .astype(...) to a supported dtype") from None


def weak_result(avals, dtype):
    """Weak iff every operand is weak; a weak float result is float32 (the default)."""
    weak = all(a.weak_type for a in avals)
    if weak and dtype == np.float64:
        dtype = np.dtype(np.float32)
    return dtype, weak


def aval(shape, dtype, weak=False):
    return ShapedArray(shape, dtype, weak)


def normalize_axes(op, axes, ndim, avals=()):
    """Axes as non-negative ints; a clear error for out-of-range ones."""
    out = []
    for a in axes:
        a = int(a)
        if a < 0:
            a += ndim
        if not 0 <= a < max(ndim, 1):
            raise shape_error(op, avals, f"axis {a if a >= 0 else a - ndim} is out of bounds for an array of "
                              f"{ndim} dimensions", f"use an axis in [{-ndim}, {ndim})")
        out.append(a)
    return tuple(out)
