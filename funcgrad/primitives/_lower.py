"""Helpers for the lowering rules: explicit casts and broadcasts, then jax's own
primitives bound directly.

The IR records every dtype and shape, so a rule knows exactly what it must emit;
going through ``jax.numpy`` (``jnp.asarray`` and a jitted ufunc that promotes and
broadcasts again) costs several times what binding the ``jax.lax`` primitive does.

``fast(lax_fn, sample)`` finds, once, the jax primitive and parameters that
``lax_fn`` emits for an operand of ``sample``'s dtype, and binds that primitive
directly afterwards (about half the cost of calling ``lax_fn``); where ``lax_fn``
emits anything else it is called as it is.  ``bind_like`` does the same for
functions whose parameters vary (``dot_general``'s dimension numbers, a reduction's
axes), found once per parameters and operand types.

``scalar`` turns a literal operand into what jax should see: a scalar written into
the program on its first use, and one broadcast of it shared by every later use of
the same value, dtype and shape (jax writes each scalar operand as its own constant,
which is about a third of lowering an elementwise chain).
"""
import numpy as np
import jax
from jax import lax

_HOST = (np.ndarray, np.generic, int, float, bool)


def cast(x, dt):
    """``x`` as dtype ``dt`` exactly as ``jnp.asarray(x, dt)`` makes it: host values (NumPy
    arrays and scalars, Python scalars) cast by NumPy, jax values by ``convert_element_type``."""
    if isinstance(x, _HOST):
        return np.asarray(x, dt)
    if x.dtype == dt:
        return x
    return lax.convert_element_type(x, dt)


def bcast(x, shape):
    """``x`` (already of the result dtype) with the rank of ``shape``: jax's elementwise
    primitives take operands of equal rank (size-1 dimensions broadcast) or scalars."""
    s = np.shape(x) if isinstance(x, _HOST) else x.shape
    if not s or len(s) == len(shape):
        return x
    nd = len(shape)
    return broadcast_in_dim(x, shape, tuple(range(nd - len(s), nd)))


def scalar(consts, x, dt, shape, full=False):
    """The host scalar ``x`` as dtype ``dt``, an operand of an elementwise op whose result
    has ``shape``.  ``consts`` is the lowering's own cache (one per ``lower_ir`` call, so
    its jax values never leave the jax trace they belong to): the first use of a
    (value, dtype, shape) is the scalar itself, later ones share one broadcast of it.
    ``full``: always of ``shape`` (``select_n`` takes no scalar cases)."""
    c = np.asarray(x, dt)
    if not shape:
        return c
    key = (c.tobytes(), dt, shape)  # bytes: -0.0 is not 0.0, NaN is NaN
    hit = consts.get(key)
    if hit is None:
        if not full:
            consts[key] = False
            return c
        hit = consts[key] = broadcast_in_dim(c, shape, ())
    elif hit is False:
        hit = consts[key] = broadcast_in_dim(c, shape, ())
    return hit


def operand(consts, x, dt, shape):
    """An elementwise operand: cast to ``dt``, of the rank of ``shape`` (or a scalar)."""
    if isinstance(x, _HOST):
        if np.ndim(x) == 0:
            return scalar(consts, x, dt, shape)
        x = np.asarray(x, dt)
    elif x.dtype != dt:
        x = lax.convert_element_type(x, dt)
    s = x.shape
    if not s or len(s) == len(shape):
        return x
    nd = len(shape)
    return broadcast_in_dim(x, shape, tuple(range(nd - len(s), nd)))


def _single_eqn(jaxpr):
    """The (primitive, params) of a jaxpr that is exactly one equation on its inputs, else None."""
    if (len(jaxpr.eqns) == 1 and len(jaxpr.outvars) == 1
            and list(jaxpr.eqns[0].invars) == list(jaxpr.invars)
            and jaxpr.eqns[0].outvars[0] is jaxpr.outvars[0]
            and not jaxpr.eqns[0].primitive.multiple_results and not jaxpr.eqns[0].effects):
        eqn = jaxpr.eqns[0]
        return eqn.primitive, dict(eqn.params)
    return None


def fast(lax_fn, nargs, sample=np.float32):
    """``lax_fn`` or, where it emits exactly one primitive on its operands, a binder of that
    primitive with the same parameters (found on the first call)."""
    state = []

    def find():
        x = np.zeros((), sample)
        try:
            found = _single_eqn(jax.make_jaxpr(lax_fn)(*[x] * nargs).jaxpr)
        except Exception:  # pragma: no cover - a jax without this primitive: call lax_fn
            found = None
        if found is not None:
            prim, params = found
            state.append(lambda *xs: prim.bind(*xs, **params))
        else:
            state.append(lax_fn)
        return state[0]

    def call(*xs):
        fn = state[0] if state else find()
        return fn(*xs)

    call.__name__ = getattr(lax_fn, "__name__", "lax_fn")
    return call


_BINDERS = {}
_MAX_BINDERS = 4096
_MISSING = object()


def bind_like(lax_fn, xs, *static):
    """``lax_fn(*xs, *static)``, binding its one jax primitive directly with the parameters
    it emits for operands of these shapes, dtypes and weak types and these static arguments
    (found once with ``jax.make_jaxpr``); where it emits anything else, ``lax_fn`` is called."""
    key = (lax_fn, tuple([(x.shape, x.dtype, getattr(x, "weak_type", False)) for x in xs]), static)
    hit = _BINDERS.get(key, _MISSING)
    if hit is _MISSING:
        try:
            samples = [jax.ShapeDtypeStruct(x.shape, x.dtype, weak_type=getattr(x, "weak_type", False))
                       for x in xs]
            hit = _single_eqn(jax.make_jaxpr(lambda *a: lax_fn(*a, *static))(*samples).jaxpr)
        except Exception:  # noqa: BLE001 - lax_fn itself raises below, if it does
            hit = None
        if len(_BINDERS) >= _MAX_BINDERS:
            _BINDERS.clear()
        _BINDERS[key] = hit
    if hit is None:
        return lax_fn(*xs, *static)
    return hit[0].bind(*xs, **hit[1])


def broadcast_in_dim(x, shape, dims):
    """``lax.broadcast_in_dim`` (its primitive bound directly)."""
    return bind_like(lax.broadcast_in_dim, (x,), tuple(shape), tuple(dims))
