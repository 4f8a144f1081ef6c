"""Array creation.  Floats default to float32 when no dtype is given (JAX's default);
integers follow NumPy (int64)."""
import numpy as np

from ..core.avals import check_dtype, get_aval
from ..core.trace import Tracer
from ._array import Array, asarray

_F32 = np.dtype(np.float32)


def _dt(dtype, default=_F32):
    return check_dtype(dtype) if dtype is not None else default


def _shape(shape):
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)


def zeros(shape, dtype=None):
    return np.zeros(_shape(shape), _dt(dtype)).view(Array)


def ones(shape, dtype=None):
    return np.ones(_shape(shape), _dt(dtype)).view(Array)


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def _fill_dtype(fill_value):
    aval = get_aval(fill_value)
    if aval.weak_type and aval.dtype.kind == "f":
        return _F32
    return aval.dtype


def full(shape, fill_value, dtype=None):
    dtype = _dt(dtype, _fill_dtype(fill_value))
    if isinstance(fill_value, Tracer):
        from ..primitives.elementwise import convert_element_type
        from ..primitives.shape import broadcast_to
        return broadcast_to(convert_element_type(fill_value, dtype), _shape(shape))
    return np.full(_shape(shape), fill_value, dtype).view(Array)


def zeros_like(a, dtype=None, shape=None):
    aval = get_aval(a)
    return zeros(aval.shape if shape is None else shape, dtype or aval.dtype)


def ones_like(a, dtype=None, shape=None):
    aval = get_aval(a)
    return ones(aval.shape if shape is None else shape, dtype or aval.dtype)


def empty_like(a, dtype=None, shape=None):
    return zeros_like(a, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    aval = get_aval(a)
    return full(aval.shape if shape is None else shape, fill_value, dtype or aval.dtype)


def arange(start, stop=None, step=None, dtype=None):
    for v in (start, stop, step):
        if isinstance(v, Tracer):
            v._concrete("arange's bounds")
    out = np.arange(start, stop, step) if step is not None else (
        np.arange(start, stop) if stop is not None else np.arange(start))
    if dtype is not None:
        out = out.astype(check_dtype(dtype))
    elif out.dtype == np.float64 and all(type(v) in (int, float, type(None)) for v in (start, stop, step)):
        out = out.astype(_F32)
    return out.view(Array)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if isinstance(start, Tracer) or isinstance(stop, Tracer):
        from . import _math as m
        from ._shape import moveaxis, expand_dims
        div = (num - 1) if endpoint else num
        frac = np.arange(num, dtype=np.float64) / max(div, 1)
        start_a, stop_a = asarray(start), asarray(stop)
        sh = np.broadcast_shapes(np.shape(start_a), np.shape(stop_a))
        frac = frac.reshape((num,) + (1,) * len(sh))
        out = m.add(expand_dims(start_a, 0), m.multiply(frac.astype(_dt(dtype, np.result_type(
            get_aval(start_a).dtype, np.float32))), expand_dims(m.subtract(stop_a, start_a), 0)))
        out = moveaxis(out, 0, axis)
        return (out, m.divide(m.subtract(stop_a, start_a), div)) if retstep else out
    weak = all(type(v) in (int, float) for v in (start, stop))
    res = np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, axis=axis)
    out, step = (res if retstep else (res, None))
    if dtype is not None:
        out = out.astype(check_dtype(dtype))
    elif weak or out.dtype == np.float64 and np.result_type(np.asarray(start), np.asarray(stop)) != np.float64:
        out = out.astype(_F32)
    out = out.view(Array)
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None):
    return np.eye(N, M, k, dtype=_dt(dtype)).view(Array)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    return np.tri(N, M, k, dtype=_dt(dtype)).view(Array)
