"""Convolution: the ``conv_general_dilated`` primitive, with ``jax.lax``'s semantics.

``conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
dimension_numbers, feature_group_count, batch_group_count)`` in canonical order (lhs
``N C S...``, rhs ``O I K...``, out ``N O S'...``) computes, for feature groups ``g``::

    out[n, g*Og+o, s'] = sum_{c, k} lhs_padded_dilated[n, g*Cg+c, s'*stride + k*rhs_dilation] * rhs[g*Og+o, c, k]

and with ``batch_group_count = B`` the batch is split ``(B, N/B)`` (group major) and
group ``b`` of the output features sees batch group ``b``.  The parameters are static
and canonical: ``dimension_numbers`` is three tuples of axis indices (as jax's
``ConvDimensionNumbers``), ``padding`` one ``(low, high)`` pair per spatial dimension
(negative crops).  ``funcgrad.lax.conv_general_dilated`` turns layout strings, ``"SAME"``
padding and ``None`` defaults into these (:func:`conv_params`).

Eagerly the input is dilated and padded once, its windows are a strided view
(``sliding_window_view``), and one copy of them (im2col) meets the kernel in one BLAS
call (``matmul``; a batched one over the groups).  The derivatives are convolutions
again (the transposes of jax's ``_conv_general_dilated_transpose_lhs/rhs``); vmap folds
the mapped axis into the batch or the feature groups.

dtypes: floating and integer inputs, as jax (integers accumulate in their own dtype,
as NumPy's and XLA's integer products do); mixed dtypes promote as NumPy does when
both are floats or both integers (jax requires equal dtypes); float16 is computed in
float32 and rounded once.  ``preferred_element_type`` is the output dtype (jax's rule:
not narrower than the inputs, integers may widen to floats).  ``precision`` only
reaches the XLA lowering.  bool, complex, and integer with float raise ``DTypeError``.
"""
import math

import numpy as np
import jax.lax as lax
import jax.numpy as jnp

from ..core.primitive import Primitive, defvjp_indexed
from ._util import aval, dtype_error, dtype_of, shape_any, shape_error, shape_of
from .elementwise import add, convert_element_type
from .indexing import gather
from .shape import reshape, transpose

OP = "conv_general_dilated"


# ----------------------------------------------------------------------------- shared window helpers
# (also used by the windowed reductions in ``windowed.py``)

def dilate_dim(d, r):
    """Size of ``d`` elements with ``r - 1`` holes between neighbours."""
    return 0 if d == 0 else 1 + r * (d - 1)


