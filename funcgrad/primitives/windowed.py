"""Windowed reductions (pooling), with ``jax.lax.reduce_window``'s semantics:
``reduce_window_sum`` and ``reduce_window_max``, and the two linear maps that carry
the derivative of the max, ``select_and_gather_add`` and ``select_and_scatter_add``.

All take static ``window_dimensions``, ``window_strides``, ``padding`` (one
``(low, high)`` pair per dimension, negative crops), ``base_dilation`` (holes between
the operand's elements) and ``window_dilation`` (holes between the window's elements),
one entry per operand dimension.  Padding and holes hold the reduction's identity
(0 for the sum, -inf or the integer minimum for the max).

Eagerly the operand is dilated and padded once; a window of up to 64 elements is
reduced with one whole-array pass per window offset (a strided slice each), a larger
one as a strided view of all windows reduced in one NumPy call.

Derivatives.  The sum is linear; its transpose is again a windowed sum, of the
cotangent dilated by the strides (jax's ``_reduce_window_sum_transpose_rule``).  The
max's derivative picks, in each window, the *first* position that attains the maximum
(row-major order within the window) -- the rule jax's ``select_and_scatter_add`` (XLA's
SelectAndScatter with ``>=``) follows, and eager, ``jit`` and jax agree on it.  Tied
values therefore do not share the cotangent (unlike ``fnp.max``, which splits it
evenly, as ``jnp.max``).  ``select_and_gather_add(t, x)`` reads ``t`` at those
positions (forward mode); ``select_and_scatter_add(g, x)`` adds ``g`` there (reverse
mode); each is the other's transpose, and neither depends differentiably on ``x``.
"""
import numpy as np
import jax
import jax.lax as lax
import jax.numpy as jnp

from ..core.primitive import Primitive, defvjp, defvjp_indexed
from ._util import aval, dtype_error, dtype_of, shape_error, shape_of
from .conv import (check_window_args, dilate_dim, lhs_vjp_padding, pad_dilate, pad_slices, window_out_shape,
                   windows)
from .elementwise import convert_element_type, select_impl

def _identity(dtype, which):
    dtype = np.dtype(dtype)
    if which == "sum":
        return dtype.type(0)
    return dtype.type(-np.inf) if dtype.kind == "f" else np.iinfo(dtype).min


def _window_shape(op, x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    if x.ndim != len(window_dimensions):
        raise shape_error(op, [x], f"window_dimensions {tuple(window_dimensions)} has {len(window_dimensions)} "
                           f"entries for an operand of rank {x.ndim}", "give one window size per dimension "
                           "(1 for the batch and feature dimensions)")
    check_window_args(op, [x], x.ndim, window_dimensions, window_strides, padding, base_dilation,
                      window_dilation, what="operand")
    return window_out_shape(op, [x], x.shape, window_dimensions, window_strides, padding, base_dilation,
                            window_dilation, "operand")


def _check_numeric(op, x):
    if x.dtype.kind not in "fiu":
        raise dtype_error(op, [x], f"needs a numeric operand, got {x.dtype.name}", "convert with .astype(...)")


def _offsets(shape, window_dimensions, window_strides, window_dilation):
    """The output shape of the windows over a (padded) operand of ``shape``, and one
    strided slice per window offset, row-major: slice ``j`` picks the ``j``-th element
    of every window at once."""
    out = tuple((d - ((k - 1) * r + 1)) // s + 1 for d, k, r, s in zip(shape, window_dimensions, window_dilation,
                                                                    window_strides, strict=True))
    slices = [tuple(slice(k * r, k * r + (o - 1) * s + 1, s) for k, r, o, s in zip(off, window_dilation, out,
                                                                                  window_strides, strict=True))
              for off in np.ndindex(*window_dimensions)]
    return out, slices


def _padded(x, fill, padding, base_dilation):
    return pad_dilate(x, tuple(range(x.ndim)), padding, base_dilation, fill)


_LOOP_MAX = 64   # windows of up to this many elements: one pass per offset; larger: one strided reduction


