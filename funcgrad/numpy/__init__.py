"""``funcgrad.numpy``: NumPy's API on concrete arrays and traced values alike.

Every function here is a composition of funcgrad primitives (no rules live here).
With no transform active the result is a NumPy array computed by NumPy.
"""
import builtins as _builtins

import numpy as _np

from ._array import Array, array, asarray
from ._creation import (arange, empty, empty_like, eye, full, full_like, identity, linspace, ones, ones_like,
                        tri, zeros, zeros_like)
from ._math import (abs, absolute, add, allclose, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh,
                    around, array_equal, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, cbrt, ceil, clip,
                    cos, cosh, deg2rad, degrees, divide, equal, exp, exp2, expm1, fabs, fix, floor, floor_divide,
                    fmax, fmin, greater, greater_equal, hypot, invert, isclose, isfinite, isinf, isnan, less,
                    less_equal, log, log1p, log2, log10, logaddexp, logaddexp2, logical_and, logical_not,
                    logical_or, logical_xor, maximum, minimum, mod, multiply, nan_to_num, negative, not_equal,
                    positive, power, rad2deg, radians, reciprocal, remainder, rint, round, select, sign, sin,
                    sinc, sinh, sqrt, square, subtract, tan, tanh, true_divide, trunc, where)
from ._products import dot, einsum, inner, kron, matmul, outer, tensordot, vdot
from ._reductions import (all, amax, amin, any, argmax, argmin, count_nonzero, cumprod, cumsum, max, mean, min,
                          prod, std, sum, var)
from ._shape import (append, argsort, array_split, atleast_1d, atleast_2d, atleast_3d, broadcast_arrays,
                     broadcast_shapes, broadcast_to, column_stack, concatenate, cross, diag, diagonal, diff, dstack,
                     expand_dims, flip, fliplr, flipud, hstack, matrix_transpose, meshgrid, moveaxis, ndim, nonzero,
                     pad, ravel, repeat, reshape, roll, rot90, row_stack, shape, size, sort, split, squeeze, stack,
                     swapaxes, take, take_along_axis, tile, trace, transpose, tril, triu, vstack)
from . import linalg
from ._methods import install as _install

_install()

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
bool_ = _np.bool_
dtype = _np.dtype
newaxis = None
pi, e, inf, nan = _np.pi, _np.e, _np.inf, _np.nan
finfo, iinfo = _np.finfo, _np.iinfo
ndarray = _np.ndarray


def result_type(*args):
    """The dtype NumPy 2 promotion gives ``args`` (dtypes, arrays, scalars, traced values; Python
    scalars are weak)."""
    from ._array import result_dtype
    if not _builtins.any(isinstance(a, (_np.dtype, type, str)) for a in args):
        return result_dtype(*args)
    # with dtypes among them: NumPy's rule, arrays and traced values standing in as their dtypes
    return _np.result_type(*[a if isinstance(a, (_np.dtype, type, str, int, float, complex)) else
                             _np.dtype(a.dtype) for a in args])


def issubdtype(arg1, arg2):
    """``numpy.issubdtype``: whether dtype ``arg1`` is ``arg2`` or below it in NumPy's dtype hierarchy."""
    return _np.issubdtype(arg1, arg2)


_NOT_ARRAYS = {"shape", "ndim", "size", "result_type", "issubdtype", "broadcast_shapes"}


def _wrap_public():
    """Give every public function an API boundary (internal frames leave tracebacks;
    a weak Python-scalar result becomes a NumPy scalar).  Only the names in this
    namespace are wrapped: funcgrad's own code calls the unwrapped functions, whose
    results on Python scalars stay weak Python scalars."""
    import types as _types
    from ..errors import api_boundary

    g = globals()
    for name, val in list(g.items()):
        if not name.startswith("_") and isinstance(val, _types.FunctionType):
            g[name] = api_boundary(val, python_scalars_to_numpy=name not in _NOT_ARRAYS)
            if not g[name].__doc__:  # the functions that do just what their NumPy namesakes do
                g[name].__doc__ = f"NumPy's ``{name}``, on concrete arrays and traced values alike."
    for name in ("norm", "inv", "solve", "det", "slogdet", "cholesky"):
        setattr(linalg, name, api_boundary(getattr(linalg, name), python_scalars_to_numpy=True))


_wrap_public()
