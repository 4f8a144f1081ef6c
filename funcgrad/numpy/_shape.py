"""Shape manipulation, joining, splitting, padding, sorting: compositions of
``reshape``, ``broadcast_in_dim``, ``transpose``, ``concatenate``, ``gather`` and
``scatter``."""
import builtins

import numpy as np

from ..core.avals import get_aval
from ..core.trace import Tracer
from ..errors import ConcretizationError, user_location
from ..primitives import elementwise as E
from ..primitives import shape as S
from ..primitives import sorting as SO
from ..primitives._util import normalize_axes, shape_error
from ..primitives.indexing import gather, scatter
from ._array import asarray


def _nd(x):
    return len(np.shape(x))


def _ax(op, axis, nd):
    return normalize_axes(op, (axis,), nd)[0]


def reshape(a, newshape=None, order="C", *, shape=None):
    newshape = shape if newshape is None else newshape
    if type(a) is np.ndarray and type(newshape) is tuple and order == "C" and a.dtype.kind in "biuf":
        try:  # an eager NumPy array: a view, as the primitive's NumPy rule makes it
            return a.reshape(newshape)
        except (ValueError, TypeError):
            pass  # the general path explains the error
    if not isinstance(newshape, (tuple, list)):
        newshape = (newshape,) if np.ndim(newshape) == 0 else tuple(newshape)
    if order != "C":
        raise NotImplementedError("funcgrad.numpy.reshape supports order='C' only")
    return S.reshape(asarray(a) if isinstance(a, (list, tuple)) else a, tuple(newshape))


def ravel(a):
    return reshape(a, (-1,))


def transpose(a, axes=None):
    nd = _nd(a)
    if axes is None:
        axes = tuple(reversed(range(nd)))
    return S.transpose(a, normalize_axes("transpose", axes, nd))


