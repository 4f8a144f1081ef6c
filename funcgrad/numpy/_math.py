"""Elementwise math and comparisons with NumPy's names and semantics.

Most names bind one primitive; the rest are short compositions (``log2`` is
``log(x) / log(2)``, ``logaddexp`` is the stable ``max + log1p(exp(-|x - y|))``).
"""
import numpy as np

from ..primitives import elementwise as E
from ..core.avals import get_aval

add, subtract, multiply = E.add, E.sub, E.mul
divide = true_divide = E.div
floor_divide, power, remainder = E.floor_divide, E.power, E.rem
mod = remainder
negative, sign, floor, ceil, rint = E.neg, E.sign, E.floor, E.ceil, E.round_
exp, log, log1p, expm1, sqrt, cbrt = E.exp, E.log, E.log1p, E.expm1, E.sqrt, E.cbrt
sin, cos, tan, arcsin, arccos, arctan = E.sin, E.cos, E.tan, E.asin, E.acos, E.atan
sinh, cosh, tanh, arcsinh, arccosh, arctanh = E.sinh, E.cosh, E.tanh, E.asinh, E.acosh, E.atanh
arctan2, maximum, minimum = E.atan2, E.maximum, E.minimum
absolute = abs = E.abs_  # noqa: A001  (NumPy's name)
equal, not_equal, less, less_equal, greater, greater_equal = E.eq, E.ne, E.lt, E.le, E.gt, E.ge
logical_and, logical_or, logical_not = E.logical_and, E.logical_or, E.logical_not
bitwise_and, bitwise_or, bitwise_xor = E.bitwise_and, E.bitwise_or, E.bitwise_xor
where_ = E.select
stop_gradient = None  # set in __init__ (lives in misc)


def _kind(x):
    return get_aval(x).dtype.kind


def positive(x):
    if _kind(x) == "b":
        from ..errors import DTypeError
        raise DTypeError("positive: not defined for booleans (as in NumPy); use logical_not or astype(int)")
    if type(x) in (bool, int, float):
        from ._array import asarray
        return asarray(x)  # a Python scalar becomes an array (weak float -> float32)
    return x


def logical_xor(x, y):
    return not_equal(E.ne(x, 0) if _kind(x) != "b" else x, E.ne(y, 0) if _kind(y) != "b" else y)


def invert(x):
    if _kind(x) == "b":
        return logical_not(x)
    return bitwise_xor(x, np.array(-1).astype(get_aval(x).dtype))  # all bits set, in x's dtype (uint8 too)


bitwise_not = invert


def exp2(x):
    x, = _in_float(np.exp2, x)
    return power(2.0, x)


def log2(x):
    return divide(log(x), float(np.log(2.0)))


def log10(x):
    return divide(log(x), float(np.log(10.0)))


def square(x):
    if _kind(x) == "b":
        x = E.convert_element_type(x, np.int8)  # NumPy: square of booleans is int8
    return multiply(x, x)


def reciprocal(x):
    if _kind(x) in "iub":  # NumPy: integer reciprocal truncates (0 unless |x| == 1); booleans as int8
        if _kind(x) == "b":
            x = E.convert_element_type(x, np.int8)
        return where(equal(abs(x), 1), x, np.zeros((), get_aval(x).dtype))
    return divide(1.0, x)


def round(a, decimals=0):  # noqa: A001  (NumPy's name)
    if _kind(a) in "iu":
        if decimals >= 0:
            return a  # NumPy: rounding integers keeps them (and their dtype)
        return E.convert_element_type(round(E.convert_element_type(a, np.float64), decimals), get_aval(a).dtype)
    if decimals == 0:
        return rint(a)
    scale = 10.0 ** decimals
    return divide(rint(multiply(a, scale)), scale)


around = round


def trunc(x):
    if _kind(x) != "f":
        return x
    return where(less(x, 0), ceil(x), floor(x))


fix = trunc


def fmax(x, y):
    return where(isnan(y), x, where(isnan(x), y, maximum(x, y)))


def fmin(x, y):
    return where(isnan(y), x, where(isnan(x), y, minimum(x, y)))


def clip(a, a_min=None, a_max=None, *, min=None, max=None):  # noqa: A002
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if lo is not None:
        a = maximum(a, lo)
    if hi is not None:
        a = minimum(a, hi)
    return a


def where(condition, x=None, y=None):
    """``x`` where ``condition`` holds, else ``y`` (broadcasting).  The one-argument
    form (``nonzero``) needs concrete values."""
    if x is None and y is None:
        from ._shape import nonzero
        return nonzero(condition)
    return E.select(condition, x, y)


def logaddexp(x, y):
    x, y = _in_float(np.logaddexp, x, y)
    amax = maximum(x, y)
    delta = subtract(x, y)
    return where(isnan(delta), add(x, y), add(amax, log1p(exp(negative(abs(delta))))))


