"""Reductions over axes (``reduce_sum``, ``reduce_max``, ``reduce_min``,
``reduce_prod``), ``argmax``/``argmin`` and the cumulative ``cumsum``/``cumprod``.

``reduce_sum`` is linear: its VJP broadcasts the cotangent back.  ``reduce_max``
sends the cotangent to the positions of the maximum, split evenly among ties; those
weights are one primitive, ``extremum_weights``, so that compiled code finds them
robustly (see there).
"""
import functools

import numpy as np
import jax.numpy as jnp
from jax import lax

from ..core.primitive import Primitive, defvjp
from ._util import aval, dtype_error, dtype_of, shape_of
from ._lower import bind_like as _bind_like, cast as _cast
from .elementwise import convert_element_type, div, mul
from .shape import broadcast_in_dim


def _reduced_shape(shape, axes):
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _bcast_back(g, x, axes):
    """Broadcast a reduced value back to the shape of ``x``."""
    xs = shape_of(x)
    kept = tuple(i for i in range(len(xs)) if i not in axes)
    return broadcast_in_dim(g, xs, kept)


@functools.lru_cache(maxsize=512)
def _reduced_dtype(np_fn, dtype):
    return np.asarray(np_fn(np.ones((1,), dtype), axis=0)).dtype


def reduced_dtype(name, np_fn, dtype):
    """The dtype NumPy gives this reduction (``np.sum`` of int32 is int64, as in NumPy)."""
    try:
        return _reduced_dtype(np_fn, np.dtype(dtype))
    except TypeError as e:
        raise dtype_error(name, [aval((), dtype)], f"not defined for dtype {dtype} ({e})",
                          "convert the operand with .astype(...)") from None


def _reduction(name, np_fn, ufunc, jnp_fn):
    """A reduction primitive; eagerly ``ufunc.reduce`` (NumPy's ``np.sum`` etc. without the
    Python wrapper around it: same dtypes, half the overhead)."""
    prim = Primitive(name)
    prim.impl = lambda x, *, axes: ufunc.reduce(np.asarray(x), axis=axes)

    def shape(x, *, axes):
        return aval(_reduced_shape(x.shape, axes), reduced_dtype(name, np_fn, x.dtype), False)

    prim.shape = shape
    prim.lower = lambda ctx, x, *, axes: jnp.asarray(jnp_fn(x, axis=axes), ctx.avals_out[0].dtype)
    return prim


reduce_sum_p = _reduction("reduce_sum", np.sum, np.add, jnp.sum)
reduce_max_p = _reduction("reduce_max", np.max, np.maximum, jnp.max)
reduce_min_p = _reduction("reduce_min", np.min, np.minimum, jnp.min)
reduce_prod_p = _reduction("reduce_prod", np.prod, np.multiply, jnp.prod)
_F32_F64 = (np.dtype(np.float32), np.dtype(np.float64))


def _lax_reduction(jnp_fn, lax_fn, accumulates):
    """``jnp_fn`` as ``lax_fn`` on the operand cast to the result dtype, where the two agree:
    integer and float32/float64 results (jnp accumulates float16 in float32), and, for
    max/min (which jnp refuses on empty axes), non-empty reductions of non-bool operands."""
    def rule(ctx, x, *, axes):
        dt = ctx.avals_out[0].dtype
        if accumulates:
            if dt.kind in "iu" or dt in _F32_F64:
                return _bind_like(lax_fn, (_cast(x, dt),), tuple(axes))
            return jnp_fn(x, axis=axes, dtype=dt)
        a = ctx.avals_in[0]
        if a.dtype.kind in "iuf" and a.dtype == dt and all(a.shape[i] for i in axes):
            return _bind_like(lax_fn, (_cast(x, dt),), tuple(axes))
        return jnp.asarray(jnp_fn(x, axis=axes), dt)
    return rule


reduce_sum_p.lower = _lax_reduction(jnp.sum, lax.reduce_sum, True)
reduce_prod_p.lower = _lax_reduction(jnp.prod, lax.reduce_prod, True)
reduce_max_p.lower = _lax_reduction(jnp.max, lax.reduce_max, False)
reduce_min_p.lower = _lax_reduction(jnp.min, lax.reduce_min, False)


def reduce_sum(x, axes):
    return reduce_sum_p.bind(x, axes=tuple(axes))


def reduce_max(x, axes):
    return reduce_max_p.bind(x, axes=tuple(axes))


def reduce_min(x, axes):
    return reduce_min_p.bind(x, axes=tuple(axes))