def matrix_transpose(a):
    nd = _nd(a)
    return S.transpose(a, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def swapaxes(a, axis1, axis2):
    nd = _nd(a)
    perm = list(range(nd))
    i, j = _ax("swapaxes", axis1, nd), _ax("swapaxes", axis2, nd)
    perm[i], perm[j] = perm[j], perm[i]
    return S.transpose(a, perm)


def moveaxis(a, source, destination):
    nd = _nd(a)
    src = normalize_axes("moveaxis", source if isinstance(source, (tuple, list)) else (source,), nd)
    dst = normalize_axes("moveaxis", destination if isinstance(destination, (tuple, list)) else (destination,), nd)
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return S.transpose(a, order)


def expand_dims(a, axis):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    shape = list(np.shape(a))
    out_nd = len(shape) + len(axes)
    for ax in sorted(normalize_axes("expand_dims", axes, out_nd)):
        shape.insert(ax, 1)
    return S.reshape(a, tuple(shape))


def squeeze(a, axis=None):
    shape = np.shape(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", axis if isinstance(axis, (tuple, list)) else (axis,), len(shape))
        for i in axes:
            if shape[i] != 1:
                raise shape_error("squeeze", [get_aval(a)], f"cannot squeeze axis {i} of size {shape[i]}",
                                  "squeeze only axes of size 1")
    return S.reshape(a, tuple(d for i, d in enumerate(shape) if i not in axes))


def broadcast_to(array, shape):
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(shape)
    try:
        np.broadcast_shapes(np.shape(array), shape)
    except ValueError:
        raise shape_error("broadcast_to", [get_aval(array)], f"cannot broadcast to shape {shape}",
                          "use a target shape that the array's shape broadcasts to") from None
    return S.broadcast_to(array, shape)


def broadcast_shapes(*shapes):
    return np.broadcast_shapes(*shapes)


def broadcast_arrays(*args):
    shape = np.broadcast_shapes(*[np.shape(a) for a in args])
    return tuple(S.broadcast_to(a, shape) for a in args)  # a tuple, as NumPy 2


def atleast_1d(*arys):
    res = tuple(reshape(a, (1,)) if _nd(a) == 0 else a for a in arys)
    return res[0] if len(res) == 1 else res  # several inputs: a tuple, as NumPy 2


def atleast_2d(*arys):
    res = []
    for a in arys:
        nd = _nd(a)
        res.append(reshape(a, (1, 1)) if nd == 0 else reshape(a, (1,) + tuple(np.shape(a))) if nd == 1 else a)
    return res[0] if len(res) == 1 else tuple(res)


def atleast_3d(*arys):
    res = []
    for a in arys:
        s = tuple(np.shape(a))
        res.append(reshape(a, {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s)))
    return res[0] if len(res) == 1 else tuple(res)


def concatenate(arrays, axis=0, dtype=None):
    arrays = [asarray(a) if isinstance(a, (list, tuple)) else a for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    out = S.concatenate(arrays, axis)
    return out if dtype is None else E.convert_element_type(out, dtype)


def stack(arrays, axis=0):
    arrays = list(arrays)
    shapes = {tuple(np.shape(a)) for a in arrays}
    if len(shapes) != 1:
        raise shape_error("stack", [get_aval(a) for a in arrays], "all input arrays must have the same shape",
                          "make the shapes equal before stacking")
    nd = _nd(arrays[0]) + 1
    ax = _ax("stack", axis, nd)
    return S.concatenate([expand_dims(a, ax) for a in arrays], ax)


def vstack(tup):
    return concatenate([atleast_2d(a) for a in tup], 0)


row_stack = vstack


def hstack(tup):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, 0 if _nd(arrs[0]) == 1 else 1)


def dstack(tup):
    return concatenate([atleast_3d(a) for a in tup], 2)


def column_stack(tup):
    return concatenate([reshape(a, (-1, 1)) if _nd(a) < 2 else a for a in tup], 1)  # 0-d: (1, 1)


def _weak_joined(parts):
    """``parts`` with each weak value (a Python scalar) in the dtype of the join, so that
    a scalar joined to an array is weakly typed, eagerly and traced alike."""
    from ._array import result_dtype
    if not builtins.any(get_aval(p).weak_type for p in parts):
        return parts
    dt = result_dtype(*parts)
    return [(E.convert_p.bind(p, dtype=dt) if isinstance(p, Tracer) else np.asarray(p, dt))
            if get_aval(p).weak_type else p for p in parts]


def append(arr, values, axis=None):
    """``arr`` with ``values`` joined at the end of ``axis`` (``None``: both flattened)."""
    arr, values = _weak_joined([asarray(v) if isinstance(v, (list, tuple)) else v for v in (arr, values)])
    if axis is None:
        arr = arr if _nd(arr) == 1 else ravel(arr)
        return concatenate([arr, ravel(values)], _nd(arr) - 1)
    return concatenate([arr, values], axis)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-d coordinate vectors (``xy``: Cartesian, the first two
    axes swapped; ``ij``: matrix indexing).  A tuple, as NumPy 2 (a list when
    ``sparse=True, copy=False``, as NumPy)."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    nd = len(xi)
    s0 = (1,) * nd
    out = [reshape(x, s0[:i] + (-1,) + s0[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and nd > 1:
        out[0] = reshape(out[0], (1, -1) + s0[2:])
        out[1] = reshape(out[1], (-1, 1) + s0[2:])
    if not sparse:
        out = broadcast_arrays(*out)
    return tuple(out) if copy else out


def _slice(x, axis, start, stop, step=None):
    from ..primitives.indexing import slice_axis
    return slice_axis(x, axis, start, stop, step)


def split(ary, indices_or_sections, axis=0):
    n = np.shape(ary)[_ax("split", axis, _nd(ary))]
    ax = _ax("split", axis, _nd(ary))
    if np.ndim(indices_or_sections) == 0:
        k = int(indices_or_sections)
        if n % k:
            raise shape_error("split", [get_aval(ary)], f"array split does not result in an equal division "
                              f"({n} into {k})", "use array_split, or a number of sections that divides the axis")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return [_slice(ary, ax, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def array_split(ary, indices_or_sections, axis=0):
    ax = _ax("array_split", axis, _nd(ary))
    n = np.shape(ary)[ax]
    if np.ndim(indices_or_sections) == 0:
        k = int(indices_or_sections)
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        return [_slice(ary, ax, bounds[i], bounds[i + 1]) for i in range(k)]
    return split(ary, indices_or_sections, axis)


def tile(A, reps):
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(reps)
    shape = tuple(np.shape(A))
    nd = builtins.max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    a = reshape(A, shape)
    # (r0, s0, r1, s1, ...) broadcast, then merge pairs
    inter = []
    for r, s in zip(reps, shape, strict=True):
        inter += [r, s]
    dims = tuple(2 * i + 1 for i in range(nd))
    b = S.broadcast_in_dim(a, tuple(inter), dims)
    return reshape(b, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def repeat(a, repeats, axis=None):
    if axis is None:
        a, axis = ravel(a), 0
    ax = _ax("repeat", axis, _nd(a))
    if isinstance(repeats, Tracer):
        repeats = repeats._concrete("repeat's repeats")
    n = np.shape(a)[ax]
    if np.ndim(repeats) == 0:
        idx = np.repeat(np.arange(n), int(repeats))
    else:
        idx = np.repeat(np.arange(n), np.asarray(repeats))
    return take(a, idx, axis=ax)


def take(a, indices, axis=None):
    if axis is None:
        a, axis = ravel(a), 0
    ax = _ax("take", axis, _nd(a))
    spec = [("slice", None, None, None)] * ax + [("array", 0)]
    return gather(a, [asarray(indices) if isinstance(indices, (list, tuple)) else indices], spec)


def take_along_axis(arr, indices, axis):
    if axis is None:
        arr, axis = ravel(arr), 0
    ax = _ax("take_along_axis", axis, _nd(arr))
    return SO.take_along_axis(arr, indices, ax)


def pad(array, pad_width, mode="constant", constant_values=0):
    nd = _nd(array)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.asarray([[pad_width, pad_width]]), (nd, 2)).tolist()
    if mode == "constant":
        from ._creation import full
        shape = tuple(d + lo + hi for d, (lo, hi) in zip(np.shape(array), pw, strict=True))
        out = full(shape, constant_values, get_aval(array).dtype)
        spec = [("slice", lo, lo + d, None) for d, (lo, _) in zip(np.shape(array), pw, strict=True)]
        return scatter(out, array, (), spec, "set")
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad mode {mode!r}: funcgrad supports constant, edge, reflect, symmetric, wrap")
    out = array
    for ax, (lo, hi) in enumerate(pw):
        if lo or hi:
            idx = np.pad(np.arange(np.shape(out)[ax]), (lo, hi), mode=mode)
            out = take(out, idx, axis=ax)
    return out


def flip(m, axis=None):
    nd = _nd(m)
    axes = range(nd) if axis is None else normalize_axes("flip", axis if isinstance(axis, (tuple, list))
                                                          else (axis,), nd)
    spec = [("slice", None, None, -1 if i in axes else None) for i in range(nd)]
    return gather(m, (), spec)


def fliplr(m):
    if _nd(m) < 2:
        raise shape_error("fliplr", [get_aval(m)], "input must be >= 2-d", "use flip for 1-d arrays")
    return flip(m, 1)


def flipud(m):
    if _nd(m) < 1:
        raise shape_error("flipud", [get_aval(m)], "input must be >= 1-d", "pass an array with an axis to flip")
    return flip(m, 0)


def rot90(m, k=1, axes=(0, 1)):
    """``m`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (from the first
    axis towards the second)."""
    axes = tuple(axes)
    nd = _nd(m)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    if axes[0] == axes[1] or builtins.abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    if not all(-nd <= a < nd for a in axes):
        raise ValueError(f"Axes={axes} out of range for array of ndim={nd}.")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    perm = list(range(nd))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return transpose(flip(m, axes[1]), perm)
    return flip(transpose(m, perm), axes[1])


def roll(a, shift, axis=None):
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), np.shape(a))
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = a
    for s, ax in zip(shifts, axes, strict=True):
        ax = _ax("roll", ax, _nd(a))
        n = np.shape(a)[ax]
        out = take(out, (np.arange(n) - int(s)) % n, axis=ax)
    return out


_NO_VALUE = object()


def diff(a, n=1, axis=-1, prepend=_NO_VALUE, append=_NO_VALUE):
    """The ``n``-th discrete difference ``a[1:] - a[:-1]`` along ``axis`` (booleans:
    ``!=``), after joining ``prepend`` / ``append`` (scalars broadcast to one slice)."""
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    nd = _nd(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    ax = _ax("diff", axis, nd)
    one = tuple(1 if i == ax else d for i, d in enumerate(np.shape(a)))  # a scalar becomes one slice
    parts = [asarray(p) if isinstance(p, (list, tuple)) else p for p in (prepend, a, append) if p is not _NO_VALUE]
    if len(parts) > 1:
        parts = [S.broadcast_to(p, one) if _nd(p) == 0 else p for p in _weak_joined(parts)]
        a = concatenate(parts, ax)
    op = E.ne if get_aval(a).dtype == np.bool_ else E.sub
    for _ in range(n):
        a = op(_slice(a, ax, 1, None), _slice(a, ax, None, -1))
    return a


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of vectors along ``axisa`` of ``a`` and ``axisb`` of ``b``
    (broadcasting over the other axes), on ``axisc`` of the result.  Vectors of length 3;
    length 2 (deprecated in NumPy 2) stands for a zero third component, and two of them
    give the scalar z component."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = asarray(a) if isinstance(a, (list, tuple)) else a
    b = asarray(b) if isinstance(b, (list, tuple)) else b
    if _nd(a) < 1 or _nd(b) < 1:
        raise ValueError("At least one array has zero dimension")
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    na, nb = np.shape(a)[-1], np.shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    from ._array import result_dtype
    dt = result_dtype(a, b)
    a, b = E.convert_element_type(a, dt), E.convert_element_type(b, dt)

    def comps(x, n):
        lead = tuple(np.shape(x)[:-1])
        return [reshape(_slice(x, _nd(x) - 1, i, i + 1), lead) for i in range(n)]

    mul, sub = E.mul, E.sub
    (a0, a1, *a2), (b0, b1, *b2) = comps(a, na), comps(b, nb)
    z = sub(mul(a0, b1), mul(a1, b0))
    if na == 2 and nb == 2:
        return z
    if na == 2:
        cp = [mul(a1, b2[0]), E.neg(mul(a0, b2[0])), z]
    elif nb == 2:
        cp = [E.neg(mul(a2[0], b1)), mul(a2[0], b0), z]
    else:
        cp = [sub(mul(a1, b2[0]), mul(a2[0], b1)), sub(mul(a2[0], b0), mul(a0, b2[0])), z]
    return stack(cp, _ax("cross", axisc, _nd(z) + 1))


def _tri_mask(shape, k, upper):
    n, m = shape[-2], shape[-1]
    lower = np.tri(n, m, k - 1 if upper else k, dtype=bool)
    return ~lower if upper else lower


def triu(m, k=0):
    return E.select(_tri_mask(np.shape(m), k, True), m, np.zeros((), get_aval(m).dtype))


def tril(m, k=0):
    return E.select(_tri_mask(np.shape(m), k, False), m, np.zeros((), get_aval(m).dtype))


def diagonal(a, offset=0, axis1=0, axis2=1):
    nd = _nd(a)
    a1, a2 = _ax("diagonal", axis1, nd), _ax("diagonal", axis2, nd)
    rest = [i for i in range(nd) if i not in (a1, a2)]
    x = S.transpose(a, rest + [a1, a2])
    n, m = np.shape(x)[-2], np.shape(x)[-1]
    rows = np.arange(builtins.max(0, -offset), n)
    cols = rows + offset
    keep = (cols >= 0) & (cols < m)
    rows, cols = rows[keep], cols[keep]
    return gather(x, [rows, cols], [("ellipsis",), ("array", 0), ("array", 1)])


def diag(v, k=0):
    nd = _nd(v)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise shape_error("diag", [get_aval(v)], "input must be 1-d or 2-d", "pass a vector or a matrix")
    n = np.shape(v)[0] + builtins.abs(k)
    rows = np.arange(np.shape(v)[0]) + builtins.max(0, -k)
    zeros = np.zeros((n, n), get_aval(v).dtype)
    return scatter(zeros, v, [rows, rows + k], [("array", 0), ("array", 1)], "set")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    from ._reductions import sum as sum_
    return sum_(diagonal(a, offset, axis1, axis2), -1, dtype=dtype)


def sort(a, axis=-1):
    if axis is None:
        a, axis = ravel(a), 0
    return SO.sort(a, _ax("sort", axis, _nd(a)))


def argsort(a, axis=-1):
    if axis is None:
        a, axis = ravel(a), 0
    return SO.argsort(a, _ax("argsort", axis, _nd(a)))


def nonzero(a):
    if isinstance(a, Tracer):
        try:
            a = a._concrete("nonzero")
        except ConcretizationError:
            raise ConcretizationError(
                f"nonzero / where(cond) / boolean-mask indexing gives a result whose shape depends on the "
                f"values, which is unknown while tracing (at {user_location()}).\nFix: use "
                "funcgrad.numpy.where(cond, x, y) with three arguments, or multiply by the mask.") from None
    return tuple(np.nonzero(np.asarray(a)))


def shape(a):
    return tuple(np.shape(a))


def ndim(a):
    return len(np.shape(a))


def size(a, axis=None):
    s = np.shape(a)
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]