def logaddexp2(x1, x2):
    """``log2(2**x1 + 2**x2)``, stably: ``max + log2(1 + 2**-|x1 - x2|)``."""
    x, y = _in_float(np.logaddexp2, x1, x2)
    amax = maximum(x, y)
    delta = subtract(x, y)
    tail = divide(log1p(exp2(negative(abs(delta)))), float(np.log(2.0)))
    return where(isnan(delta), add(x, y), add(amax, tail))


def fabs(x):
    """``|x|`` as a float (ints become floats as in NumPy; the derivative is ``sign(x)``)."""
    x, = _in_float(np.fabs, x)
    return abs(x)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf`` / ``neginf`` (by
    default the largest and the most negative finite value of the dtype).  Integers and
    booleans pass through.  The derivative is 1 where ``x`` is finite, 0 where replaced."""
    del copy  # results are always new values
    if _kind(x) != "f":
        return x
    aval = get_aval(x)
    dt = aval.dtype
    info = np.finfo(dt)

    def const(v, default):
        v = default if v is None else v
        if get_aval(v).weak_type and aval.weak_type:
            return v
        if isinstance(v, (bool, int, float, np.generic, np.ndarray)):
            with np.errstate(over="ignore", invalid="ignore"):
                return np.asarray(v).astype(dt)  # NumPy assigns the value into x's dtype
        return E.convert_element_type(v, dt)

    out = where(isnan(x), const(nan, 0.0), x)
    out = where(equal(x, np.inf), const(posinf, float(info.max)), out)
    return where(equal(x, -np.inf), const(neginf, float(info.min)), out)


def select(condlist, choicelist, default=0):
    """The element of the first ``choicelist[i]`` whose ``condlist[i]`` holds, else
    ``default`` (everything broadcasts; the dtype is that of all choices and the default)."""
    from ._array import asarray, result_dtype
    from ..primitives import shape as S

    def arr(v):
        return asarray(v) if isinstance(v, (list, tuple)) else v

    condlist, choicelist = [arr(c) for c in condlist], [arr(c) for c in choicelist]
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    for i, c in enumerate(condlist):
        if get_aval(c).dtype != np.bool_:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    vals = choicelist + [arr(default)]
    dt = result_dtype(*vals)
    shape = np.broadcast_shapes(*[np.shape(v) for v in condlist + vals])
    vals = [v if get_aval(v).weak_type or get_aval(v).dtype == dt else E.convert_element_type(v, dt)
            for v in vals]
    out = vals[-1]
    for cond, choice in zip(reversed(condlist), reversed(vals[:-1]), strict=True):
        out = where(cond, choice, out)
    return out if np.shape(out) == shape else S.broadcast_to(out, shape)


def _in_float(np_fn, *xs):
    """The operands in the dtype NumPy's ufunc ``np_fn`` computes in: the promoted float
    dtype, or for ints and bools the float dtype NumPy picks (bool, uint8: float16).
    Weak Python scalars stay weak."""
    from ._array import result_dtype
    dt = result_dtype(*xs)
    if dt.kind != "f":
        dt = np_fn(*[np.zeros((), dt)] * len(xs)).dtype
    return [E.convert_element_type(v, dt) if get_aval(v).dtype != dt and not get_aval(v).weak_type else v
            for v in xs]


def hypot(x, y):
    x, y = _in_float(np.hypot, x, y)
    return sqrt(add(multiply(x, x), multiply(y, y)))


def sinc(x):
    px = multiply(np.pi, x)
    zero = equal(x, 0)
    safe = where(zero, 1.0, px)
    return where(zero, 1.0, divide(sin(safe), safe))


def deg2rad(x):
    x, = _in_float(np.deg2rad, x)  # ints and bools become floats as in NumPy (uint8: float16)
    return multiply(x, np.pi / 180.0)


def rad2deg(x):
    x, = _in_float(np.rad2deg, x)
    return multiply(x, 180.0 / np.pi)


radians, degrees = deg2rad, rad2deg


def isnan(x):
    if _kind(x) != "f":
        from ._creation import zeros_like
        return zeros_like(x, dtype=bool)
    return not_equal(x, x)


def isinf(x):
    if _kind(x) != "f":
        from ._creation import zeros_like
        return zeros_like(x, dtype=bool)
    return equal(abs(x), np.inf)


def isfinite(x):
    if _kind(x) != "f":
        from ._creation import ones_like
        return ones_like(x, dtype=bool)
    return less(abs(x), np.inf)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    close = less_equal(abs(subtract(a, b)), add(atol, multiply(rtol, abs(b))))
    close = logical_or(close, equal(a, b))  # infinities of the same sign
    if equal_nan:
        close = logical_or(close, logical_and(isnan(a), isnan(b)))
    return close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    from ._reductions import all as all_
    return all_(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2):
    from ._reductions import all as all_
    if np.shape(a1) != np.shape(a2):
        return False
    return all_(equal(a1, a2))