def reduce_prod(x, axes):
    return reduce_prod_p.bind(x, axes=tuple(axes))


def _sum_jvp(primals, tangents, *, axes):
    ans = reduce_sum_p.bind(primals[0], axes=axes)
    t = tangents[0]
    return ans, None if t is None else convert_element_type(reduce_sum(t, axes), dtype_of(ans))


reduce_sum_p.jvp = _sum_jvp
defvjp(reduce_sum_p, lambda g, ans, x, *, axes: convert_element_type(_bcast_back(g, x, axes), dtype_of(x)))


def _sum_vjp_numpy(i, g, ans, x, *, axes):
    xs, dt = shape_of(x), dtype_of(x)
    if g.shape == xs:
        ct = g
    else:
        ct = np.broadcast_to(np.reshape(g, tuple(1 if d in axes else n for d, n in enumerate(xs))), xs)
    return ct if ct.dtype == dt else ct.astype(dt)


reduce_sum_p.vjp_numpy = _sum_vjp_numpy


# ----------------------------------------------------------------------------- extremum weights

extremum_weights_p = Primitive("extremum_weights", nondiff=True)


def _weights_impl(x, *, axes, which):
    x = np.asarray(x)
    ext = (np.max if which == "max" else np.min)(x, axis=axes, keepdims=True)
    hit = (x == ext).astype(x.dtype)
    return hit / np.sum(hit, axis=axes, keepdims=True)


def _weights_lower(ctx, x, *, axes, which):
    """``x == max(x)`` alone is not robust under XLA: when it fuses the expression that
    computes ``x`` into the max and into the comparison, the two copies may round
    differently and no position compares equal.  The position an argmax finds (computed
    from one copy of ``x``) is added to the ties, so the weights always sum to one."""
    ext = (jnp.max if which == "max" else jnp.min)(x, axis=axes, keepdims=True)
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = kept + list(axes)
    flat = jnp.transpose(x, perm).reshape([x.shape[i] for i in kept] + [-1])
    pos = (jnp.argmax if which == "max" else jnp.argmin)(flat, axis=-1)
    first = (jnp.arange(flat.shape[-1]) == pos[..., None]).reshape([x.shape[i] for i in perm])
    hit = ((x == ext) | jnp.transpose(first, np.argsort(perm))).astype(x.dtype)
    return hit / jnp.sum(hit, axis=axes, keepdims=True)


extremum_weights_p.impl = _weights_impl
extremum_weights_p.shape = lambda x, *, axes, which: x
extremum_weights_p.lower = _weights_lower
extremum_weights_p.jvp = lambda primals, tangents, **params: (extremum_weights_p.bind(*primals, **params), None)
defvjp(extremum_weights_p, lambda g, ans, x, **params: None)


def extremum_weights(x, axes, which):
    """d reduce_max(x, axes) / dx (``which="max"``) or of ``reduce_min``: 1/k at each of
    the k positions that attain the extremum, 0 elsewhere."""
    return extremum_weights_p.bind(x, axes=tuple(axes), which=which)


def _extremum_rules(prim, which):
    def jvp(primals, tangents, *, axes):
        x, = primals
        ans = prim.bind(x, axes=axes)
        if tangents[0] is None:
            return ans, None
        return ans, reduce_sum(mul(tangents[0], extremum_weights(x, axes, which)), axes)

    prim.jvp = jvp
    defvjp(prim, lambda g, ans, x, *, axes: mul(_bcast_back(g, x, axes), extremum_weights(x, axes, which)))


_extremum_rules(reduce_max_p, "max")
_extremum_rules(reduce_min_p, "min")


def _prod_jvp(primals, tangents, *, axes):
    x, = primals
    ans = reduce_prod_p.bind(x, axes=axes)
    if tangents[0] is None:
        return ans, None
    return ans, reduce_sum(mul(tangents[0], div(_bcast_back(ans, x, axes), x)), axes)


reduce_prod_p.jvp = _prod_jvp
# d prod / d x_i = prod / x_i (NaN where x_i == 0, never a silently wrong value).
defvjp(reduce_prod_p, lambda g, ans, x, *, axes: mul(_bcast_back(g, x, axes), div(_bcast_back(ans, x, axes), x)))


# ----------------------------------------------------------------------------- argmax / argmin

