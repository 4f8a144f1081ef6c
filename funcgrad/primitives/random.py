"""Random-number primitives: the Threefry-2x32 hash, the hash of a block of counters,
and the arithmetic the samplers in ``funcgrad.random`` need to reproduce XLA's numbers
(normals also use ``erf_inv`` of ``special.py``, which evaluates it as XLA does).

``threefry2x32(k1, k2, x1, x2) -> (y1, y2)``
    The Threefry-2x32 block cipher (Salmon et al., "Parallel random numbers: as easy as
    1, 2, 3", SC 2011; 20 rounds): key words ``k1, k2`` encrypt the counter words
    ``x1, x2``.  Elementwise with NumPy broadcasting; the basis of ``split`` and
    ``fold_in``.
``random_bits(k1, k2, shape=, bit_width=)``
    The hash of the counters ``0 .. prod(shape) - 1`` (laid out in ``shape``; the high
    counter word is 0, the low one the flat index) under each key, its two output words
    combined as jax combines them (xor for 8/16/32 bits, ``y1 << 32 | y2`` for 64).
    A primitive of its own so that a sampler's counters never become a constant of
    the program under ``jit`` and the eager hash can combine the words as it goes.
``fma(x, y, z)``
    ``x * y + z`` rounded once, as XLA computes the multiply-add that scales uniform
    numbers to ``[minval, maxval)`` (it fuses the two); eagerly emulated exactly.
``nextafter(x, y)``
    The next representable float after ``x`` towards ``y``; no derivative (the
    samplers apply it to bounds under ``stop_gradient``).

Eagerly, the hash runs as vectorised NumPy ``uint32`` arithmetic, in place, over
cache-sized blocks (each pass over a block stays in the CPU's cache: about twice as
fast as whole-array passes); under ``jit`` it lowers to jax's own
``threefry2x32`` primitive, so the numbers are jax's, bit for bit.
"""
import math

import numpy as np
import jax.lax as lax
import jax.numpy as jnp

from ..core.primitive import Primitive, defvjp, defvjp_indexed
from ._util import aval, dtype_error, shape_error
from .elementwise import add, broadcast_shapes, broadcast_to_shape, mul, unbroadcast

_U32 = np.dtype(np.uint32)
_PARITY = 0x1BD11BDA               # Threefry's key-schedule constant
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_BLOCK = 65536                     # elements per eager block (3 uint32 buffers: 768 KiB)


# ----------------------------------------------------------------------------- the hash in NumPy

def _rounds(x0, x1, ks, tmp, keyed=False):
    """Threefry-2x32, 20 rounds, in place on the uint32 blocks ``x0, x1`` (the counter
    words, which become the output words); ``ks`` is the key schedule (three uint32
    scalars or blocks), ``tmp`` a scratch block.  ``keyed``: the first key injection
    (``x0 + k1, x1 + k2``) is already in the blocks."""
    if not keyed:
        x0 += ks[0]
        x1 += ks[1]
    for i in range(5):
        for r in _ROTATIONS[i & 1]:
            x0 += x1
            np.left_shift(x1, r, out=tmp)     # x1 = rotl(x1, r) ^ x0: the two shifted
            x1 >>= 32 - r                     # halves share no bits, so xor joins them
            x1 ^= tmp
            x1 ^= x0
        x0 += ks[(i + 1) % 3]                 # key injection i + 1
        k = ks[(i + 2) % 3]
        x1 += np.uint32((int(k) + i + 1) & 0xFFFFFFFF) if type(k) is np.uint32 else k + np.uint32(i + 1)


def _schedule(k1, k2):
    return k1, k2, k1 ^ k2 ^ np.uint32(_PARITY)


def _flat(x, shape):
    """``x`` broadcast to ``shape``: a uint32 scalar if it holds one value, else a flat array."""
    x = np.asarray(x, _U32)
    if x.size == 1:
        return np.uint32(x.reshape(()))
    return np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1)


def _block(v, s, e):
    return v if type(v) is np.uint32 else v[s:e]


