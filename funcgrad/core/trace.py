"""Tracers, traces and ``bind``: how a primitive application finds its interpreter.

Every active transform is a :class:`Trace` with a *level*; a nested transform gets a
higher level than the ones around it.  ``bind`` looks at the arguments, takes the
trace of highest level among their tracers and lets it process the primitive; values
of lower levels are constants to it (this is what prevents perturbation confusion in
``grad(grad(f))``).  With no tracer among the arguments, the primitive runs eagerly
with NumPy.  The depth of nesting lives in a ``contextvars`` variable changed only by
the :func:`new_trace` context manager, so threads never see each other's traces.
"""
import contextlib
import contextvars

import numpy as np

from ..errors import (INDEX_FIX, ConcretizationError, DTypeError, FuncgradError, IndexingError, NaNError, ShapeError,
                      TracerLeakError, user_location)
from .avals import get_aval

_depth = contextvars.ContextVar("funcgrad_trace_depth", default=0)


class Trace:
    """One active transform.  Subclasses implement ``process`` and ``lift``."""

    __slots__ = ("level", "dead", "origin")

    def process(self, prim, args, params):
        raise NotImplementedError

    def concrete(self, tracer):
        """The concrete value behind ``tracer``, or raise ConcretizationError."""
        raise NotImplementedError

    def unpack(self, values):
        """``(inner, extras)``: this trace's tracers split into what they carry
        (``Tracer.parts``); other values pass through with extra ``None``."""
        inner, extras = [], []
        for v in values:
            if isinstance(v, Tracer) and v._trace is self:
                a, b = v.parts()
            else:
                a, b = v, None
            inner.append(a)
            extras.append(b)
        return inner, extras


def in_transform():
    """True while any transform is active (the function may close over its values)."""
    return _depth.get() > 0


@contextlib.contextmanager
def new_trace(cls, *args, origin=None):
    """Push a new trace of type ``cls`` one level above every active trace."""
    level = _depth.get() + 1
    token = _depth.set(level)
    trace = cls(*args)
    trace.level = level
    trace.dead = False
    trace.origin = origin
    try:
        yield trace
    finally:
        trace.dead = True
        _depth.reset(token)


class Tracer:
    """A value inside a transform.  Behaves like an array: operators and methods
    are installed by ``funcgrad.numpy`` (see ``funcgrad/numpy/_methods.py``)."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    __array_ufunc__ = None  # NumPy defers binary operators to us

    @property
    def aval(self):
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d traced array")
        return shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def _concrete(self, what):
        return self._trace.concrete(self, what)

    def __bool__(self):
        return bool(self._concrete("bool()"))

    def __float__(self):
        return float(self._concrete("float()"))

    def __int__(self):
        return int(self._concrete("int()"))

    def __index__(self):
        return int(self._concrete(
            "using a traced value as a Python index (e.g. a NumPy array indexed by it: to look up a "
            "constant table with a traced index, make the table a funcgrad array, "
            "`fnp.asarray(table)[i]`, or use `fnp.take(table, i)`),"))

    def __complex__(self):
        raise DTypeError("complex numbers are outside this version of funcgrad")

    def __array__(self, dtype=None, copy=None):
        # NumPy asking for an array (np.dot(A, x), A.dot(x), np.asarray(x), np.tanh(x)):
        # the result would silently lose the derivative or the batch, so refuse, as jax does.
        raise ConcretizationError(
            f"a NumPy function was given a traced value {self.aval.str_short()} (at {user_location()}); "
            "NumPy cannot see funcgrad's tracing, so its result would silently drop the derivative or the "
            "batch.\nFix: use funcgrad.numpy (fnp.dot(A, x), fnp.tanh(x)); to look up a constant table with a "
            "traced index, make the table a funcgrad array, `fnp.asarray(table)[i]`, or use `fnp.take`.")

    def __setitem__(self, idx, value):
        raise TypeError(
            "funcgrad arrays are immutable: item assignment `x[idx] = v` does not work on a traced "
            f"value (at {user_location()}).\nFix: use the functional update `x = x.at[idx].set(v)` "
            "(or .add/.multiply/.min/.max).")

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return f"{type(self).__name__}<{self.aval.str_short()}>"


def find_top_trace(args):
    top = None
    for a in args:
        if isinstance(a, Tracer):
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    return top


def leak_error(prim, trace):
    origin = f" created by {trace.origin}" if trace.origin else ""
    return TracerLeakError(
        f"{prim.name}: a traced value{origin} was used after that transform finished "
        f"(at {user_location()}).\nA tracer escaped its transform, e.g. stored in a global or a "
        "closure, or returned through a side channel.\nFix: return values from the transformed "
        "function instead of storing them; pass them as arguments.")


_NUMPY_ERRORS = (ValueError, TypeError, IndexError, np.exceptions.AxisError)
_PY = (int, float, bool)


def eager_error(prim, args, params, e):
    """The error to raise when a NumPy rule fails: the shape rule's explanation
    (naming the operation, the shapes and the user's line) when it has one."""
    if isinstance(e, (ShapeError, DTypeError)):
        return e
    try:
        abstract_eval(prim, [get_aval(a) for a in args], params)
    except (ShapeError, DTypeError, IndexError) as explained:
        return explained
    if isinstance(e, IndexError) and not isinstance(e, FuncgradError):  # an index array's values out of bounds
        operands = ", ".join(get_aval(a).str_short() for a in args)
        return IndexingError(f"{prim.name}: {e} (operands: {operands}) at {user_location()}.\n{INDEX_FIX}")
    return e


def eager_fixup(prim, args, out):
    """Rare cases of an eager result: complex (refused) and weak Python scalars.

    Python scalars in give a weak Python scalar out (exact, no rounding), so rules
    that compute with constants never force a dtype; an array made from weak Python
    floats only is float32, the default."""
    if getattr(out, "dtype", None) is not None and out.dtype.kind == "c":
        raise DTypeError(f"{prim.name}: complex numbers are outside this version of funcgrad "
                         f"(at {user_location()}).\nFix: use real floating-point arrays.")
    if not args or not all(type(a) in _PY for a in args):
        return out
    if type(out) is np.ndarray:
        return out.astype(np.float32) if out.dtype == np.float64 else out
    return out.item()


_NP_SCALARS = (np.float64, np.int64, np.bool_, np.float32, np.complex128, np.complex64)


def abstract_eval(prim, avals, params):
    return prim.shape(*avals, **params)


def check_nans(prim, out):
    outs = out if prim.multiple_results else (out,)
    for o in outs:
        o = np.asarray(o)
        if o.dtype.kind == "f" and not np.all(np.isfinite(o)):
            kind = "NaN" if np.any(np.isnan(o)) else "Inf"
            raise NaNError(
                f"debug_nans: primitive '{prim.name}' produced {kind} at {user_location()}.\n"
                "Fix: check the inputs of this operation (log of 0 or a negative, division by 0, "
                "overflow); set funcgrad.config.debug_nans = False to turn the check off.")


def concretization_error(what, tracer_desc, fun_name=None):
    where = f" in {fun_name}" if fun_name else ""
    return ConcretizationError(
        f"{what} needs a concrete value, but got a traced value {tracer_desc}{where} "
        f"(at {user_location()}).\nPython control flow on traced values does not work under "
        "jit/vmap/make_ir.\nFix: use funcgrad.lax.cond / funcgrad.lax.while_loop / funcgrad.numpy.where "
        "for data-dependent control flow, or mark the argument static with jit(..., static_argnums=...).")
