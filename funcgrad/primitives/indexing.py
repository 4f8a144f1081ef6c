"""Indexing primitives: ``gather`` (``x[idx]``) and ``scatter`` (``x.at[idx].set/add/...``).

An index is split into a static *spec* (slices, ``None``, ``...``, Python ints) kept
as a parameter, and dynamic integer arrays passed as operands.  The spec entries are
``("slice", start, stop, step)``, ``("none",)``, ``("ellipsis",)``, ``("int", i)`` and
``("array", k)`` (the k-th index operand).  Both primitives follow NumPy's indexing
rules exactly (advanced indices included), because evaluation rebuilds the index.

``gather`` is linear in ``x``: its VJP scatter-adds the cotangent into zeros.
"""
import numpy as np
import jax.numpy as jnp
from jax import lax

from ..core.primitive import Primitive, defvjp_indexed
from ..core.trace import Tracer
from ..errors import INDEX_FIX, IndexingError, user_location
from ._util import aval, dtype_of, shape_of
from .elementwise import add, convert_element_type, div, mul, unbroadcast


def build_index(spec, arrays):
    out = []
    for item in spec:
        kind = item[0]
        if kind == "slice":
            out.append(slice(item[1], item[2], item[3]))
        elif kind == "none":
            out.append(None)
        elif kind == "ellipsis":
            out.append(Ellipsis)
        elif kind == "int":
            out.append(item[1])
        else:
            out.append(arrays[item[1]])
    return tuple(out)


def _index_shape(op, x, arrays, spec, concrete=None):
    """The shape ``x[idx]`` has (``x`` and the index arrays abstract); index arrays whose
    values are known (``concrete``: position -> array) are checked against the bounds."""
    dummy = np.broadcast_to(np.zeros((), np.int8), x.shape)
    idx = build_index(spec, [np.zeros(a.shape, np.intp) if concrete is None or i not in concrete else concrete[i]
                             for i, a in enumerate(arrays)])
    try:
        return dummy[idx].shape
    except IndexError as e:
        raise IndexingError(f"{op}: {e} (array {x.str_short()}) at {user_location()}.\n{INDEX_FIX}") from None


def _check_known_indices(op, x, arrays, spec):
    """Under a transform (``x`` traced), index arrays known now -- constants such as the 10 of
    ``fnp.take(x, 10)`` -- are checked against ``x``'s bounds, as NumPy checks them eagerly.
    (An index that is itself traced is only known when the program runs.)"""
    known = {i: np.asarray(a) for i, a in enumerate(arrays) if not isinstance(a, Tracer)}
    if known:
        _index_shape(op, aval(shape_of(x), dtype_of(x)), [aval(shape_of(a), dtype_of(a)) for a in arrays], spec, known)


# ----------------------------------------------------------------------------- gather

gather_p = Primitive("gather")
gather_p.impl = lambda x, *arrays, spec: np.asarray(x)[build_index(spec, arrays)]


def _gather_shape(x, *arrays, spec):
    for a in arrays:
        if a.dtype.kind not in "iu":
            raise IndexingError(f"gather: index arrays must be integers, got {a.str_short()} at {user_location()}.\n"
                                "Fix: convert the index with .astype(int).")
    return aval(_index_shape("indexing", x, arrays, spec), x.dtype, x.weak_type)


def _gather_lower(ctx, x, *arrays, spec):
    return jnp.asarray(x)[build_index(spec, arrays)]


gather_p.shape = _gather_shape
gather_p.lower = _gather_lower
gather_p.jvp = lambda primals, tangents, *, spec: (
    gather_p.bind(*primals, spec=spec),
    None if tangents[0] is None else gather_p.bind(tangents[0], *primals[1:], spec=spec))


def _gather_vjp(i, g, ans, x, *arrays, spec):
    if i:
        return None
    zeros = np.zeros(shape_of(x), dtype_of(g))
    return convert_element_type(scatter(zeros, g, arrays, spec, "add"), dtype_of(x))


defvjp_indexed(gather_p, _gather_vjp)
gather_p.residuals = ("inputs",)  # the index arrays; x only by shape