def _threefry_impl(k1, k2, x1, x2):
    args = [np.asarray(a) for a in (k1, k2, x1, x2)]
    shape = np.broadcast_shapes(*[a.shape for a in args])
    n = math.prod(shape)
    f1, f2, c1, c2 = (_flat(a, shape) for a in args)
    y1, y2 = np.empty(n, _U32), np.empty(n, _U32)
    y1[...] = c1
    y2[...] = c2
    ks = _schedule(f1, f2)
    tmp = np.empty(min(n, _BLOCK), _U32)
    for s in range(0, n, _BLOCK):
        e = min(s + _BLOCK, n)
        _rounds(y1[s:e], y2[s:e], [_block(k, s, e) for k in ks], tmp[:e - s])
    return [y1.reshape(shape), y2.reshape(shape)]


def _random_bits_impl(k1, k2, *, shape, bit_width):
    k1, k2 = np.asarray(k1, _U32), np.asarray(k2, _U32)
    batch = k1.shape
    n = math.prod(shape)
    total = k1.size * n
    out = np.empty(total, np.dtype(f"uint{bit_width}"))
    one_key = k1.size == 1
    if one_key:
        ks = _schedule(np.uint32(k1.reshape(())), np.uint32(k2.reshape(())))
    else:  # one key per batch element, repeated over its counters
        ks = _schedule(np.repeat(k1.reshape(-1), n), np.repeat(k2.reshape(-1), n))
    m = min(total, _BLOCK)
    x0, x1, tmp = np.empty(m, _U32), np.empty(m, _U32), np.empty(m, _U32)
    base = np.arange(m, dtype=_U32)
    for s in range(0, total, _BLOCK):
        e = min(s + _BLOCK, total)
        c = e - s
        a, b, t = x0[:c], x1[:c], tmp[:c]
        if one_key:  # counter words (0, flat index), plus the first key injection
            a.fill(ks[0])
            np.add(base[:c], np.uint32((s + int(ks[1])) & 0xFFFFFFFF), out=b)
            _rounds(a, b, ks, t, keyed=True)
        else:
            a.fill(0)
            b[...] = np.arange(s, e, dtype=np.int64) % n
            _rounds(a, b, [_block(k, s, e) for k in ks], t)
        o = out[s:e]
        if bit_width == 64:
            o[...] = a
            o <<= np.uint64(32)
            o |= b
        elif bit_width == 32:
            np.bitwise_xor(a, b, out=o)
        else:  # 8 and 16 bits: the low bits of the xor
            a ^= b
            np.copyto(o, a, casting="unsafe")
    return out.reshape(batch + tuple(shape))


# ----------------------------------------------------------------------------- threefry2x32

threefry2x32_p = Primitive("threefry2x32", multiple_results=True, nondiff=True)
threefry2x32_p.impl = _threefry_impl


def _threefry_shape(k1, k2, x1, x2):
    avals = (k1, k2, x1, x2)
    if any(a.dtype != _U32 for a in avals):
        raise dtype_error("threefry2x32", avals, "key and counter words must be uint32",
                          "convert them with .astype(uint32); a key is funcgrad.random.key(seed)")
    shape = broadcast_shapes("threefry2x32", avals)
    return [aval(shape, _U32), aval(shape, _U32)]


def _threefry_lower(ctx, k1, k2, x1, x2):
    from jax.extend.random import threefry2x32_p as jax_threefry2x32_p
    shape = ctx.avals_out[0].shape
    args = [jnp.broadcast_to(jnp.asarray(a, jnp.uint32), shape) for a in (k1, k2, x1, x2)]
    return list(jax_threefry2x32_p.bind(*args))


threefry2x32_p.shape = _threefry_shape
threefry2x32_p.lower = _threefry_lower
threefry2x32_p.jvp = lambda primals, tangents: (threefry2x32_p.bind(*primals), [None, None])
defvjp_indexed(threefry2x32_p, lambda i, g, ans, *args: None)


def threefry2x32(k1, k2, x1, x2):
    """The two output words of Threefry-2x32 for keys ``(k1, k2)`` and counters ``(x1, x2)``."""
    return threefry2x32_p.bind(k1, k2, x1, x2)


# ----------------------------------------------------------------------------- random_bits

random_bits_p = Primitive("random_bits", nondiff=True)
random_bits_p.impl = _random_bits_impl


