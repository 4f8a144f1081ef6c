"""``x[idx]`` and ``x.at[idx].set/add/multiply/min/max/get`` for traced and eager arrays.

An index is normalised into a static spec plus dynamic integer index arrays (see
``funcgrad.primitives.indexing``).  Boolean masks are turned into integer indices,
which needs concrete values (a mask's number of True entries sets the shape).
"""
import numpy as np

from ..core.avals import get_aval
from ..core.trace import Tracer
from ..errors import IndexingError, api_boundary, user_location
from ..primitives.indexing import gather, scatter


def _static_int(v, what):
    if v is None:
        return None
    if isinstance(v, Tracer):
        v = v._concrete(f"a slice {what}")
    return int(v)


def normalize_index(idx):
    """``(spec, arrays)`` for an index expression."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    spec, arrays = [], []
    for item in idx:
        if item is None:
            spec.append(("none",))
        elif item is Ellipsis:
            spec.append(("ellipsis",))
        elif isinstance(item, slice):
            spec.append(("slice", _static_int(item.start, "start"), _static_int(item.stop, "stop"),
                         _static_int(item.step, "step")))
        elif isinstance(item, (bool, np.bool_)):
            raise TypeError("indexing with a Python bool is not supported; use a boolean array mask")
        elif isinstance(item, (int, np.integer)):
            spec.append(("int", int(item)))
        else:
            if isinstance(item, (list, tuple)):
                item = np.asarray(item)
            aval = get_aval(item)
            if aval.dtype.kind == "b":
                from ._shape import nonzero
                for a in nonzero(item):
                    spec.append(("array", len(arrays)))
                    arrays.append(a)
            elif aval.dtype.kind in "iu":
                spec.append(("array", len(arrays)))
                arrays.append(item)
            else:
                raise IndexingError(f"indexing: arrays used as indices must be of integer or boolean type, got "
                                    f"{aval.str_short()} (at {user_location()}).\nFix: convert the index with "
                                    ".astype(int), or index with a boolean mask.")
    return tuple(spec), arrays


def getitem(x, idx):
    spec, arrays = normalize_index(idx)
    return gather(x, arrays, spec)


def _wrap(out, like):
    from ._array import Array
    if type(like) is Array and type(out) is np.ndarray:
        return out.view(Array)
    return out


class _At:
    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def _scatter(self, v, mode):
        spec, arrays = normalize_index(self.idx)
        return _wrap(scatter(self.x, v, arrays, spec, mode), self.x)

    def get(self):
        return getitem(self.x, self.idx)

    def set(self, values):
        return self._scatter(values, "set")

    def add(self, values):
        return self._scatter(values, "add")

    def subtract(self, values):
        from ._math import negative
        return self._scatter(negative(values), "add")

    def multiply(self, values):
        return self._scatter(values, "mul")

    mul = multiply

    def divide(self, values):
        from ._math import divide
        return self._scatter(divide(1.0, values), "mul")

    def min(self, values):
        return self._scatter(values, "min")

    def max(self, values):
        return self._scatter(values, "max")


# Public entry points: a funcgrad error (an index out of bounds) ends its traceback at the user's line.
for _name in ("get", "set", "add", "subtract", "multiply", "divide", "min", "max"):
    setattr(_At, _name, api_boundary(getattr(_At, _name), python_scalars_to_numpy=True))
_At.mul = _At.multiply


class AtIndexer:
    """``x.at[idx]``: functional updates that return a new array."""

    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _At(self.x, idx)