def gather(x, arrays, spec):
    if arrays and isinstance(x, Tracer):
        _check_known_indices("indexing", x, arrays, spec)
    return gather_p.bind(x, *arrays, spec=tuple(spec))


def slice_axis(x, axis, start, stop, step=None):
    """``x[..., start:stop:step, ...]`` along one axis."""
    nd = len(shape_of(x))
    spec = [("slice", None, None, None)] * nd
    spec[axis] = ("slice", start, stop, step)
    return gather(x, (), spec)


# ----------------------------------------------------------------------------- scatter

scatter_p = Primitive("scatter")
_UFUNC = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _scatter_impl(x, updates, *arrays, spec, mode):
    out = np.array(x, copy=True)
    idx = build_index(spec, arrays)
    updates = np.asarray(updates, dtype=out.dtype)
    if mode == "set":
        out[idx] = updates
    else:
        _UFUNC[mode].at(out, idx, updates)
    return out


def _scatter_shape(x, updates, *arrays, spec, mode):
    target = _index_shape("x.at[...]", x, arrays, spec)
    try:
        np.broadcast_shapes(updates.shape, target)
    except ValueError:
        from ._util import shape_error
        raise shape_error(f"x.at[...].{mode}", [x, updates],
                          f"updates of shape {updates.shape} do not broadcast to the indexed shape {target}",
                          "give updates whose shape broadcasts to x[idx].shape") from None
    return aval(x.shape, x.dtype, x.weak_type)


def _whole_array_flips(shape, spec):
    """For an index of slices, ``None`` and ``...`` only that selects every element of
    an array of ``shape`` (``x[:, None]``, ``x[::-1]``, ``x[0:n]``): the axes it
    reverses.  None for any other index."""
    if any(item[0] not in ("slice", "none", "ellipsis") for item in spec):
        return None
    n_ellipsis = len(shape) - sum(item[0] == "slice" for item in spec)
    flips, ax = [], 0
    for item in spec:
        if item[0] == "ellipsis":
            ax += n_ellipsis
        elif item[0] == "slice":
            n = shape[ax]
            start, stop, step = slice(*item[1:]).indices(n)
            if len(range(start, stop, step)) != n:
                return None
            if step < 0 and n > 1:
                flips.append(ax)
            ax += 1
    return tuple(flips)


def _scatter_lower(ctx, x, updates, *arrays, spec, mode):
    dt = ctx.avals_out[0].dtype
    u = jnp.asarray(updates, dt)
    if dt == np.bool_ and mode in ("add", "mul"):  # NumPy's bool add is `or`, its multiply `and`
        mode = "max" if mode == "add" else "min"
    flips = None if arrays else _whole_array_flips(ctx.avals_in[0].shape, spec)
    if flips is not None:
        # The index covers x: the scatter is elementwise (and jax's transpose of x[None],
        # x[:, :] or x[::-1] is a reshape or a reverse, not a scatter).  A scatter whose
        # window is the whole operand also trips XLA: its simplifier turns it into a
        # `map`, and a `reverse` of that `map` aborts the process in HandleReverse.
        shape = ctx.avals_out[0].shape
        target = _index_shape("x.at[...]", ctx.avals_in[0], (), spec)
        u = jnp.reshape(jnp.broadcast_to(u, target), shape)
        if flips:
            u = lax.rev(u, flips)
        if mode == "set":
            return u
        xv = jnp.asarray(x, dt)
        return {"add": lax.add, "mul": lax.mul, "min": lax.min, "max": lax.max}[mode](xv, u)
    ref = jnp.asarray(x, dt).at[build_index(spec, arrays)]
    return {"set": ref.set, "add": ref.add, "mul": ref.multiply, "min": ref.min, "max": ref.max}[mode](u)


def _may_repeat(x, arrays, spec):
    """Can two updates land on the same element?  Only with index arrays: concrete ones
    are checked; traced ones might."""
    if not arrays:
        return False
    if not all(isinstance(a, np.ndarray) for a in arrays):
        return True
    shape = shape_of(x)
    hit = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)[build_index(spec, arrays)]
    return np.unique(hit).size != hit.size