def _random_bits_shape(k1, k2, *, shape, bit_width):
    if k1.dtype != _U32 or k2.dtype != _U32:
        raise dtype_error("random_bits", (k1, k2), "key words must be uint32",
                          "pass a key made by funcgrad.random.key(seed)")
    if k1.shape != k2.shape:
        raise shape_error("random_bits", (k1, k2), "the two key words must have one shape",
                          "pass key[..., 0] and key[..., 1] of one key array")
    if bit_width not in (8, 16, 32, 64):
        raise dtype_error("random_bits", (k1, k2), f"bit width {bit_width} is not 8, 16, 32 or 64",
                          "ask for uint8, uint16, uint32 or uint64 bits")
    if math.prod(shape) >= 2 ** 32:
        raise shape_error("random_bits", (k1, k2), f"{math.prod(shape)} values for one key are more than "
                          "2**32 counters", "draw fewer values per key (split the key and draw in parts)")
    return aval(tuple(k1.shape) + tuple(shape), np.dtype(f"uint{bit_width}"))


def _random_bits_lower(ctx, k1, k2, *, shape, bit_width):
    from jax.extend.random import threefry2x32_p as jax_threefry2x32_p
    batch = ctx.avals_in[0].shape
    full = tuple(batch) + tuple(shape)
    lo = jnp.broadcast_to(lax.iota(jnp.uint32, math.prod(shape)).reshape(shape), full)
    hi = jnp.zeros(full, jnp.uint32)
    dims = tuple(range(len(batch)))
    k1 = lax.broadcast_in_dim(jnp.asarray(k1, jnp.uint32), full, dims)
    k2 = lax.broadcast_in_dim(jnp.asarray(k2, jnp.uint32), full, dims)
    y1, y2 = jax_threefry2x32_p.bind(k1, k2, hi, lo)
    if bit_width == 64:
        return lax.shift_left(y1.astype(jnp.uint64), jnp.uint64(32)) | y2.astype(jnp.uint64)
    bits = y1 ^ y2
    return bits if bit_width == 32 else bits.astype(np.dtype(f"uint{bit_width}"))


random_bits_p.shape = _random_bits_shape
random_bits_p.lower = _random_bits_lower
random_bits_p.jvp = lambda primals, tangents, **params: (random_bits_p.bind(*primals, **params), None)
defvjp(random_bits_p, lambda g, ans, k1, k2, **params: None, lambda g, ans, k1, k2, **params: None)


def random_bits(k1, k2, shape, bit_width=32):
    """Bits of ``bit_width`` for the counters of ``shape`` under keys ``(k1, k2)``:
    shape ``k1.shape + shape``, dtype ``uint{bit_width}``."""
    return random_bits_p.bind(k1, k2, shape=tuple(int(d) for d in shape), bit_width=int(bit_width))


# ----------------------------------------------------------------------------- fma

def _two_sum(a, b):
    """``s, t`` with ``s = fl(a + b)`` and ``s + t = a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    """Veltkamp's split of float64 ``a`` into two halves of 26 bits (``a = hi + lo``)."""
    t = a * 134217729.0  # 2**27 + 1
    hi = t - (t - a)
    return hi, a - hi


def _fma64(x, y, z):
    """``x * y + z`` with one rounding, in float64 (Dekker's exact product, then an exact sum)."""
    p = x * y
    xh, xl = _split(x)
    yh, yl = _split(y)
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl   # x * y == p + e exactly
    s, t = _two_sum(p, z)
    return s + (t + e)


def _fma_narrow(x, y, z, dt):
    """``x * y + z`` with one rounding to ``dt`` (float32/float16) through float64: the
    product is exact there, and the one sum is corrected where rounding twice (to
    float64, then to ``dt``) would differ from rounding once -- at exact midpoints."""
    p = np.multiply(x, y, dtype=np.float64)
    z = np.asarray(z, np.float64)
    s = p + z
    low = 52 - np.finfo(dt).nmant
    mid = np.flatnonzero((np.ascontiguousarray(s).view(np.uint64) & np.uint64((1 << low) - 1))
                         == np.uint64(1 << (low - 1)))
    if mid.size:
        s = np.array(s)
        pm = np.broadcast_to(p, s.shape).reshape(-1)[mid]
        zm = np.broadcast_to(z, s.shape).reshape(-1)[mid]
        sm, err = _two_sum(pm, zm)
        flat = s.reshape(-1)
        flat[mid] = np.where(err == 0, sm, np.nextafter(sm, np.where(err > 0, np.inf, -np.inf)))
    return s.astype(dt)