def padtype_to_pads(in_shape, window_shape, strides, padding):
    """``(low, high)`` pairs for ``"VALID"``, ``"SAME"`` or ``"SAME_LOWER"`` (as
    ``jax.lax.padtype_to_pads``): SAME gives ``ceil(in / stride)`` outputs, the odd
    pad going at the end (SAME) or the start (SAME_LOWER)."""
    kind = padding.upper()
    if kind == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"padding {padding!r}: use 'SAME', 'SAME_LOWER', 'VALID' or a sequence of "
                         "(low, high) pairs")
    pads = []
    for d, w, s in zip(in_shape, window_shape, strides, strict=True):
        out = -(-d // s)
        total = max((out - 1) * s + w - d, 0)
        small = total // 2
        pads.append((small, total - small) if kind == "SAME" else (total - small, small))
    return tuple(pads)


def pad_slices(shape, axes, pads, dilation):
    """Where the elements of an array of ``shape`` land once ``axes`` are dilated and
    padded (negative pads crop): ``(padded_shape, src, dst)`` with ``padded[dst] = x[src]``."""
    out = list(shape)
    src, dst = [slice(None)] * len(shape), [slice(None)] * len(shape)
    for ax, (lo, hi), r in zip(axes, pads, dilation, strict=True):
        n = shape[ax]
        size = lo + dilate_dim(n, r) + hi
        out[ax] = size
        i0 = 0 if lo >= 0 else (-lo + r - 1) // r           # first element at or after position 0
        i1 = min(n - 1, (size - 1 - lo) // r)                # last element before position `size`
        if i1 < i0:
            src[ax] = dst[ax] = slice(0, 0)
        else:
            src[ax] = slice(i0, i1 + 1)
            dst[ax] = slice(lo + i0 * r, lo + i1 * r + 1, r)
    return tuple(out), tuple(src), tuple(dst)


def pad_dilate(x, axes, pads, dilation, fill):
    """NumPy: ``x`` with ``dilation - 1`` fill values between neighbours and ``pads``
    fill values at the ends of ``axes`` (negative pads crop)."""
    if all(r == 1 for r in dilation) and all(lo == 0 and hi == 0 for lo, hi in pads):
        return x
    shape, src, dst = pad_slices(x.shape, axes, pads, dilation)
    out = np.full(shape, fill, x.dtype)
    out[dst] = x[src]
    return out


def windows(x, axes, window, strides, dilation):
    """A strided view of the windows of ``x``: ``axes`` become output positions and the
    window's own axes (``dilation`` apart) are appended at the end, in ``axes`` order."""
    if not axes:
        return x
    eff = tuple(dilate_dim(k, r) for k, r in zip(window, dilation, strict=True))
    v = np.lib.stride_tricks.sliding_window_view(x, eff, axis=axes)
    index = [slice(None)] * x.ndim + [slice(None, None, r) for r in dilation]
    for ax, s in zip(axes, strides, strict=True):
        index[ax] = slice(None, None, s)
    return v[tuple(index)]


def check_window_args(op, avals, n, window, strides, pads, base_dilation, window_dilation, what="spatial"):
    """Clear errors for window parameters of the wrong length or non-positive values."""
    for name, v in (("window_strides", strides), ("padding", pads), ("lhs_dilation" if what == "spatial"
                                                                       else "base_dilation", base_dilation),
                    ("rhs_dilation" if what == "spatial" else "window_dilation", window_dilation)):
        if len(v) != n:
            raise shape_error(op, avals, f"{name} has {len(v)} entries for {n} {what} dimensions",
                              f"give one {name} entry per {what} dimension")
    for name, v in (("window_strides", strides), ("dilation", base_dilation), ("dilation", window_dilation),
                    ("window size", window)):
        if any(int(s) < 1 for s in v):
            raise shape_error(op, avals, f"{name} {tuple(v)} has entries below 1", f"use {name}s of at least 1")


def window_out_shape(op, avals, in_shape, window, strides, pads, base_dilation, window_dilation, label):
    """Output sizes ``(padded - window) // stride + 1``; an error where the dilated window
    does not fit in the padded, dilated input (jax would give a size-0 output)."""
    out = []
    for i, (d, k, s, (lo, hi), bd, wd) in enumerate(zip(in_shape, window, strides, pads, base_dilation,
                                                         window_dilation, strict=True)):
        padded = dilate_dim(d, bd) + lo + hi
        eff = dilate_dim(k, wd)
        if padded < eff:
            raise shape_error(op, avals, f"the window ({eff} with dilation) is larger than the padded input "
                              f"({padded}) in {label} dimension {i}",
                              "pad more, use a smaller window or dilation, or a larger input")
        out.append((padded - eff) // s + 1)
    return tuple(out)


def lhs_vjp_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    """Padding of the cotangent for the transpose in the input (jax's
    ``_conv_general_vjp_lhs_padding``): full correlation with the flipped window."""
    pads = []
    for d, k, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding, lhs_dilation,
                                           rhs_dilation, strict=True):
        before = dilate_dim(k, rd) - lo - 1
        after = dilate_dim(d, ld) + dilate_dim(k, rd) - 1 - dilate_dim(o, s) - before
        pads.append((before, after))
    return tuple(pads)


def rhs_vjp_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    """Padding of the input for the transpose in the kernel (jax's ``_conv_general_vjp_rhs_padding``)."""
    pads = []
    for d, k, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding, lhs_dilation,
                                           rhs_dilation, strict=True):
        hi = dilate_dim(o, s) - dilate_dim(d, ld) + dilate_dim(k, rd) - lo - 1
        pads.append((lo, hi))
    return tuple(pads)


# ----------------------------------------------------------------------------- canonical parameters

def _spec_perms(op, specs, rank, avals):
    """Layout strings (``("NHWC", "HWIO", "NHWC")``) to axis permutations, as jax's
    ``conv_general_permutations``: spatial axes of lhs/out ordered as in the rhs string."""
    if len(specs) != 3 or not all(isinstance(s, str) for s in specs):
        raise shape_error(op, avals, f"dimension_numbers {specs!r} is not three layout strings",
                          "pass e.g. ('NCHW', 'OIHW', 'NCHW'), ('NHWC', 'HWIO', 'NHWC'), a ConvDimensionNumbers, "
                          "or None")
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for s, (a, b), what in zip(specs, pairs, ("lhs", "rhs", "out"), strict=True):
        if len(s) != rank:
            raise shape_error(op, avals, f"the {what} layout {s!r} has {len(s)} letters for arrays of rank {rank}",
                              "give one letter per dimension")
        if s.count(a) != 1 or s.count(b) != 1 or len(set(s)) != len(s):
            raise shape_error(op, avals, f"the {what} layout {s!r} needs '{a}' and '{b}' exactly once and no "
                              "repeated letters", f"write it like {'NCHW' if a == 'N' else 'OIHW'}")
    lhs_s, rhs_s, out_s = specs
    if not (set(lhs_s) - {"N", "C"} == set(rhs_s) - {"O", "I"} == set(out_s) - {"N", "C"}):
        raise shape_error(op, avals, f"the layouts {specs!r} do not name the same spatial dimensions",
                          "use the same spatial letters in all three strings")

    def perm(s, pair):
        spatial = [i for i, c in enumerate(s) if c not in pair]
        if s is not rhs_s:
            spatial.sort(key=lambda i: rhs_s.index(s[i]))
        return (s.index(pair[0]), s.index(pair[1])) + tuple(spatial)

    return tuple(perm(s, p) for s, p in zip(specs, pairs, strict=True))


def dimension_numbers_of(op, dimension_numbers, rank, avals=()):
    """Canonical dimension numbers: three tuples ``(batch, feature, spatial...)`` /
    ``(out feature, in feature, spatial...)`` / ``(batch, feature, spatial...)``."""
    dn = dimension_numbers
    if dn is None:
        iota = tuple(range(rank))
        return (iota, iota, iota)
    if hasattr(dn, "lhs_spec"):
        dn = (dn.lhs_spec, dn.rhs_spec, dn.out_spec)
    if isinstance(dn, (tuple, list)) and len(dn) == 3 and all(isinstance(s, str) for s in dn):
        return _spec_perms(op, tuple(dn), rank, avals)
    try:
        dn = tuple(tuple(int(i) for i in s) for s in dn)
    except (TypeError, ValueError):
        dn = None
    if dn is None or len(dn) != 3 or any(sorted(s) != list(range(rank)) for s in dn):
        raise shape_error(op, avals, f"dimension_numbers {dimension_numbers!r} is not a layout for arrays of "
                          f"rank {rank}", "pass three layout strings such as ('NHWC', 'HWIO', 'NHWC'), a "
                          "ConvDimensionNumbers (three permutations of the axes), or None for NCHW/OIHW/NCHW")
    return dn


def _ints(op, name, v, n, avals):
    if v is None:
        return (1,) * n
    if isinstance(v, int):
        return (int(v),) * n
    try:
        return tuple(int(i) for i in v)
    except (TypeError, ValueError):
        raise shape_error(op, avals, f"{name} {v!r} is not a sequence of integers",
                          f"pass {name} as a tuple of {n} integers") from None


def explicit_padding(op, padding, n, avals):
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise shape_error(op, avals, f"padding {padding!r} is not a string or a sequence of (low, high) pairs",
                          "pass 'SAME', 'SAME_LOWER', 'VALID' or one (low, high) pair per dimension") from None
    if len(pads) != n:
        raise shape_error(op, avals, f"padding has {len(pads)} pairs for {n} dimensions",
                          "give one (low, high) pair per dimension")
    return pads


def _canonical_precision(p):
    if p is None or isinstance(p, str):
        return p
    if isinstance(p, (tuple, list)):
        return tuple(_canonical_precision(q) for q in p)
    return p  # a jax.lax.Precision member: hashable, only the lowering reads it


def conv_params(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                preferred_element_type=None):
    """The static parameters of one ``conv_general_dilated`` (see the module docstring)."""
    from ..core.avals import get_aval
    ls, rs = shape_any(lhs), shape_any(rhs)
    avals = [get_aval(lhs), get_aval(rhs)]
    if len(ls) != len(rs) or len(ls) < 2:
        raise shape_error(OP, avals, f"lhs and rhs must have the same rank, at least 2 (batch and feature), "
                          f"got ranks {len(ls)} and {len(rs)}",
                          "pass an input (N, C, spatial...) and a kernel (O, I, spatial...) of the same rank, "
                          "in the layout that dimension_numbers names")
    n = len(ls) - 2
    dn = dimension_numbers_of(OP, dimension_numbers, len(ls), avals)
    strides = _ints(OP, "window_strides", window_strides, n, avals)
    ld = _ints(OP, "lhs_dilation", lhs_dilation, n, avals)
    rd = _ints(OP, "rhs_dilation", rhs_dilation, n, avals)
    if isinstance(padding, str):
        if any(d != 1 for d in ld):
            raise shape_error(OP, avals, f"string padding {padding!r} with lhs_dilation {ld} (a transposed "
                              "convolution) is not defined, as in jax", "give the padding as (low, high) pairs")
        if len(strides) != n or len(rd) != n:
            raise shape_error(OP, avals, f"window_strides {strides} / rhs_dilation {rd} need {n} entries",
                              "give one entry per spatial dimension")
        in_sp = [ls[i] for i in dn[0][2:]]
        k_sp = [dilate_dim(rs[i], r) for i, r in zip(dn[1][2:], rd, strict=True)]
        try:
            pads = padtype_to_pads(in_sp, k_sp, strides, padding)
        except ValueError as e:
            raise shape_error(OP, avals, str(e), "use 'SAME', 'SAME_LOWER' or 'VALID'") from None
    else:
        pads = explicit_padding(OP, padding, n, avals)
    pref = None if preferred_element_type is None else np.dtype(preferred_element_type)
    return dict(window_strides=strides, padding=pads, lhs_dilation=ld, rhs_dilation=rd, dimension_numbers=dn,
                feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
                precision=_canonical_precision(precision), preferred_element_type=pref)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                         preferred_element_type=None):
    """Bind ``conv_general_dilated`` after canonicalising its arguments (jax.lax's signature)."""
    from ..core.avals import get_aval
    params = conv_params(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                         feature_group_count, batch_group_count, precision, preferred_element_type)
    _conv_shape(get_aval(lhs), get_aval(rhs), **params)  # the shape rule's errors eagerly too
    return conv_p.bind(lhs, rhs, **params)


