"""The exceptions users catch, and the helpers that make them point at user code.

Every funcgrad error names the operation, the shapes/dtypes involved, the user's
``file:line`` and the fix.  Public entry points wrap themselves in
:func:`api_boundary`, which strips funcgrad's internal frames from the traceback
(``funcgrad.config.show_internal_frames = True`` keeps them).
"""
import functools
import os
import sys
import types

import numpy as np

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _package_dirs(*names):
    import importlib.util
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        for d in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(os.path.abspath(d) + os.sep)
    return dirs


# Frames in these directories are never the user's: funcgrad's own, and jax's (jit
# traces the user's function from inside jax.jit).
_INTERNAL_DIRS = tuple([_PKG_DIR] + _package_dirs("jax", "jaxlib"))


class FuncgradError(Exception):
    """Mixin base of every funcgrad exception."""


class ConcretizationError(FuncgradError, TypeError):
    """A traced value was used where a concrete Python value is needed."""


class TracerLeakError(FuncgradError, TypeError):
    """A traced value escaped the transform that created it."""


class ShapeError(FuncgradError, ValueError):
    """Operands of an operation have incompatible shapes."""


class DTypeError(FuncgradError, TypeError):
    """An operation got a dtype it does not support."""


class NonDifferentiableError(FuncgradError, TypeError):
    """Differentiation was asked of an integer, bool or otherwise non-float value."""


class TreeStructureError(FuncgradError, ValueError):
    """Two pytrees that must match have different structures."""


class ShardingError(FuncgradError, ValueError):
    """An argument cannot be laid out as the ``in_shardings`` / ``out_shardings`` of a
    ``jit`` declare (a dimension the mesh axis does not divide, an array already placed
    elsewhere), or a mesh funcgrad cannot compile for."""


class NotCallableError(FuncgradError, TypeError):
    """A transform was given something other than a function (``grad(loss(w))``
    instead of ``grad(loss)``)."""


def check_callable(transform, fun):
    """:class:`NotCallableError` unless ``fun`` can be called."""
    if not callable(fun):
        raise NotCallableError(
            f"{transform} takes a function, got a {type(fun).__name__} ({fun!r:.60}) at {user_location()}.\n"
            f"Fix: pass the function itself, {transform}(loss), and call what it returns: "
            f"{transform}(loss)(params) -- not {transform}(loss(params)).")


class IndexingError(FuncgradError, IndexError):
    """An index is out of bounds for the array it indexes (``x[10]`` on a length-3 array,
    ``fnp.take(x, 10)``), or is not an integer: an ``IndexError``, as in NumPy."""


INDEX_FIX = ("Fix: keep indices within the array's bounds (-n <= i < n along an axis of size n) and use at most "
             "one index per dimension.")


def get_aval_short(x):
    from .core.avals import get_aval
    return get_aval(x).str_short()


def _out_of_bounds(x, e):
    """The :class:`IndexingError` for NumPy's ``IndexError`` ``e`` indexing the eager array ``x``."""
    return IndexingError(
        f"indexing: {e} (array {get_aval_short(x)}) at {user_location()}.\n"
        + (INDEX_FIX if "out of bounds" in str(e) else
           "Fix: index with ints, slices, None, ... or integer or boolean arrays (convert a float index with "
           ".astype(int)), at most one index per dimension."))


class ArgumentError(FuncgradError, ValueError, TypeError):
    """A transform was given arguments it cannot take: an ``argnums`` that is not an int
    (or tuple of ints) or names no positional argument, a non-array argument to ``jit``
    that is not marked static, an unhashable static argument.  Both a ``ValueError``
    and a ``TypeError`` (what JAX raises in these cases), so code written for either
    catches it."""


class NaNError(FuncgradError, FloatingPointError):
    """``config.debug_nans`` found a NaN or an infinity: a ``FloatingPointError`` naming
    the operation that produced it and the user's line."""


class ScalarShapeError(ShapeError, TypeError):
    """A value that must be a scalar is not (a ``cond`` predicate, a ``switch`` index,
    what a ``while_loop``'s ``cond_fun`` returns): a :class:`ShapeError` that is also
    the ``TypeError`` JAX raises there, so code written for either catches it."""


def _is_internal(filename):
    return filename.startswith(_INTERNAL_DIRS)


def user_frame():
    """The innermost stack frame outside funcgrad (the user's code), or None."""
    f = sys._getframe(1)
    while f is not None and _is_internal(f.f_code.co_filename):
        f = f.f_back
    return f


def user_location():
    """``"file.py:123 (in fun)"`` of the innermost user frame, for error messages."""
    f = user_frame()
    if f is None:
        return "<unknown location>"
    return f"{f.f_code.co_filename}:{f.f_lineno} (in {f.f_code.co_name})"


def _filtered(tb, caller=None):
    """The traceback without funcgrad's frames, ending at the user's innermost frame.

    When every frame below the public entry point is internal (a direct call such as
    ``fnp.dot(a, b)``), an entry for the calling user frame is added at the end, so
    the last line shown is the user's.
    """
    kept = []
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            if kept and kept[-1][0] is tb.tb_frame:
                kept.pop()  # the same frame twice in a row: keep the innermost entry
            kept.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        tb = tb.tb_next
    if not kept and caller is not None and not _is_internal(caller.f_code.co_filename):
        kept.append((caller, caller.f_lasti, caller.f_lineno))
    new = None
    for frame, lasti, lineno in reversed(kept):
        new = types.TracebackType(new, frame, lasti, lineno)
    return new