def _is_pow2(v):
    """True when ``v`` is a single float that is a power of two (or zero): then
    ``x * v`` is exact and a plain multiply-add already rounds once."""
    v = np.asarray(v)
    if v.size != 1:
        return False
    f = float(v.reshape(()))
    return f == 0.0 or (math.isfinite(f) and math.frexp(abs(f))[0] == 0.5)


def _fma_impl(x, y, z):
    x, y, z = np.asarray(x), np.asarray(y), np.asarray(z)
    dt = np.result_type(x, y, z)
    with np.errstate(all="ignore"):
        if _is_pow2(x) or _is_pow2(y):
            p = np.multiply(x, y, dtype=dt)
            if p.shape == np.broadcast_shapes(p.shape, z.shape) and p.ndim:
                p += z
                return p
            return np.add(p, z, dtype=dt)
        if dt == np.float64:
            return _fma64(x, y, z)
        return _fma_narrow(x, y, z, dt)


fma_p = Primitive("fma")
fma_p.impl = _fma_impl
fma_p.residuals = ("inputs",)


def _fma_shape(x, y, z):
    avals = (x, y, z)
    if any(a.dtype.kind != "f" for a in avals) or len({a.dtype for a in avals}) != 1:
        raise dtype_error("fma", avals, "needs three floating-point operands of one dtype",
                          "convert them with .astype(...) to the same float dtype")
    return aval(broadcast_shapes("fma", avals), x.dtype, all(a.weak_type for a in avals))


fma_p.shape = _fma_shape
# XLA contracts a multiply feeding an add into one fused multiply-add (as it does in
# jax.random's own programs), so the plain expression lowers to exactly what the eager
# rule computes.
fma_p.lower = lambda ctx, x, y, z: x * y + z


def _fma_jvp(primals, tangents):
    x, y, z = primals
    ans = fma_p.bind(x, y, z)
    out = None
    for t, d in ((tangents[0], y), (tangents[1], x), (tangents[2], None)):
        if t is not None:
            term = t if d is None else mul(t, d)
            out = term if out is None else add(out, term)
    return ans, broadcast_to_shape(out, ans.shape if hasattr(ans, "shape") else ())


fma_p.jvp = _fma_jvp
defvjp(fma_p, lambda g, ans, x, y, z: unbroadcast(mul(g, y), x),
       lambda g, ans, x, y, z: unbroadcast(mul(g, x), y),
       lambda g, ans, x, y, z: unbroadcast(g, z))


def fma(x, y, z):
    """``x * y + z`` rounded once (a fused multiply-add)."""
    return fma_p.bind(x, y, z)


# ----------------------------------------------------------------------------- nextafter

nextafter_p = Primitive("nextafter", nondiff=True)
nextafter_p.impl = np.nextafter


def _nextafter_shape(x, y):
    if x.dtype.kind != "f" or y.dtype != x.dtype:
        raise dtype_error("nextafter", (x, y), "needs two floating-point operands of one dtype",
                          "convert both with .astype(...) to the same float dtype")
    return aval(broadcast_shapes("nextafter", (x, y)), x.dtype, x.weak_type and y.weak_type)


nextafter_p.shape = _nextafter_shape
nextafter_p.lower = lambda ctx, x, y: lax.nextafter(*jnp.broadcast_arrays(
    jnp.asarray(x, ctx.avals_out[0].dtype), jnp.asarray(y, ctx.avals_out[0].dtype)))
nextafter_p.jvp = lambda primals, tangents: (nextafter_p.bind(*primals), None)
defvjp(nextafter_p, lambda g, ans, x, y: None, lambda g, ans, x, y: None)


def nextafter(x, y):
    return nextafter_p.bind(x, y)


# ----------------------------------------------------------------------------- vmap

def _threefry_batch(size, vals, dims):
    from ._batching import elementwise_rule
    out, _ = elementwise_rule(threefry2x32_p)(size, vals, dims)
    return out, [0, 0]


def _random_bits_batch(size, vals, dims, *, shape, bit_width):
    from ._batching import move_to_front
    k1, k2 = (move_to_front(v, d, size) for v, d in zip(vals, dims, strict=True))
    return random_bits_p.bind(k1, k2, shape=shape, bit_width=bit_width), 0


def _add_batch_rules():
    from ._batching import elementwise_rule
    threefry2x32_p.batch = _threefry_batch
    random_bits_p.batch = _random_bits_batch
    for prim in (fma_p, nextafter_p):
        prim.batch = elementwise_rule(prim)


_add_batch_rules()