# ----------------------------------------------------------------------------- the primitive

conv_p = Primitive("conv_general_dilated")


def _result_dtype(op, lhs, rhs, preferred):
    """The output dtype (inputs as avals), or a DTypeError."""
    kinds = {lhs.dtype.kind, rhs.dtype.kind}
    if not kinds <= set("fiu") or "f" in kinds and len(kinds) > 1:
        raise dtype_error(op, [lhs, rhs], "needs two floating-point or two integer operands",
                          "convert with .astype(...) (for example both to float32)")
    dt = np.result_type(lhs.dtype, rhs.dtype)
    if preferred is None:
        return dt
    pref = np.dtype(preferred)
    ok = pref.kind in ("f" if dt.kind == "f" else ("if" if dt.kind == "i" else "uif")) \
        and pref.itemsize >= dt.itemsize
    if not ok:
        raise dtype_error(op, [lhs, rhs], f"preferred_element_type {pref.name} is narrower than or incompatible "
                          f"with the inputs' {dt.name}", "ask for a dtype at least as wide, of the same kind "
                          "(integers may widen to floats; signed integers stay signed)")
    return pref


def _compute_dtype(dt):
    return np.dtype(np.float32) if dt.kind == "f" and dt.itemsize < 4 else dt


def _conv_impl(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
               feature_group_count, batch_group_count, precision, preferred_element_type):
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    out_dt = np.result_type(lhs.dtype, rhs.dtype) if preferred_element_type is None else preferred_element_type
    cdt = _compute_dtype(np.dtype(out_dt))
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    n = len(lhs_spec) - 2
    # dilate and pad in the caller's layout (memory order kept), then view in canonical order
    x = pad_dilate(lhs.astype(cdt, copy=False), lhs_spec[2:], padding, lhs_dilation, 0).transpose(lhs_spec)
    w = rhs.astype(cdt, copy=False).transpose(rhs_spec)                    # (O, I, K...)
    ksp = w.shape[2:]
    p = windows(x, tuple(range(2, 2 + n)), ksp, window_strides, rhs_dilation)  # (N, C, S'..., K...)
    N, C = x.shape[:2]
    osp = p.shape[2:2 + n]
    O, I = w.shape[:2]
    G, B = feature_group_count, batch_group_count
    H = G * B                                                              # at most one of them is > 1
    sp, win = tuple(range(3, 3 + n)), tuple(range(3 + n, 3 + 2 * n))
    if B > 1:   # (B, N/B, C, S', K) -> (B, N/B, S', K, C)
        p = p.reshape((B, N // B) + p.shape[1:]).transpose((0, 1) + sp + win + (2,))
        nb, cg = N // B, C
    else:       # (N, G, C/G, S', K) -> (G, N, S', K, C/G)
        p = p.reshape((N, G, C // G) + p.shape[2:]).transpose((1, 0) + sp + win + (2,))
        nb, cg = N, C // G
    kk = math.prod(ksp)
    pm = p.reshape(H, nb * math.prod(osp), kk * cg)                       # the one copy of the windows
    wm = w.reshape((H, O // H, I) + ksp).transpose((0,) + tuple(range(3, 3 + n)) + (2, 1)).reshape(H, kk * I, O // H)
    r = np.matmul(pm[0], wm[0])[None] if H == 1 else np.matmul(pm, wm)    # (H, nb*S', O/H)
    r = r.reshape((H, nb) + osp + (O // H,))
    order, shape = [], []
    for pos in range(n + 2):   # r's axes: 0 group, 1 batch, 2.. spatial, n+2 feature within group
        c = out_spec.index(pos)
        order += [1] if c == 0 else ([0, n + 2] if c == 1 else [c])
        shape.append(nb if c == 0 else (O if c == 1 else osp[c - 2]))
    return r.transpose(order).reshape(shape).astype(out_dt, copy=False)


def _conv_shape(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                feature_group_count, batch_group_count, precision, preferred_element_type):
    avals = [lhs, rhs]
    if lhs.ndim != rhs.ndim:
        raise shape_error(OP, avals, f"lhs and rhs must have the same rank, got {lhs.ndim} and {rhs.ndim}",
                          "pass an input (N, C, spatial...) and a kernel (O, I, spatial...) of the same rank")
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    n = lhs.ndim - 2
    if len(lhs_spec) != lhs.ndim:
        raise shape_error(OP, avals, f"dimension_numbers describe rank {len(lhs_spec)} arrays",
                          "give a layout of the operands' rank")
    ksp = tuple(rhs.shape[i] for i in rhs_spec[2:])
    check_window_args(OP, avals, n, ksp, window_strides, padding, lhs_dilation, rhs_dilation)
    G, B = feature_group_count, batch_group_count
    N, C = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    O, I = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    if G < 1 or B < 1:
        raise shape_error(OP, avals, f"feature_group_count {G} / batch_group_count {B} must be positive",
                          "use group counts of at least 1")
    if G > 1 and B > 1:
        raise shape_error(OP, avals, "feature_group_count and batch_group_count are both above 1",
                          "use at most one kind of grouping per convolution")
    if C % G:
        raise shape_error(OP, avals, f"feature_group_count {G} does not divide the {C} input features",
                          "use a group count that divides the input feature dimension")
    if C // G != I:
        raise shape_error(OP, avals, f"the input has {C} features ({C // G} per group of {G}) but the kernel's "
                          f"input feature dimension is {I}",
                          "make the kernel's I dimension equal input features // feature_group_count "
                          "(check the layout in dimension_numbers)")
    for count, what in ((G, "feature_group_count"), (B, "batch_group_count")):
        if O % count:
            raise shape_error(OP, avals, f"{what} {count} does not divide the kernel's {O} output features",
                              f"use a kernel whose O dimension is a multiple of {what}")
    if N % B:
        raise shape_error(OP, avals, f"batch_group_count {B} does not divide the batch of {N}",
                          "use a batch size divisible by batch_group_count")
    isp = tuple(lhs.shape[i] for i in lhs_spec[2:])
    if any(k < 1 for k in ksp):
        raise shape_error(OP, avals, f"the kernel's spatial size {ksp} is empty", "use a kernel of size >= 1")
    osp = window_out_shape(OP, avals, isp, ksp, window_strides, padding, lhs_dilation, rhs_dilation, "spatial")
    canon = (N // B, O) + osp
    shape = [0] * lhs.ndim
    for c, pos in enumerate(out_spec):
        shape[pos] = canon[c]
    return aval(tuple(shape), _result_dtype(OP, lhs, rhs, preferred_element_type))


def _conv_lower(ctx, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                feature_group_count, batch_group_count, precision, preferred_element_type):
    dt = np.result_type(*[a.dtype for a in ctx.avals_in])
    return lax.conv_general_dilated(
        jnp.asarray(lhs, dt), jnp.asarray(rhs, dt), window_strides, padding, lhs_dilation, rhs_dilation,
        lax.ConvDimensionNumbers(*dimension_numbers), feature_group_count, batch_group_count,
        precision=precision, preferred_element_type=preferred_element_type)


conv_p.impl = _conv_impl
conv_p.shape = _conv_shape
conv_p.lower = _conv_lower


# ----------------------------------------------------------------------------- derivatives

def _reshape_axis_into(src, dst, x):
    """Merge axis ``src`` into axis ``dst`` (indexed without ``src``) as its major part."""
    shape = shape_of(x)
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    new = [shape[i] for i in range(len(shape)) if i != src]
    new[dst] *= shape[src]
    if perm != list(range(len(shape))):
        x = transpose(x, tuple(perm))
    return reshape(x, new)


def _reshape_axis_out_of(src, size1, x):
    """Split axis ``src`` into ``(size1, rest)``."""
    shape = list(shape_of(x))
    shape[src:src + 1] = [size1, shape[src] // size1]
    return reshape(x, shape)


def _flip(x, axes):
    spec = [("slice", None, None, -1 if i in axes else None) for i in range(len(shape_of(x)))]
    return gather(x, (), spec)


def _conv_jvp(primals, tangents, **params):
    lhs, rhs = primals
    tl, tr = tangents
    ans = conv_p.bind(lhs, rhs, **params)
    t = None if tl is None else conv_p.bind(tl, rhs, **params)
    if tr is not None:
        t2 = conv_p.bind(lhs, tr, **params)
        t = t2 if t is None else add(t, t2)
    return ans, None if t is None else convert_element_type(t, dtype_of(ans))


def _sp(shape, spec):
    return tuple(shape[i] for i in spec[2:])


def _conv_vjp(i, g, ans, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
              feature_group_count, batch_group_count, precision, preferred_element_type):
    """Cotangents: the transposes of the linear maps ``lhs -> conv(lhs, rhs)`` and
    ``rhs -> conv(lhs, rhs)``, themselves convolutions.

    Ignoring space, the forward contraction is ``[m, j] [j, k] -> [m, k]``; the input
    transpose is ``[m, k] [k, j] -> [m, j]`` (the cotangent against the spatially
    flipped kernel, input/output features swapped, strides turned into lhs dilation),
    and the kernel transpose is ``[j, m] [m, k] -> [j, k]`` (the input against the
    cotangent as the kernel, strides turned into rhs dilation).  Feature groups of the
    forward pass become batch groups of the kernel transpose and vice versa."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    G, B = feature_group_count, batch_group_count
    ls, rs, gs = shape_of(lhs), shape_of(rhs), shape_of(g)
    if i == 0:
        w = rhs
        groups = G
        if G > 1 or B > 1:  # move the group out of the kernel's output features into its input features
            groups = max(G, B)
            w = _reshape_axis_into(rhs_spec[0], rhs_spec[1], _reshape_axis_out_of(rhs_spec[0], groups, w))
        pads = lhs_vjp_padding(_sp(ls, lhs_spec), _sp(rs, rhs_spec), window_strides, _sp(gs, out_spec), padding,
                               lhs_dilation, rhs_dilation)
        out = conv_p.bind(g, _flip(w, rhs_spec[2:]), window_strides=lhs_dilation, padding=pads,
                          lhs_dilation=window_strides, rhs_dilation=rhs_dilation,
                          dimension_numbers=(out_spec, (rhs_spec[1], rhs_spec[0]) + rhs_spec[2:], lhs_spec),
                          feature_group_count=groups, batch_group_count=1, precision=precision,
                          preferred_element_type=None)
        if B > 1:
            out = _reshape_axis_into(lhs_spec[1], lhs_spec[0], _reshape_axis_out_of(lhs_spec[1], B, out))
        return convert_element_type(out, dtype_of(lhs))
    if 0 in gs:
        return np.zeros(rs, dtype_of(rhs))
    fg, bg = (B, 1) if B > 1 else ((1, G) if G > 1 else (1, 1))
    t = lambda s: (s[1], s[0]) + s[2:]  # noqa: E731
    pads = rhs_vjp_padding(_sp(ls, lhs_spec), _sp(rs, rhs_spec), window_strides, _sp(gs, out_spec), padding,
                           lhs_dilation, rhs_dilation)
    out = conv_p.bind(lhs, g, window_strides=rhs_dilation, padding=pads, lhs_dilation=lhs_dilation,
                      rhs_dilation=window_strides, dimension_numbers=(t(lhs_spec), t(out_spec), t(rhs_spec)),
                      feature_group_count=fg, batch_group_count=bg, precision=precision,
                      preferred_element_type=None)
    return convert_element_type(out, dtype_of(rhs))


conv_p.jvp = _conv_jvp
defvjp_indexed(conv_p, _conv_vjp)
conv_p.residuals = ("inputs",)  # each cotangent reads the other operand; never the output


# ----------------------------------------------------------------------------- vmap

def _conv_batch(size, vals, dims, **params):
    """Fold the mapped axis into the convolution (jax's ``_conv_general_dilated_batch_rule``):
    a mapped input joins the batch, a mapped kernel the output features, and both
    together become ``size`` times as many feature (or batch) groups."""
    lhs, rhs = vals
    lb, rb = dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    G, B = params["feature_group_count"], params["batch_group_count"]
    bind = lambda x, w, **kw: conv_p.bind(x, w, **{**params, **kw})  # noqa: E731
    if lb is not None and rb is not None:
        if B > 1:
            new_lhs, kw = _reshape_axis_into(lb, lhs_spec[0], lhs), dict(batch_group_count=B * size)
        else:
            new_lhs, kw = _reshape_axis_into(lb, lhs_spec[1], lhs), dict(feature_group_count=G * size)
        out = bind(new_lhs, _reshape_axis_into(rb, rhs_spec[0], rhs), **kw)
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    if lb is not None:
        if B == 1:
            out = bind(_reshape_axis_into(lb, lhs_spec[0], lhs), rhs)
        else:  # keep the batch groups outermost: (B, size, N/B)
            n0 = lhs_spec[0]
            x = _reshape_axis_out_of(n0 + int(lb <= n0), B, lhs)
            x = _reshape_axis_into(lb + int(n0 < lb), n0 + 1, x)
            out = bind(_reshape_axis_into(n0, n0, x), rhs)
        return _reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
    if G == 1 and B == 1:
        out = bind(lhs, _reshape_axis_into(rb, rhs_spec[0], rhs))
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    groups, o0 = max(G, B), rhs_spec[0]   # groups outermost in the kernel's output features: (groups, size, O/groups)
    w = _reshape_axis_out_of(o0 + int(rb <= o0), groups, rhs)
    w = _reshape_axis_into(rb + int(o0 < rb), o0 + 1, w)
    out = bind(lhs, _reshape_axis_into(o0, o0, w))
    f = out_spec[1]
    out = _reshape_axis_out_of(f + 1, size, _reshape_axis_out_of(f, groups, out))
    return _reshape_axis_into(f, f + 1, out), f


conv_p.batch = _conv_batch
