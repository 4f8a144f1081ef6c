"""Operators and array methods of traced values (and ``.at`` of eager arrays)."""
import numpy as np

from ..core.trace import Tracer
from . import _math as M
from . import _products as P
from . import _reductions as R
from . import _shape as S
from ._array import Array
from ._indexing import AtIndexer, getitem


def _swap(f):
    return lambda self, other: f(other, self)


def _reshape_method(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = tuple(shape[0])
    return S.reshape(self, shape, order)


def _transpose_method(self, *axes):
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = tuple(axes[0]) if axes[0] is not None else None
    return S.transpose(self, axes or None)


def _astype(self, dtype, copy=False):
    from ..primitives.elementwise import convert_element_type
    return convert_element_type(self, dtype)


_OPS = {
    "__add__": M.add, "__radd__": _swap(M.add),
    "__sub__": M.subtract, "__rsub__": _swap(M.subtract),
    "__mul__": M.multiply, "__rmul__": _swap(M.multiply),
    "__truediv__": M.divide, "__rtruediv__": _swap(M.divide),
    "__floordiv__": M.floor_divide, "__rfloordiv__": _swap(M.floor_divide),
    "__mod__": M.remainder, "__rmod__": _swap(M.remainder),
    "__pow__": M.power, "__rpow__": _swap(M.power),
    "__matmul__": P.matmul, "__rmatmul__": _swap(P.matmul),
    "__and__": M.bitwise_and, "__rand__": _swap(M.bitwise_and),
    "__or__": M.bitwise_or, "__ror__": _swap(M.bitwise_or),
    "__xor__": M.bitwise_xor, "__rxor__": _swap(M.bitwise_xor),
    "__lt__": M.less, "__le__": M.less_equal, "__gt__": M.greater, "__ge__": M.greater_equal,
    "__eq__": M.equal, "__ne__": M.not_equal,
    "__neg__": M.negative, "__pos__": M.positive, "__abs__": M.abs, "__invert__": M.invert,
    "__getitem__": getitem,
    "sum": R.sum, "mean": R.mean, "max": R.max, "min": R.min, "prod": R.prod, "var": R.var, "std": R.std,
    "all": R.all, "any": R.any, "argmax": R.argmax, "argmin": R.argmin, "cumsum": R.cumsum,
    "cumprod": R.cumprod, "reshape": _reshape_method, "transpose": _transpose_method, "astype": _astype,
    "dot": P.dot, "ravel": S.ravel, "flatten": S.ravel, "squeeze": S.squeeze, "clip": M.clip,
    "swapaxes": S.swapaxes, "sort": S.sort, "argsort": S.argsort, "round": M.round,
    "diagonal": S.diagonal, "trace": S.trace, "take": S.take,
}


def _array_result(fn):
    """``fn`` as a method of traced values: a NumPy array it returns (a constant, such as
    the result of a comparison, ``//``, ``argmax`` or ``astype(int)`` under jvp or grad,
    which carry no derivative) comes back as an :class:`Array` view, as from the
    ``funcgrad.numpy`` functions (``errors.api_boundary``), so that it stays usable with
    traced values (``c.dot(t)``, ``c[i]``)."""
    def method(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out.view(Array) if type(out) is np.ndarray else out
    method.__name__ = method.__qualname__ = getattr(fn, "__name__", "method")
    method.__doc__ = fn.__doc__
    return method


# The NumPy ufuncs behind Python's operators: ``ndarray + tracer`` reaches the tracer as
# ``np.add(ndarray, tracer)``, and means what ``tracer.__radd__`` means.
_OPERATOR_UFUNCS = {
    np.add: M.add, np.subtract: M.subtract, np.multiply: M.multiply, np.divide: M.divide,
    np.floor_divide: M.floor_divide, np.remainder: M.remainder, np.power: M.power, np.matmul: P.matmul,
    np.bitwise_and: M.bitwise_and, np.bitwise_or: M.bitwise_or, np.bitwise_xor: M.bitwise_xor,
    np.less: M.less, np.less_equal: M.less_equal, np.greater: M.greater, np.greater_equal: M.greater_equal,
    np.equal: M.equal, np.not_equal: M.not_equal, np.negative: M.negative, np.positive: M.positive,
    np.absolute: M.abs, np.invert: M.invert,
}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy ufuncs meeting a traced value: the operators' ufuncs compute the operator with
    funcgrad; any other (``np.sin(x)`` inside ``grad``) would silently drop the derivative
    or the batch, so it raises, naming the funcgrad function to call instead."""
    from ..errors import ConcretizationError, user_location
    fn = _OPERATOR_UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        out = fn(*inputs)
        return out.view(Array) if type(out) is np.ndarray else out
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if "out" in kwargs:
        why, fix = ("it would write into a NumPy array (out= or an in-place operator such as `a += x`), which cannot "
                    "hold a traced value", "build a new value instead: `a = a + x`, or `a = a.at[idx].set(x)`")
    else:
        why = "NumPy cannot see funcgrad's tracing, so its result would silently drop the derivative or the batch"
        fix = f"use funcgrad.numpy's function of the same name (`fnp.{ufunc.__name__}`)"
    raise ConcretizationError(f"{name} was given a traced value {self.aval.str_short()} (at {user_location()}): "
                              f"{why}.\nFix: {fix}.")


def install():
    for name, fn in _OPS.items():
        setattr(Tracer, name, _array_result(fn))
    Tracer.__array_ufunc__ = _array_ufunc
    Tracer.T = property(lambda self: S.transpose(self))
    Tracer.mT = property(S.matrix_transpose)
    Tracer.at = property(AtIndexer)
    Tracer.__hash__ = lambda self: id(self)  # __eq__ is elementwise; hashing stays by identity

    def copy(self):
        return self
    Tracer.copy = copy
    Tracer.item = lambda self: np.asarray(self._concrete("item()")).item()
    Tracer.tolist = lambda self: np.asarray(self._concrete("tolist()")).tolist()
