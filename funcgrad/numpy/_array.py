"""Converting inputs: ``asarray``/``array`` and the eager :class:`Array` type.

Eager values are NumPy arrays.  ``asarray`` returns :class:`Array`, an ``ndarray``
subclass that adds the functional ``.at[idx].set(v)`` updates of traced values.
Python floats (and lists of them) are weak: they become float32 unless an array
of another float dtype is involved, as in JAX.
"""
import numpy as np

from ..core.avals import canonical_array, check_dtype, get_aval
from ..core.trace import Tracer


class Array(np.ndarray):
    """An eager funcgrad array: a NumPy array with ``.at[...]`` functional updates."""

    @property
    def at(self):
        from ._indexing import AtIndexer
        return AtIndexer(self)

    def __getitem__(self, idx):
        # A traced index (an embedding lookup inside jit or vmap) is a gather of this
        # constant; a concrete one is NumPy's own indexing.
        if _has_tracer(idx):
            from ._indexing import getitem
            return getitem(self, idx)
        try:
            return np.ndarray.__getitem__(self, idx)
        except IndexError as e:
            from ..errors import _out_of_bounds
            err = _out_of_bounds(self, e)
        try:
            raise err
        except IndexError as e:  # a bare re-raise adds no entry: the traceback ends at the user's line
            e.with_traceback(None)
            raise

    def dot(self, b, out=None):
        if isinstance(b, Tracer):
            from ._products import dot
            return dot(self, b)
        return np.ndarray.dot(self, b, out)


def _has_tracer(x):
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tracer(e) for e in x)
    return False


def _flat(x):
    return [e for item in x for e in _flat(item)] if isinstance(x, (list, tuple)) else [x]


def _has_array(x):
    return any(isinstance(e, (np.ndarray, np.generic)) for e in _flat(x))


def asarray(a, dtype=None, copy=None):
    """``a`` as an array: tracers pass through (converted to ``dtype`` if given)."""
    if isinstance(a, Tracer):
        if dtype is not None:
            from ..primitives.elementwise import convert_element_type
            return convert_element_type(a, check_dtype(dtype))
        return a
    if isinstance(a, (list, tuple)) and _has_tracer(a):
        from ._shape import stack
        out = stack([asarray(e) for e in a])
        return out if dtype is None else asarray(out, dtype)
    if dtype is None and isinstance(a, (list, tuple)) and _has_array(a):
        dtype = result_dtype(*_flat(a))  # Python floats beside arrays are weak: [f32, 1.5] is float32
    if isinstance(a, Array) and (dtype is None or a.dtype == dtype) and not copy:
        return a
    if hasattr(a, "__jax_array__") or type(a).__module__.startswith("jax"):
        a = np.asarray(a)
    arr = canonical_array(a, dtype)
    if copy and arr is a:
        arr = arr.copy()
    return arr.view(Array)


def array(object, dtype=None, copy=True, ndmin=0):  # noqa: A002  (NumPy's name)
    """Like ``numpy.array``, with float32 as the default float dtype for Python floats."""
    out = asarray(object, dtype, copy=copy)
    if ndmin and np.ndim(out) < ndmin:
        from ._shape import reshape
        out = reshape(out, (1,) * (ndmin - np.ndim(out)) + tuple(np.shape(out)))
    return out


def aval_of(x):
    return get_aval(x)


def shape(a):
    return tuple(np.shape(a)) if not isinstance(a, Tracer) else a.shape


def ndim(a):
    return len(shape(a))


def size(a):
    return int(np.prod(shape(a), dtype=np.int64))


def result_dtype(*xs):
    from ..core.avals import promote_avals
    return promote_avals([get_aval(x) for x in xs])[0]
