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
    from .core.trace import in_transform
    return in_transform()


def _Array():
    from .numpy._array import Array
    return Array


def api_boundary(fun, python_scalars_to_numpy=False):
    """Decorate a public entry point: funcgrad errors leave it with internal frames removed.

    With ``python_scalars_to_numpy`` (the ``funcgrad.numpy`` functions), a weak Python
    scalar result becomes a NumPy scalar of its kind's default dtype: inside funcgrad,
    constants stay weak Python scalars; users get NumPy values (``fnp.exp(1.0)`` is
    ``np.float32``).
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
            to_numpy = _PY_TO_NUMPY.get(type(out))
            if to_numpy is not None:
                return to_numpy(out)
            if type(out) is np.ndarray and _in_transform():
                # a constant computed inside jit/vmap/grad stays indexable by traced values
                return out.view(_Array())
        return out

    return wrapper
