"""Reductions with NumPy's ``axis``/``keepdims``/``dtype`` conventions."""
import math

import numpy as np

from ..config import config
from ..core.avals import get_aval
from ..primitives import elementwise as E
from ..primitives import reductions as R
from ..primitives._util import normalize_axes, shape_any


def _axes(op, x, axis):
    nd = len(shape_any(x))
    if axis is None:
        return tuple(range(nd))
    try:
        return normalize_axes(op, axis if isinstance(axis, (tuple, list)) else (axis,), nd)
    except ValueError:
        normalize_axes(op, axis if isinstance(axis, (tuple, list)) else (axis,), nd, [get_aval(x)])
        raise


def _keep(x, out, axes, keepdims):
    if not keepdims:
        return out
    from ..primitives.shape import reshape
    shape = tuple(1 if i in axes else d for i, d in enumerate(shape_any(x)))
    return reshape(out, shape)


def _cast(x, dtype):
    return x if dtype is None else E.convert_element_type(x, dtype)


_NUMERIC = frozenset("biuf")


def _plain(a):
    """An eager NumPy array of a dtype funcgrad supports, with no per-op NaN checks asked
    for: the reductions below call NumPy's reduction directly (what the primitive's NumPy
    rule would run), and take the general path only for errors and other inputs."""
    return type(a) is np.ndarray and a.dtype.kind in _NUMERIC and not config.debug_nans


def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001
    if dtype is None and _plain(a):
        try:
            return np.add.reduce(a, axis=axis, keepdims=keepdims)
        except (ValueError, TypeError):
            pass  # the general path explains the error
    axes = _axes("sum", a, axis)
    return _keep(a, R.reduce_sum(_cast(a, dtype), axes), axes, keepdims)


def prod(a, axis=None, dtype=None, keepdims=False):
    axes = _axes("prod", a, axis)
    return _keep(a, R.reduce_prod(_cast(a, dtype), axes), axes, keepdims)


def max(a, axis=None, keepdims=False):  # noqa: A001
    axes = _axes("max", a, axis)
    return _keep(a, R.reduce_max(a, axes), axes, keepdims)


def min(a, axis=None, keepdims=False):  # noqa: A001
    axes = _axes("min", a, axis)
    return _keep(a, R.reduce_min(a, axes), axes, keepdims)


amax, amin = max, min


def _mean_dtype(a, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    dt = get_aval(a).dtype
    return dt if dt.kind == "f" else np.dtype(np.float64)


def _count(a, axes):
    shape = shape_any(a)
    return math.prod(shape[i] for i in axes)


def mean(a, axis=None, dtype=None, keepdims=False):
    if dtype is None and _plain(a) and a.dtype.kind == "f" and a.size:
        try:
            total = np.add.reduce(a, axis=axis, keepdims=keepdims)
        except (ValueError, TypeError):
            pass  # the general path explains the error
        else:
            return np.true_divide(total, a.size // np.size(total))
    axes = _axes("mean", a, axis)
    total = _keep(a, R.reduce_sum(_cast(a, _mean_dtype(a, dtype)), axes), axes, keepdims)
    return E.div(total, _count(a, axes))


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    axes = _axes("var", a, axis)
    dt = _mean_dtype(a, dtype)
    x = _cast(a, dt)
    centered = E.sub(x, mean(x, axes, keepdims=True))
    n = _count(a, axes)
    return E.div(sum(E.mul(centered, centered), axes, keepdims=keepdims), n - ddof)


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return E.sqrt(var(a, axis, dtype, ddof, keepdims))


def _as_bool(a):
    return a if get_aval(a).dtype.kind == "b" else E.ne(a, 0)


def all(a, axis=None, keepdims=False):  # noqa: A001
    axes = _axes("all", a, axis)
    return _keep(a, R.reduce_min(_as_bool(a), axes), axes, keepdims)


def any(a, axis=None, keepdims=False):  # noqa: A001
    axes = _axes("any", a, axis)
    return _keep(a, R.reduce_max(_as_bool(a), axes), axes, keepdims)


def _arg(op, fn, a, axis, keepdims):
    from ..primitives.shape import reshape
    if axis is None:
        out = fn(reshape(a, (-1,)), 0)
        return reshape(out, (1,) * len(np.shape(a))) if keepdims else out
    (ax,) = _axes(op, a, axis)
    return _keep(a, fn(a, ax), (ax,), keepdims)


def argmax(a, axis=None, keepdims=False):
    return _arg("argmax", R.argmax, a, axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    return _arg("argmin", R.argmin, a, axis, keepdims)


def _cumulative(op, fn, a, axis, dtype):
    from ..primitives.shape import reshape
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    (ax,) = _axes(op, a, axis)
    return fn(_cast(a, dtype), ax)


def cumsum(a, axis=None, dtype=None):
    return _cumulative("cumsum", R.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None):
    return _cumulative("cumprod", R.cumprod, a, axis, dtype)


def count_nonzero(a, axis=None, keepdims=False):
    return sum(E.ne(a, 0), axis, dtype=np.int64, keepdims=keepdims)