def _scatter_jvp(primals, tangents, *, spec, mode):
    x, u, *arrays = primals
    tx, tu = tangents[0], tangents[1]
    ans = scatter_p.bind(*primals, spec=spec, mode=mode)
    if tx is None and tu is None:
        return ans, None
    dt = dtype_of(ans)
    zx = np.zeros(shape_of(x), dt) if tx is None else tx
    zu = np.zeros((), dt) if tu is None else tu
    if mode in ("set", "add"):
        return ans, scatter(zx, zu, arrays, spec, mode)
    if mode == "mul":
        t = scatter(zx, u, arrays, spec, "mul")
        if tu is None:
            return ans, t
        if _may_repeat(x, arrays, spec):
            # out = x * (product of the updates hitting each element): d out = out * sum_k du_k / u_k
            return ans, add(t, mul(ans, scatter(np.zeros(shape_of(x), dt), div(tu, u), arrays, spec, "add")))
        return ans, scatter(t, mul(gather(x, arrays, spec), zu), arrays, spec, "add")
    # min / max: the mean tangent of the values that won (x and every update tying with the result)
    wx, wu = extremal_weights(x, u, arrays, spec, mode)
    t = mul(zx, wx) if tx is not None else np.zeros(shape_of(x), dt)
    return ans, scatter(t, mul(zu, wu), arrays, spec, "add") if tu is not None else t


def _scatter_vjp(i, g, ans, x, u, *arrays, spec, mode):
    if i >= 2:
        return None
    if i == 0:
        if mode == "add":
            return g
        if mode == "set":
            return scatter(g, np.zeros((), dtype_of(g)), arrays, spec, "set")
        if mode == "mul":
            return scatter(g, u, arrays, spec, "mul")
        return mul(g, extremal_weights(x, u, arrays, spec, mode)[0])
    if mode in ("min", "max"):
        return unbroadcast(mul(gather(g, arrays, spec), extremal_weights(x, u, arrays, spec, mode)[1]), u)
    gu = gather(g, arrays, spec)
    if mode == "mul":
        if _may_repeat(x, arrays, spec):  # d out / d u_k = out / u_k (the other updates' product included)
            gu = div(mul(gu, gather(ans, arrays, spec)), u)
        else:
            gu = mul(gu, gather(x, arrays, spec))
    return unbroadcast(gu, u)


scatter_p.impl = _scatter_impl
scatter_p.shape = _scatter_shape
scatter_p.lower = _scatter_lower
scatter_p.jvp = _scatter_jvp
defvjp_indexed(scatter_p, _scatter_vjp)


def scatter(x, updates, arrays, spec, mode):
    if arrays and isinstance(x, Tracer):
        _check_known_indices("x.at[...]", x, arrays, spec)
    return scatter_p.bind(x, updates, *arrays, spec=tuple(spec), mode=mode)


# ----------------------------------------------------------------------------- min/max scatter weights

extremal_weights_p = Primitive("scatter_extremal_weights", multiple_results=True, nondiff=True)


def _weights_impl(x, u, *arrays, spec, mode):
    x = np.asarray(x)
    dt = x.dtype
    idx = build_index(spec, arrays)
    ans = _scatter_impl(x, u, *arrays, spec=spec, mode=mode)
    target = ans[idx]
    ub = np.broadcast_to(np.asarray(u, dt), target.shape)  # the updates as the scatter stores them
    touched = np.zeros(x.shape, bool)
    touched[idx] = True
    x_won, u_won = (x == ans) | ~touched, ub == target   # (x is the result where no update lands, NaN too)
    count = x_won.astype(dt)
    np.add.at(count, idx, u_won.astype(dt))
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 only where a NaN won
        return [x_won / count, u_won / count[idx]]


def _weights_shape(x, u, *arrays, spec, mode):
    target = _index_shape("x.at[...]", x, arrays, spec)
    return [aval(x.shape, x.dtype, False), aval(target, x.dtype, False)]