_PY_TO_NUMPY = {float: np.float32, int: np.int64, bool: np.bool_}


def _in_transform():
    """The depth of nested transforms (0: none); after the first call, the context
    variable's own ``get`` (core.trace imports this module, so it is looked up lazily)."""
    global _in_transform
    from .core.trace import _depth
    _in_transform = _depth.get
    return _in_transform()


def _Array():
    from .numpy._array import Array
    return Array


def api_boundary(fun, python_scalars_to_numpy=False, tree=False):
    """Decorate a public entry point: funcgrad errors leave it with internal frames removed.

    With ``python_scalars_to_numpy`` (the ``funcgrad.numpy`` functions), a weak Python
    scalar result becomes a NumPy scalar of its kind's default dtype: inside funcgrad,
    constants stay weak Python scalars; users get NumPy values (``fnp.exp(1.0)`` is
    ``np.float32``).  Inside a transform, a NumPy array result (a constant) comes back as
    a ``funcgrad.numpy`` array, which traced values can index; ``tree=True`` (functions
    returning pytrees, such as ``lax.scan``) does so for every leaf.
    """
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841  (pytest and IPython honour it)
        try:
            out = fun(*args, **kwargs)
        except FuncgradError as e:
            from .config import config

            if config.show_internal_frames:
                raise
            if sys.version_info >= (3, 11):
                # A bare re-raise adds no traceback entry for this wrapper, so no funcgrad
                # frame is left; when every frame below was internal, the caller's entry
                # (added as the error leaves this frame) is the last one.
                e.with_traceback(_filtered(e.__traceback__))
                raise
            tb = _filtered(e.__traceback__, sys._getframe(1))
            raise e.with_traceback(tb) from e.__cause__
        if python_scalars_to_numpy:
            t = type(out)
            if t is np.ndarray:
                if _in_transform():  # a constant computed inside jit/vmap/grad stays indexable by traced values
                    return out.view(_Array())
            elif t in _PY_TO_NUMPY:
                return _PY_TO_NUMPY[t](out)
            elif (t is tuple or t is list) and _in_transform():  # broadcast_arrays, meshgrid, nonzero
                array = _Array()
                return t(x.view(array) if type(x) is np.ndarray else x for x in out)
        elif tree and _in_transform():
            from . import tree as tree_util
            array = _Array()
            return tree_util.map(lambda x: x.view(array) if type(x) is np.ndarray else x, out)
        return out

    return wrapper


def tree_boundary(fun):
    """``api_boundary(fun, tree=True)``: a public entry point returning a pytree (a
    transformed function, a custom rule, ``lax.scan``); NumPy leaves it computes from
    constants inside a transform come back as funcgrad arrays, which traced values index."""
    return api_boundary(fun, tree=True)


# ----------------------------------------------------------------------------- debug_nans and NumPy's own operators

# NumPy's Python-level functions (np.mean, ...) run NumPy operations from frames in
# these directories; the line to blame is the first frame outside them.
_NUMPY_DIRS = tuple(_package_dirs("numpy"))
_saved_numpy_errstate = None  # contextvars.ContextVar, made on first use


def _numpy_fp_error(kind, flag):
    """NumPy's floating-point error callback while ``config.debug_nans`` is on.

    A NumPy operation run by the user's own code (``1.0 / z`` on a NumPy array)
    raises :class:`NaNError` naming that line; one run by funcgrad is left alone,
    since funcgrad checks the result of each of its operations and names it."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_NUMPY_DIRS):
        f = f.f_back
    if f is None or _is_internal(f.f_code.co_filename):
        return
    what = "NaN" if kind.startswith("invalid") else "Inf"
    err = NaNError(
        f"debug_nans: a NumPy operation produced {what} ({kind}) at "
        f"{f.f_code.co_filename}:{f.f_lineno} (in {f.f_code.co_name}); its operands were NumPy values, so "
        "NumPy computed it, not funcgrad.\nFix: check the operands on this line (division by 0, log of 0 or of a "
        "negative number, overflow); if the NaN or Inf is expected there, wrap the line in "
        "`with np.errstate(divide='ignore', invalid='ignore', over='ignore'):`; "
        "set funcgrad.config.debug_nans = False to turn the check off.")
    try:
        raise err
    except NaNError as e:
        e.with_traceback(None)  # a bare re-raise adds no entry: the traceback ends at the user's line
        raise


def numpy_fp_checks(on):
    """Route NumPy's floating-point errors (division by zero, invalid, overflow) to
    :func:`_numpy_fp_error` while ``on``, and give NumPy back its previous settings when
    turned off.  NumPy keeps these settings per thread (and per ``contextvars`` context),
    so they apply where ``config.debug_nans`` was set; a ``with np.errstate(...)`` block
    overrides them inside it."""
    global _saved_numpy_errstate
    if _saved_numpy_errstate is None:
        if not on:
            return
        import contextvars
        _saved_numpy_errstate = contextvars.ContextVar("funcgrad_saved_numpy_errstate", default=None)
    ours = np.geterrcall() is _numpy_fp_error
    if on and not ours:
        _saved_numpy_errstate.set((np.geterr(), np.geterrcall()))
        np.seterr(divide="call", over="call", invalid="call")
        np.seterrcall(_numpy_fp_error)
    elif not on and ours:
        saved = _saved_numpy_errstate.get()
        modes, call = saved if saved is not None else ({"divide": "warn", "over": "warn", "invalid": "warn"}, None)
        np.seterr(**modes)
        np.seterrcall(call)