def _reduce_impl(which):
    def impl(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        x = np.asarray(x)
        dt = x.dtype
        acc = np.float32 if dt.kind == "f" and dt.itemsize < 4 else dt
        xp = _padded(x, _identity(dt, which), padding, base_dilation)
        out, slices = _offsets(xp.shape, window_dimensions, window_strides, window_dilation)
        if len(slices) > _LOOP_MAX:
            win = windows(xp, tuple(range(x.ndim)), window_dimensions, window_strides, window_dilation)
            axes = tuple(range(x.ndim, 2 * x.ndim))
            r = win.sum(axis=axes, dtype=acc) if which == "sum" else win.max(axis=axes)
            return np.asarray(r).astype(dt, copy=False)
        r = xp[slices[0]].astype(acc, copy=True)
        step = np.add if which == "sum" else np.maximum
        for sl in slices[1:]:
            step(r, xp[sl], out=r)
        return r.astype(dt, copy=False)
    return impl


def _reduce_shape(op):
    def shape(x, **p):
        _check_numeric(op, x)
        return aval(_window_shape(op, x, **p), x.dtype, x.weak_type)
    return shape


def _reduce_lower(which):
    def lower(ctx, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        dt = ctx.avals_in[0].dtype
        init = np.asarray(_identity(dt, which), dt)
        return lax.reduce_window(jnp.asarray(x, dt), init, lax.add if which == "sum" else lax.max,
                                 window_dimensions, window_strides, padding, base_dilation, window_dilation)
    return lower


reduce_window_sum_p = Primitive("reduce_window_sum")
reduce_window_max_p = Primitive("reduce_window_max")
for _p, _w in ((reduce_window_sum_p, "sum"), (reduce_window_max_p, "max")):
    _p.impl = _reduce_impl(_w)
    _p.shape = _reduce_shape(_p.name)
    _p.lower = _reduce_lower(_w)


def reduce_window_sum(x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    return reduce_window_sum_p.bind(x, window_dimensions=tuple(window_dimensions),
                                    window_strides=tuple(window_strides), padding=tuple(padding),
                                    base_dilation=tuple(base_dilation), window_dilation=tuple(window_dilation))


def reduce_window_max(x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    return reduce_window_max_p.bind(x, window_dimensions=tuple(window_dimensions),
                                    window_strides=tuple(window_strides), padding=tuple(padding),
                                    base_dilation=tuple(base_dilation), window_dilation=tuple(window_dilation))


def _linear_jvp(prim):
    def jvp(primals, tangents, **p):
        return prim.bind(primals[0], **p), None if tangents[0] is None else prim.bind(tangents[0], **p)
    return jvp


def _sum_vjp(g, ans, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    """Each input element is summed into every window that covers it: the transpose is a
    windowed sum of the cotangent dilated by the strides, with the full-correlation
    padding, stepping by the base dilation."""
    pads = lhs_vjp_padding(shape_of(x), window_dimensions, window_strides, shape_of(g), padding, base_dilation,
                           window_dilation)
    out = reduce_window_sum_p.bind(g, window_dimensions=window_dimensions, window_strides=base_dilation,
                                   padding=pads, base_dilation=window_strides, window_dilation=window_dilation)
    return convert_element_type(out, dtype_of(x))


reduce_window_sum_p.jvp = _linear_jvp(reduce_window_sum_p)
defvjp(reduce_window_sum_p, _sum_vjp)
reduce_window_sum_p.residuals = ()  # linear: shapes and dtypes only


def _max_jvp(primals, tangents, **p):
    x, = primals
    ans = reduce_window_max_p.bind(x, **p)
    t = tangents[0]
    return ans, None if t is None else select_and_gather_add_p.bind(t, x, **p)


reduce_window_max_p.jvp = _max_jvp
defvjp(reduce_window_max_p,
       lambda g, ans, x, **p: convert_element_type(select_and_scatter_add_p.bind(g, x, **p), dtype_of(x)))
reduce_window_max_p.residuals = ("inputs",)


# ----------------------------------------------------------------------------- the max's derivative

def _selections(x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    """Where each window's maximum sits: ``(slices, masks, padded_shape)``, with one
    boolean mask per window offset (row-major) marking the windows whose *first* largest
    element is at that offset.  The masks partition the windows: a window of NaNs only
    gives its cotangent to its last element.

    Computed with whole-array passes per offset (never per window): the maximum first,
    then each offset takes the windows it ties with that no earlier offset took."""
    x = np.asarray(x)
    xp = _padded(x, _identity(x.dtype, "max"), padding, base_dilation)
    _, slices = _offsets(xp.shape, window_dimensions, window_strides, window_dilation)
    views = [xp[sl] for sl in slices]
    if len(views) == 1:
        return slices, [np.ones(views[0].shape, bool)], xp.shape
    best = np.fmax(views[0], views[1])
    for v in views[2:]:
        np.fmax(best, v, out=best)
    taken = np.equal(views[0], best)
    masks = [taken]
    for v in views[1:-1]:
        hit = np.greater(np.equal(v, best), taken)   # ties here, not taken before
        taken = taken | hit
        masks.append(hit)
    masks.append(~taken)
    return slices, masks, xp.shape


def _gather_impl(t, x, **p):
    t = np.asarray(t)
    slices, masks, _ = _selections(x, **p)
    tp = _padded(t, 0, p["padding"], p["base_dilation"])
    out = tp[slices[0]]
    for sl, hit in zip(slices[1:], masks[1:], strict=True):
        out = select_impl(hit, tp[sl], out)
    return np.array(out)


def _scatter_impl(g, x, **p):
    g, x = np.asarray(g), np.asarray(x)
    slices, masks, padded = _selections(x, **p)
    # windows that do not overlap (stride >= dilated window) write each element once
    disjoint = all(s >= dilate_dim(k, r) for k, s, r in zip(p["window_dimensions"], p["window_strides"],
                                                            p["window_dilation"], strict=True))
    acc = np.zeros(padded, g.dtype)
    zero = g.dtype.type(0)
    for sl, hit in zip(slices, masks, strict=True):
        if disjoint:
            acc[sl] = select_impl(hit, g, zero)
        else:
            acc[sl] += select_impl(hit, g, zero)
    if all(r == 1 for r in p["base_dilation"]) and all(lo == hi == 0 for lo, hi in p["padding"]):
        return acc
    _, src, dst = pad_slices(x.shape, tuple(range(x.ndim)), p["padding"], p["base_dilation"])
    out = np.zeros(x.shape, g.dtype)
    out[src] = acc[dst]   # padding and holes take no cotangent
    return out


def _pair_shape(op, out_of):
    def shape(t, x, **p):
        out = _window_shape(op, x, **p)
        if t.shape != (x.shape if out_of == "window" else out):
            raise shape_error(op, [t, x], "the (co)tangent does not match the operand or its windows",
                              "pass a tangent shaped like the operand, a cotangent like the windows")
        if t.dtype.kind != "f":
            raise dtype_error(op, [t, x], "needs a floating-point (co)tangent", "convert with .astype(float)")
        return aval(out if out_of == "window" else x.shape, t.dtype)
    return shape


def _max_of(x, **p):
    dt = x.dtype
    return lax.reduce_window(x, np.asarray(_identity(dt, "max"), dt), lax.max, p["window_dimensions"],
                             p["window_strides"], p["padding"], p["base_dilation"], p["window_dilation"])


def _gather_lower(ctx, t, x, **p):
    """jax's own forward-mode derivative of the max: the same selection as its VJP."""
    dt = np.result_type(ctx.avals_in[0].dtype, ctx.avals_in[1].dtype)
    _, out = jax.jvp(lambda y: _max_of(y, **p), (jnp.asarray(x, dt),), (jnp.asarray(t, dt),))
    return out


def _scatter_lower(ctx, g, x, **p):
    dt = np.result_type(ctx.avals_in[0].dtype, ctx.avals_in[1].dtype)
    x, g = jnp.asarray(x, dt), jnp.asarray(g, dt)
    if all(r == 1 for r in p["window_dilation"]) and all(lo >= 0 and hi >= 0 for lo, hi in p["padding"]):
        _, pullback = jax.vjp(lambda y: _max_of(y, **p), x)   # XLA's SelectAndScatter
        return pullback(g)[0]
    return _scatter_lower_dilated(g, x, **p)


def _scatter_lower_dilated(g, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    """jax has no VJP for a window-dilated max (nor for negative padding); select the first maximum among the
    window's offsets (one strided slice each) and pad each offset's share back."""
    nd = x.ndim
    xp = lax.pad(x, np.asarray(_identity(x.dtype, "max"), x.dtype),
                 [(lo, hi, r - 1) for (lo, hi), r in zip(padding, base_dilation, strict=True)])
    out_shape = g.shape
    offsets = list(np.ndindex(*window_dimensions))
    slices = [lax.slice(xp, [k * r for k, r in zip(off, window_dilation, strict=True)],
                        [k * r + (o - 1) * s + 1 for k, r, o, s in zip(off, window_dilation, out_shape,
                                                                       window_strides, strict=True)],
                        window_strides) for off in offsets]
    first = jnp.argmax(jnp.stack(slices), axis=0)
    acc = jnp.zeros(xp.shape, g.dtype)
    zero = np.asarray(0, g.dtype)
    for j, off in enumerate(offsets):
        share = jnp.where(first == j, g, zero)
        cfg = []
        for d in range(nd):
            start = off[d] * window_dilation[d]
            length = (out_shape[d] - 1) * window_strides[d] + 1
            cfg.append((start, xp.shape[d] - start - length, window_strides[d] - 1))
        acc = acc + lax.pad(share, zero, cfg)
    back = lax.pad(acc, zero, [(-lo, -hi, 0) for lo, hi in padding])
    return lax.slice(back, [0] * nd, back.shape, base_dilation)


select_and_gather_add_p = Primitive("select_and_gather_add")
select_and_gather_add_p.impl = _gather_impl
select_and_gather_add_p.shape = _pair_shape("select_and_gather_add", "window")
select_and_gather_add_p.lower = _gather_lower

select_and_scatter_add_p = Primitive("select_and_scatter_add")
select_and_scatter_add_p.impl = _scatter_impl
select_and_scatter_add_p.shape = _pair_shape("select_and_scatter_add", "operand")
select_and_scatter_add_p.lower = _scatter_lower


def _pair_jvp(prim):
    def jvp(primals, tangents, **p):
        t, x = primals
        ans = prim.bind(t, x, **p)
        return ans, None if tangents[0] is None else prim.bind(tangents[0], x, **p)
    return jvp


def _pair_vjp(other):
    def vjp(i, g, ans, t, x, **p):
        if i == 1:
            return None   # piecewise constant in x
        return convert_element_type(other.bind(g, x, **p), dtype_of(t))
    return vjp


select_and_gather_add_p.jvp = _pair_jvp(select_and_gather_add_p)
select_and_scatter_add_p.jvp = _pair_jvp(select_and_scatter_add_p)
defvjp_indexed(select_and_gather_add_p, _pair_vjp(select_and_scatter_add_p))
defvjp_indexed(select_and_scatter_add_p, _pair_vjp(select_and_gather_add_p))
select_and_gather_add_p.residuals = ("inputs",)
select_and_scatter_add_p.residuals = ("inputs",)


# ----------------------------------------------------------------------------- vmap

def _front(p):
    """The parameters for a new leading dimension of window 1."""
    return dict(window_dimensions=(1,) + p["window_dimensions"], window_strides=(1,) + p["window_strides"],
                padding=((0, 0),) + p["padding"], base_dilation=(1,) + p["base_dilation"],
                window_dilation=(1,) + p["window_dilation"])


def _window_batch(prim):
    def rule(size, vals, dims, **p):
        from ._batching import move_to_front
        return prim.bind(*[move_to_front(v, d, size) for v, d in zip(vals, dims, strict=True)], **_front(p)), 0
    return rule


for _p in (reduce_window_sum_p, reduce_window_max_p, select_and_gather_add_p, select_and_scatter_add_p):
    _p.batch = _window_batch(_p)
