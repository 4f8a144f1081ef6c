"""``log_softmax`` as one primitive: ``x - max - log(sum(exp(x - max)))`` along ``axis``.

A loss built from it (``nn.cross_entropy``) records one tape node where the
composition of max, subtract, exp, sum, log and subtract recorded six, and its
derivatives are short closed forms (with ``p = exp(ans)``, the softmax):

    JVP  t - sum(p * t, axis)        VJP  g - p * sum(g, axis)

The max is a constant shift (it cancels in the value); a non-finite max (all
entries -inf, or an inf among them) shifts by 0, so the result is what the plain
formula gives there.
"""
import numpy as np
import jax.numpy as jnp
from jax import lax

from ..core.primitive import Primitive, defvjp
from ._lower import cast as _cast
from .elementwise import exp, mul, sub
from .reductions import reduce_sum
from .shape import reshape

log_softmax_p = Primitive("log_softmax")


def _keepdims(shape, axis):
    return tuple(1 if i == axis else d for i, d in enumerate(shape))


def _log_softmax_impl(x, *, axis):
    x = np.asarray(x)
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    s = np.subtract(x, m)
    with np.errstate(divide="ignore"):  # log(0) = -inf where every entry is -inf, as the formula says
        return np.subtract(s, np.log(np.add.reduce(np.exp(s), axis=axis, keepdims=True)))


def _log_softmax_lower(ctx, x, *, axis):
    x = _cast(x, ctx.avals_out[0].dtype)
    m = jnp.max(x, axis=axis, keepdims=True)
    s = x - lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))
    return s - jnp.log(jnp.sum(jnp.exp(s), axis=axis, keepdims=True))


def _sum_keep(v, shape, axis):
    return reshape(reduce_sum(v, (axis,)), _keepdims(shape, axis))


def _log_softmax_jvp(primals, tangents, *, axis):
    ans = log_softmax_p.bind(primals[0], axis=axis)
    t = tangents[0]
    return ans, sub(t, _sum_keep(mul(exp(ans), t), ans.shape, axis))


def _log_softmax_vjp(g, ans, x, *, axis):
    return sub(g, mul(exp(ans), _sum_keep(g, ans.shape, axis)))


def _log_softmax_vjp_numpy(i, g, ans, x, *, axis):
    return np.subtract(g, np.multiply(np.exp(ans), np.add.reduce(g, axis=axis, keepdims=True)))


def _log_softmax_batch(size, vals, dims, *, axis):
    from ._batching import move_to_front
    return log_softmax_p.bind(move_to_front(vals[0], dims[0], size), axis=axis + 1), 0


log_softmax_p.impl = _log_softmax_impl
log_softmax_p.shape = lambda x, *, axis: x
log_softmax_p.lower = _log_softmax_lower
log_softmax_p.jvp = _log_softmax_jvp
log_softmax_p.residuals = ("ans",)  # both rules read the output only
defvjp(log_softmax_p, _log_softmax_vjp)
log_softmax_p.vjp_numpy = _log_softmax_vjp_numpy
log_softmax_p.batch = _log_softmax_batch


def log_softmax(x, axis):
    """``log_softmax`` of a floating-point ``x`` along the non-negative ``axis``."""
    return log_softmax_p.bind(x, axis=int(axis))