def _arg_reduction(name, np_fn, jnp_fn):
    prim = Primitive(name, nondiff=True)
    prim.impl = lambda x, *, axis: np_fn(np.asarray(x), axis=axis)
    prim.shape = lambda x, *, axis: aval(_reduced_shape(x.shape, (axis,)), np.int64)
    prim.lower = lambda ctx, x, *, axis: jnp.asarray(jnp_fn(x, axis=axis), np.int64)
    prim.jvp = lambda primals, tangents, *, axis: (prim.bind(*primals, axis=axis), None)
    defvjp(prim, lambda g, ans, x, *, axis: None)
    return prim


argmax_p = _arg_reduction("argmax", np.argmax, jnp.argmax)
argmin_p = _arg_reduction("argmin", np.argmin, jnp.argmin)


def argmax(x, axis):
    return argmax_p.bind(x, axis=axis)


def argmin(x, axis):
    return argmin_p.bind(x, axis=axis)


# ----------------------------------------------------------------------------- cumulative

def _cumulative(name, np_fn, jnp_fn, lax_fn):
    prim = Primitive(name)
    prim.impl = lambda x, *, axis, reverse: (np.flip(np_fn(np.flip(np.asarray(x), axis), axis=axis), axis) if reverse
                                             else np_fn(np.asarray(x), axis=axis))

    def shape(x, *, axis, reverse):
        return aval(x.shape, reduced_dtype(name, np_fn, x.dtype), False)

    prim.shape = shape

    def lower(ctx, x, *, axis, reverse):
        dt = ctx.avals_out[0].dtype
        if reverse and dt != np.bool_:
            # as jax lowers lax.cumsum(reverse=True): one scan, no flips around it
            return lax_fn(jnp.asarray(x, dt), axis=axis % len(ctx.avals_in[0].shape), reverse=True)
        if reverse:
            return jnp.flip(jnp_fn(jnp.flip(x, axis), axis=axis, dtype=dt), axis)
        return jnp_fn(x, axis=axis, dtype=dt)

    prim.lower = lower
    return prim


cumsum_p = _cumulative("cumsum", np.cumsum, jnp.cumsum, lax.cumsum)
cumprod_p = _cumulative("cumprod", np.cumprod, jnp.cumprod, lax.cumprod)


def cumsum(x, axis, reverse=False):
    return cumsum_p.bind(x, axis=axis, reverse=reverse)


def cumprod(x, axis, reverse=False):
    return cumprod_p.bind(x, axis=axis, reverse=reverse)


cumsum_p.jvp = lambda primals, tangents, *, axis, reverse: (
    cumsum_p.bind(primals[0], axis=axis, reverse=reverse),
    None if tangents[0] is None else cumsum(tangents[0], axis, reverse))
defvjp(cumsum_p, lambda g, ans, x, *, axis, reverse: convert_element_type(cumsum(g, axis, not reverse), dtype_of(x)))


def _cumprod_jvp(primals, tangents, *, axis, reverse):
    x, = primals
    ans = cumprod_p.bind(x, axis=axis, reverse=reverse)
    if tangents[0] is None:
        return ans, None
    return ans, mul(ans, cumsum(div(tangents[0], x), axis, reverse))


cumprod_p.jvp = _cumprod_jvp
# d out_j / d x_i = out_j / x_i for j >= i (NaN where x_i == 0).
defvjp(cumprod_p, lambda g, ans, x, *, axis, reverse: div(cumsum(mul(g, ans), axis, not reverse), x))


# VJPs of these linear maps read only shapes and dtypes.
reduce_sum_p.residuals = ()
cumsum_p.residuals = ()
reduce_max_p.residuals = reduce_min_p.residuals = ("inputs",)  # the weights come from x alone


# ----------------------------------------------------------------------------- vmap

def _batch_axes(prim):
    """Reductions over ``axes``: batch dimension first, every axis one further."""
    def rule(size, vals, dims, *, axes, **params):
        from ._batching import move_to_front
        x = move_to_front(vals[0], dims[0], size)
        return prim.bind(x, axes=tuple(a + 1 for a in axes), **params), 0
    return rule


def _batch_axis(prim):
    def rule(size, vals, dims, *, axis, **params):
        from ._batching import move_to_front
        x = move_to_front(vals[0], dims[0], size)
        return prim.bind(x, axis=axis + 1, **params), 0
    return rule


for _p in (reduce_sum_p, reduce_max_p, reduce_min_p, reduce_prod_p, extremum_weights_p):
    _p.batch = _batch_axes(_p)
for _p in (argmax_p, argmin_p, cumsum_p, cumprod_p):
    _p.batch = _batch_axis(_p)