def _weights_lower(ctx, x, u, *arrays, spec, mode):
    """``x == result`` is not robust under XLA: it may fuse the expression computing ``x``
    (or ``u``) into the scatter and into the comparison and round the two copies
    differently (``a - b * c`` becomes an FMA in one kernel only), and then no value
    equals the result and the derivative is silently 0.  An optimization barrier does not
    help (XLA:CPU removes them).  So the candidates of every position (``x`` and the
    updates hitting it) are sorted once, by position and value: the winners are the values
    equal to the first of their position in that one sorted copy, and each position has
    at least one."""
    dt = ctx.avals_out[0].dtype
    x = jnp.asarray(x, dt)
    n = x.size
    pos = jnp.arange(n).reshape(x.shape)[build_index(spec, arrays)]
    tshape = pos.shape
    pos = pos.reshape(-1)
    k = pos.size
    if not k:  # no element is updated: x wins everywhere
        return [jnp.ones(x.shape, dt), jnp.zeros(tshape, dt)]
    vals = jnp.concatenate([x.reshape(-1)[pos], jnp.broadcast_to(jnp.asarray(u, dt), tshape).reshape(-1)])
    key = -vals if mode == "max" else vals
    order = jnp.arange(2 * k)
    seg_s, key_s, cand_s = lax.sort((jnp.concatenate([pos, pos]), key, order), num_keys=2)
    first = jnp.concatenate([jnp.ones((1,), bool), seg_s[1:] != seg_s[:-1]])
    head = lax.cummax(jnp.where(first, order, 0), axis=0)
    won = jnp.zeros((2 * k,), dt).at[cand_s].set((key_s == key_s[head]).astype(dt), unique_indices=True)
    x_won = jnp.zeros((n,), dt).at[pos].max(won[:k])      # x is a candidate once per index hitting it
    count = x_won + jnp.zeros((n,), dt).at[pos].add(won[k:])
    touched = jnp.zeros((n,), bool).at[pos].set(True)
    wx = jnp.where(touched, x_won / jnp.where(touched, count, 1), 1)
    return [wx.reshape(x.shape), (won[k:] / count[pos]).reshape(tshape)]


extremal_weights_p.impl = _weights_impl
extremal_weights_p.shape = _weights_shape
extremal_weights_p.lower = _weights_lower
extremal_weights_p.jvp = lambda primals, tangents, **params: (extremal_weights_p.bind(*primals, **params), [None, None])
defvjp_indexed(extremal_weights_p, lambda i, g, ans, *inputs, **params: None)


def extremal_weights(x, u, arrays, spec, mode):
    """The derivative weights of ``x.at[idx].max(u)`` (``mode`` "max", or "min"): ``(wx,
    wu)``, ``wx`` shaped like ``x`` and ``wu`` like ``x[idx]``, ``1/k`` for each of the
    ``k`` values (``x`` and the updates) that equal the result at a position, else 0."""
    return extremal_weights_p.bind(x, u, *arrays, spec=tuple(spec), mode=mode)


# ----------------------------------------------------------------------------- vmap

def _advanced_prefix(spec):
    """True when the advanced indices (arrays, and ints beside them) lead the index:
    then a leading batch index array keeps NumPy's result layout example by example."""
    kinds = [item[0] for item in spec]
    if "array" not in kinds:
        return False
    n = 0
    while n < len(kinds) and kinds[n] in ("array", "int"):
        n += 1
    return all(k not in ("array", "int") for k in kinds[n:])


def _per_example_shape(xshape, array_shapes, spec):
    dummy = np.broadcast_to(np.zeros((), np.int8), xshape)
    return dummy[build_index(spec, [np.zeros(s, np.intp) for s in array_shapes])].shape


