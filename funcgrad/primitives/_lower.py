"""Helpers for the lowering rules: explicit casts and broadcasts, then jax's own
primitives bound directly.

The IR records every dtype and shape, so a rule knows exactly what it must emit;
going through ``jax.numpy`` (``jnp.asarray`` and a jitted ufunc that promotes and
broadcasts again) costs several times what binding the ``jax.lax`` primitive does.

``fast(lax_fn, sample)`` finds, once, the jax primitive and parameters that
``lax_fn`` emits for an operand of ``sample``'s dtype, and binds that primitive
directly afterwards (about half the cost of calling ``lax_fn``); where ``lax_fn``
emits anything else it is called as it is.
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
    return lax.broadcast_in_dim(x, shape, tuple(range(nd - len(s), nd)))


def fast(lax_fn, nargs, sample=np.float32):
    """``lax_fn`` or, where it emits exactly one primitive on its operands, a binder of that
    primitive with the same parameters (found on the first call)."""
    state = []

    def find():
        x = np.zeros((), sample)
        try:
            jaxpr = jax.make_jaxpr(lax_fn)(*[x] * nargs).jaxpr
        except Exception:  # pragma: no cover - a jax without this primitive: call lax_fn
            jaxpr = None
        if (jaxpr is not None and len(jaxpr.eqns) == 1 and len(jaxpr.outvars) == 1
                and list(jaxpr.eqns[0].invars) == list(jaxpr.invars)
                and jaxpr.eqns[0].outvars[0] is jaxpr.outvars[0]
                and not jaxpr.eqns[0].primitive.multiple_results):
            eqn = jaxpr.eqns[0]
            prim, params = eqn.primitive, dict(eqn.params)
            state.append(lambda *xs: prim.bind(*xs, **params))
        else:
            state.append(lax_fn)
        return state[0]

    def call(*xs):
        fn = state[0] if state else find()
        return fn(*xs)

    call.__name__ = getattr(lax_fn, "__name__", "lax_fn")
    return call