def _batched_index(size, arrays, dims, spec):
    """Index arrays and spec with a leading ``arange(size)`` index: every array's batch
    dimension first, ranks lined up so that all of them broadcast together."""
    from ._batching import move_to_front
    from .shape import reshape
    rank = max(len(np.shape(a)) - (d is not None) for a, d in zip(arrays, dims, strict=True))
    new = [np.arange(size).reshape((size,) + (1,) * rank)]
    for a, d in zip(arrays, dims, strict=True):
        if d is not None:
            a = move_to_front(a, d, size)
            shape = tuple(np.shape(a))
            pad = rank - (len(shape) - 1)
            a = reshape(a, shape[:1] + (1,) * pad + shape[1:]) if pad else a
        new.append(a)
    spec = (("array", 0),) + tuple(("array", item[1] + 1) if item[0] == "array" else item for item in spec)
    return new, spec


def _gather_batch(size, vals, dims, *, spec):
    """Only ``x`` batched: index ``x[:, idx]`` (NumPy puts the dimensions of advanced
    indices that are not next to each other first, so the batch dimension then follows
    them).  Batched index arrays: a leading batch index, when the advanced indices lead."""
    from ._batching import loop_rule, move_to_front
    x, *arrays = vals
    if any(d is not None for d in dims[1:]):
        if not _advanced_prefix(spec):
            return loop_rule(gather_p)(size, vals, dims, spec=spec)
        new_arrays, new_spec = _batched_index(size, arrays, dims[1:], spec)
        return gather_p.bind(move_to_front(x, dims[0], size), *new_arrays, spec=new_spec), 0
    x = move_to_front(x, dims[0], size)
    out = gather_p.bind(x, *arrays, spec=(("slice", None, None, None),) + tuple(spec))
    if not arrays:
        return out, 0
    advanced = [i for i, item in enumerate(spec) if item[0] in ("array", "int")]
    if advanced == list(range(advanced[0], advanced[0] + len(advanced))):
        return out, 0
    return out, len(np.broadcast_shapes(*[np.shape(a) for a in arrays]))


def _batch_like_scatter(prim):
    """The batching rule of ``scatter`` (and of primitives with its operands and index):
    a leading full slice for basic indices, a leading batch index array when the advanced
    indices lead; otherwise a loop.  Every output is batched at 0."""
    def rule(size, vals, dims, *, spec, mode):
        from ._batching import loop_rule
        ops = _batched_scatter_operands(size, vals, dims, spec)
        if ops is None:
            return loop_rule(prim)(size, vals, dims, spec=spec, mode=mode)
        x, u, arrays, spec = ops
        out = prim.bind(x, u, *arrays, spec=spec, mode=mode)
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return rule


def _batched_scatter_operands(size, vals, dims, spec):
    """``(x, u, arrays, spec)`` of the scatter into a batch of arrays, or None (a loop)."""
    from ._batching import move_to_front
    from .shape import broadcast_to, reshape
    x, u, *arrays = vals
    dx, du, *darrs = dims
    basic = not arrays
    if not basic and not _advanced_prefix(spec):
        return None
    xshape = tuple(np.shape(x))
    if dx is not None:
        xshape = xshape[:dx] + xshape[dx + 1:]
    ashapes = [tuple(np.shape(a))[:d] + tuple(np.shape(a))[d + 1:] if d is not None else tuple(np.shape(a))
               for a, d in zip(arrays, darrs, strict=True)]
    target = _per_example_shape(xshape, ashapes, spec)
    if type(u) in (bool, int, float):  # a weak Python scalar takes x's dtype, as unbatched
        u = np.asarray(u, dtype_of(x))
    if du is None:
        u = broadcast_to(u, (size,) + tuple(target))
    else:
        u = move_to_front(u, du, size)
        ushape = tuple(np.shape(u))
        pad = len(target) - (len(ushape) - 1)
        u = reshape(u, ushape[:1] + (1,) * pad + ushape[1:]) if pad else u
    x = move_to_front(x, dx, size)
    if basic:
        return x, u, [], (("slice", None, None, None),) + tuple(spec)
    new_arrays, new_spec = _batched_index(size, arrays, darrs, spec)
    return x, u, new_arrays, new_spec


gather_p.batch = _gather_batch
scatter_p.batch = _batch_like_scatter(scatter_p)
extremal_weights_p.batch = _batch_like_scatter(extremal_weights_p)
