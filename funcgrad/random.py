"""``funcgrad.random``: functional pseudo-random numbers, with ``jax.random``'s
signatures, keys and numbers.

A key is an ordinary ``uint32[2]`` array (as ``jax.random.PRNGKey`` makes it).  A
sampler is a pure function of its key: the same key gives the same numbers
eagerly, under ``jit`` and under ``vmap``; new numbers need new keys, from
:func:`split` or :func:`fold_in`.  Keys and numbers are jax's (its default
``threefry2x32`` implementation, in its default partitionable mode): every function
here gives what ``jax.random`` gives for the same key -- bit for bit for the integer
functions and ``uniform``/``bernoulli``, to float rounding for those that apply
``log`` or ``erfinv`` to uniform numbers.

Everything here is a composition of funcgrad operations over the hash primitives of
``funcgrad/primitives/random.py``, so every transform applies: a key is an integer
input (no derivative), and ``uniform(key, shape, minval=a, maxval=b)`` is
differentiable in ``a`` and ``b`` (``truncated_normal`` in its bounds).
"""
import math
import operator

import numpy as np

from .core.avals import get_aval
from .core.trace import Tracer
from .errors import DTypeError, ShapeError, api_boundary, user_location
from .numpy import _array as _A, _reductions as _R, _shape as _S
from .primitives import elementwise as E
from .primitives import random as P
from .primitives import special as _special
from .primitives.indexing import slice_axis
from .primitives.misc import stop_gradient

__all__ = ["key", "PRNGKey", "split", "fold_in", "bits", "randint", "uniform", "normal", "truncated_normal",
           "bernoulli", "categorical", "permutation", "choice", "gumbel"]

_U32 = np.dtype(np.uint32)
_FIX_KEY = "pass funcgrad.random.key(seed), or a key that funcgrad.random.split or fold_in returned"


# ----------------------------------------------------------------------------- checks

def _public(fun):
    """A public entry point; a key or sample it returns inside a transform (a constant, when
    the key is one) stays usable with traced values (``sample.dot(traced)``, ``table[traced]``)."""
    return api_boundary(fun, tree=True)


def _describe(x):
    try:
        a = get_aval(x)
    except TypeError:
        return f"a {type(x).__name__}"
    if type(x) in (int, float, bool):
        return f"the Python {type(x).__name__} {x!r}"
    return f"an array {a.str_short()}"


def _key_words(fn, key):
    """The two uint32 words of a single key (NumPy scalars eagerly, traced scalars in a transform)."""
    if not isinstance(key, (Tracer, np.ndarray)):
        dt = getattr(key, "dtype", None)
        if dt is not None and hasattr(key, "shape") and str(dt).startswith("key<"):
            raise DTypeError(
                f"funcgrad.random.{fn}: got a jax typed key ({dt}) at {user_location()}; funcgrad keys are "
                f"uint32[2] arrays.\nFix: pass jax.random.key_data(key), or {_FIX_KEY}.")
        if dt is not None and hasattr(key, "shape"):  # a jax.Array (a jit result) or a NumPy scalar
            key = np.asarray(key)
        else:
            raise DTypeError(
                f"funcgrad.random.{fn}: expected a key (a uint32[2] array) but got {_describe(key)} at "
                f"{user_location()}.\nFix: {_FIX_KEY}; a seed becomes a key with funcgrad.random.key(seed).")
    a = get_aval(key)
    if a.dtype != _U32:
        seed = "; a seed becomes a key with funcgrad.random.key(seed)" if a.dtype.kind in "iu" and not a.shape else ""
        raise DTypeError(
            f"funcgrad.random.{fn}: expected a key (a uint32[2] array) but got {a.str_short()} at "
            f"{user_location()}.\nFix: {_FIX_KEY}{seed}.")
    if a.shape != (2,):
        if a.shape[-1:] == (2,):
            raise ShapeError(
                f"funcgrad.random.{fn}: takes a single key (uint32[2]) but got a batch of keys {a.str_short()} "
                f"at {user_location()}.\nFix: pick one key (keys[0]), or map over the keys with "
                f"funcgrad.vmap(lambda k: funcgrad.random.{fn}(k, ...))(keys).")
        raise ShapeError(
            f"funcgrad.random.{fn}: expected a key (a uint32[2] array) but got {a.str_short()} at "
            f"{user_location()}.\nFix: {_FIX_KEY}.")
    return key[0], key[1]


def _shape(fn, shape, what="shape"):
    """``shape`` as a tuple of non-negative Python ints (an int is a 1-d shape, as in jax)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        dims = None
    if dims is None or any(d < 0 for d in dims):
        raise ShapeError(
            f"funcgrad.random.{fn}: {what} must be a tuple of non-negative Python ints, got {shape!r} at "
            f"{user_location()}.\nFix: pass concrete sizes, e.g. {what}=(3, 4); a traced value cannot be a "
            "shape (make it a static argument of jit).")
    return dims


def _float_dtype(fn, dtype):
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise DTypeError(
            f"funcgrad.random.{fn}: dtype must be a floating-point dtype (float16, float32 or float64), got "
            f"{dt} at {user_location()}.\nFix: pass dtype=float32 (the default) or float64"
            + ("; for integers use funcgrad.random.randint." if dt.kind in "iu" else "."))
    return dt


def _check_broadcast(fn, shape, *params, shapes=()):
    """The parameters' shapes (and ``shapes``) broadcast to ``shape`` (and not beyond it), as jax requires."""
    shapes = [tuple(np.shape(p)) for p in params] + [tuple(s) for s in shapes]
    try:
        ok = np.broadcast_shapes(shape, *shapes) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        default = " (or shape=None: the parameters' broadcast shape)" if fn not in ("uniform", "randint") else ""
        raise ShapeError(
            f"funcgrad.random.{fn}: parameter shapes {', '.join(map(str, shapes))} do not broadcast to the "
            f"requested shape {tuple(shape)} at {user_location()}.\nFix: pass a shape the parameters broadcast "
            f"to{default}, or reshape the parameters.")


def _as_array(x):
    return x if isinstance(x, (Tracer, np.ndarray, np.generic)) else _A.asarray(x)


def _in_dtype(x, dtype):
    """A parameter in ``dtype``: Python numbers (and lists) straight to it, so that a
    float64 sampler sees ``-0.1`` as a float64, not as a float32 first."""
    if isinstance(x, (Tracer, np.ndarray, np.generic)):
        return E.convert_element_type(x, dtype)
    return np.asarray(x, dtype)


# ----------------------------------------------------------------------------- keys

def _seed_words(seed):
    """``[0, low 32 bits of seed]``: jax's seed in its default (32-bit) mode."""
    if isinstance(seed, Tracer):
        a = seed.aval
        if a.shape or a.dtype.kind not in "biu":
            raise (ShapeError if a.shape else DTypeError)(
                f"funcgrad.random.key: the seed must be a scalar integer, got a traced {a.str_short()} at "
                f"{user_location()}.\nFix: pass one integer seed; map over seeds with funcgrad.vmap.")
        lo = E.convert_element_type(seed, _U32)
        return _S.stack([E.mul(lo, 0), lo])
    if isinstance(seed, (bool, int, np.integer, np.bool_)):
        s = int(seed)
        if type(seed) is int and not -2 ** 63 <= s < 2 ** 64:
            raise DTypeError(f"funcgrad.random.key: the seed {s} does not fit in 64 bits (at {user_location()})."
                             "\nFix: pass a seed in [-2**63, 2**64).")
        return np.array([0, s & 0xFFFFFFFF], _U32)
    dt, shp = getattr(seed, "dtype", None), getattr(seed, "shape", None)
    if dt is not None and shp is not None:
        if tuple(shp):
            raise ShapeError(
                f"funcgrad.random.key: the seed must be a scalar, got an array of shape {tuple(shp)} at "
                f"{user_location()}.\nFix: pass one integer seed; map over seeds with "
                "funcgrad.vmap(funcgrad.random.key)(seeds).")
        if np.dtype(dt).kind in "biu":
            return np.array([0, int(np.asarray(seed)) & 0xFFFFFFFF], _U32)
    raise DTypeError(f"funcgrad.random.key: the seed must be an integer, got {_describe(seed)} at "
                     f"{user_location()}.\nFix: pass an int, e.g. funcgrad.random.key(0).")


@_public
def key(seed):
    """A key from an integer seed: the ``uint32[2]`` array ``jax.random.PRNGKey(seed)`` makes
    ([0, the seed's low 32 bits], as jax in its default 32-bit mode).  ``seed`` may be a
    Python or NumPy integer, or a traced integer inside ``jit``/``vmap``."""
    return _seed_words(seed)


@_public
def PRNGKey(seed):
    """The same as :func:`key` (jax's name for raw ``uint32[2]`` keys)."""
    return _seed_words(seed)


def _split_words(k1, k2, shape):
    """The two word arrays (each of ``shape``) of the keys ``split`` derives."""
    n = math.prod(shape)
    counts = np.arange(n, dtype=_U32).reshape(shape)
    return P.threefry2x32(k1, k2, np.zeros((), _U32), counts)


def _stack_key(y1, y2):
    return _S.stack([y1, y2], axis=-1)


@_public
def split(key, num=2):
    """``num`` new keys (``num`` an int, or a tuple: the shape of the key array) from ``key``:
    an array ``uint32[num, 2]`` that indexes and unpacks (``k1, k2 = split(key)``)."""
    k1, k2 = _key_words("split", key)
    shape = _shape("split", num, "num")
    return _stack_key(*_split_words(k1, k2, shape))


@_public
def fold_in(key, data):
    """A new key from ``key`` and an integer ``data`` (e.g. a step or a layer index):
    ``fold_in(key, i)`` for different ``i`` are independent keys."""
    k1, k2 = _key_words("fold_in", key)
    if isinstance(data, Tracer) or (hasattr(data, "dtype") and hasattr(data, "shape")):
        a = get_aval(data)
        if a.shape or a.dtype.kind not in "biu":
            raise (ShapeError if a.shape else DTypeError)(
                f"funcgrad.random.fold_in: data must be a scalar integer, got {a.str_short()} at "
                f"{user_location()}.\nFix: pass one integer; map over many with funcgrad.vmap.")
        d = E.convert_element_type(data if isinstance(data, Tracer) else np.asarray(data), _U32)
    elif isinstance(data, (bool, int)):
        if not 0 <= int(data) < 2 ** 32:
            raise DTypeError(f"funcgrad.random.fold_in: data {data} is out of range for uint32 (at "
                             f"{user_location()}).\nFix: pass an integer in [0, 2**32).")
        d = np.uint32(data)
    else:
        raise DTypeError(f"funcgrad.random.fold_in: data must be an integer, got {_describe(data)} at "
                         f"{user_location()}.\nFix: pass an int.")
    y1, y2 = P.threefry2x32(k1, k2, np.uint32(0), d)
    return _stack_key(y1, y2)


# ----------------------------------------------------------------------------- bits and uniform numbers

@_public
def bits(key, shape=(), dtype=np.uint32):
    """Uniformly random bits: an array of ``shape`` and unsigned ``dtype`` (default uint32)."""
    k1, k2 = _key_words("bits", key)
    shape = _shape("bits", shape)
    dt = np.dtype(np.uint32 if dtype is None else dtype)
    if dt.kind != "u":
        raise DTypeError(f"funcgrad.random.bits: dtype must be an unsigned integer dtype, got {dt} at "
                         f"{user_location()}.\nFix: pass dtype=uint8, uint16, uint32 (the default) or uint64.")
    return P.random_bits(k1, k2, shape, dt.itemsize * 8)


def _uniform(k1, k2, shape, dtype, minval, maxval):
    """jax's construction: the top ``nmant`` bits as the mantissa of a float in [1, 2),
    minus one -- computed here as ``m * 2**-nmant``, the same number exactly -- then
    scaled to [minval, maxval)."""
    fi = np.finfo(dtype)
    nbits, nmant = fi.bits, int(fi.nmant)
    b = P.random_bits(k1, k2, shape, nbits)
    m = E.convert_element_type(E.floor_divide(b, 2 ** (nbits - nmant)), dtype)  # floats = m * 2**-nmant
    lo, hi = _in_dtype(minval, dtype), _in_dtype(maxval, dtype)
    # floats * (hi - lo) + lo, rounded once as XLA computes it (it fuses the multiply-add,
    # in jax.random's programs too); the power of two moves onto the span exactly (for
    # any span above 2**-103 in float32).
    return E.maximum(lo, P.fma(m, E.mul(E.sub(hi, lo), 2.0 ** -nmant), lo))


@_public
def uniform(key, shape=(), dtype=np.float32, minval=0.0, maxval=1.0):
    """Uniform floats in ``[minval, maxval)`` (bounds broadcast to ``shape``)."""
    k1, k2 = _key_words("uniform", key)
    shape = _shape("uniform", shape)
    dtype = _float_dtype("uniform", dtype)
    _check_broadcast("uniform", shape, minval, maxval)
    return _uniform(k1, k2, shape, dtype, minval, maxval)


def _normal(k1, k2, shape, dtype):
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = _uniform(k1, k2, shape, dtype, lo, np.array(1.0, dtype))
    return E.mul(np.array(np.sqrt(2), dtype), _special.erf_inv(u))


@_public
def normal(key, shape=(), dtype=np.float32):
    """Standard normal floats: ``sqrt(2) * erfinv(u)`` for ``u`` uniform in (-1, 1)."""
    k1, k2 = _key_words("normal", key)
    return _normal(k1, k2, _shape("normal", shape), _float_dtype("normal", dtype))


@_public
def truncated_normal(key, lower, upper, shape=None, dtype=np.float32):
    """Standard normal floats conditioned on ``lower < x < upper`` (by inverting the CDF)."""
    k1, k2 = _key_words("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    if shape is None:
        try:
            shape = np.broadcast_shapes(np.shape(lower), np.shape(upper))
        except ValueError:
            raise ShapeError(f"funcgrad.random.truncated_normal: the bounds' shapes {np.shape(lower)} and "
                             f"{np.shape(upper)} do not broadcast together at {user_location()}.\nFix: pass "
                             "bounds of broadcastable shapes.") from None
    else:
        shape = _shape("truncated_normal", shape)
        _check_broadcast("truncated_normal", shape, lower, upper)
    sqrt2 = np.array(np.sqrt(2), dtype)
    lower, upper = _in_dtype(lower, dtype), _in_dtype(upper, dtype)
    a = _special.erf(E.div(lower, sqrt2))
    b = _special.erf(E.div(upper, sqrt2))
    out = E.mul(sqrt2, _special.erf_inv(_uniform(k1, k2, shape, dtype, a, b)))
    # Rounding (or u == a) must not leave the open interval (lower, upper).
    lo = P.nextafter(stop_gradient(lower), np.array(np.inf, dtype))
    hi = P.nextafter(stop_gradient(upper), np.array(-np.inf, dtype))
    return E.minimum(hi, E.maximum(lo, out))


@_public
def bernoulli(key, p=0.5, shape=None):
    """Booleans that are True with probability ``p`` (``shape`` defaults to ``p``'s)."""
    k1, k2 = _key_words("bernoulli", key)
    given, p = p, _as_array(p)
    dt = get_aval(p).dtype
    if dt.kind != "f":
        raise DTypeError(f"funcgrad.random.bernoulli: the probability p must be a float, got {_describe(given)} "
                         f"at {user_location()}.\nFix: pass p as a float, e.g. p=0.5 or p.astype(float32).")
    if shape is None:
        shape = tuple(np.shape(p))
    else:
        shape = _shape("bernoulli", shape)
        _check_broadcast("bernoulli", shape, p)
    return E.lt(_uniform(k1, k2, shape, dt, 0.0, 1.0), p)


def _gumbel(k1, k2, shape, dtype):
    u = _uniform(k1, k2, shape, dtype, np.finfo(dtype).tiny, 1.0)
    return E.neg(E.log(E.neg(E.log(u))))


@_public
def gumbel(key, shape=(), dtype=np.float32):
    """Standard Gumbel floats: ``-log(-log(u))`` for ``u`` uniform in [tiny, 1)."""
    k1, k2 = _key_words("gumbel", key)
    return _gumbel(k1, k2, _shape("gumbel", shape), _float_dtype("gumbel", dtype))


@_public
def categorical(key, logits, axis=-1, shape=None):
    """Indices (int32) drawn with probabilities ``softmax(logits, axis)``, by the Gumbel-max trick."""
    k1, k2 = _key_words("categorical", key)
    logits = _as_array(logits)
    lshape = tuple(np.shape(logits))
    nd = len(lshape)
    if not -nd <= axis < nd:
        raise ShapeError(f"funcgrad.random.categorical: axis {axis} is out of bounds for logits of shape "
                         f"{lshape} at {user_location()}.\nFix: pass an axis in [{-nd}, {nd}).")
    dt = get_aval(logits).dtype
    if dt.kind != "f":
        raise DTypeError(f"funcgrad.random.categorical: logits must be floats, got {_describe(logits)} at "
                         f"{user_location()}.\nFix: convert them with .astype(float32).")
    axis = axis - nd if axis >= 0 else axis
    batch_shape = lshape[:axis % nd] + lshape[axis % nd + 1:]
    if shape is None:
        shape = batch_shape
    else:
        shape = _shape("categorical", shape)
        _check_broadcast("categorical", shape, shapes=[batch_shape])
    prefix = shape[:len(shape) - len(batch_shape)]
    gshape = list(shape[len(shape) - len(batch_shape):])
    gshape.insert(axis % nd, lshape[axis])
    g = _gumbel(k1, k2, tuple(prefix) + tuple(gshape), dt)
    if prefix:
        logits = _S.reshape(logits, (1,) * len(prefix) + lshape)
    return E.convert_element_type(_R.argmax(E.add(g, logits), axis), np.int32)


# ----------------------------------------------------------------------------- integers

def _clip_convert(val, dtype):
    """``val`` (integer) converted to ``dtype``, clipped to its range rather than wrapped."""
    src, dst = np.iinfo(get_aval(val).dtype), np.iinfo(dtype)
    lo, hi = max(src.min, dst.min), min(src.max, dst.max)
    if lo > src.min:
        val = E.maximum(val, lo)
    if hi < src.max:
        val = E.minimum(val, hi)
    return E.convert_element_type(val, dtype)


def _int_array(x):
    x = _as_array(x)
    return x if get_aval(x).dtype.kind in "iu" else E.convert_element_type(x, np.int64)


def _randint(k1, k2, shape, minval, maxval, dtype):
    """jax's algorithm: two words of bits per value, reduced modulo the span with a
    multiplier that keeps the bias of non-power-of-two spans small."""
    minval, maxval = _int_array(minval), _int_array(maxval)
    info = np.iinfo(dtype)
    nbits = info.bits
    udtype = np.dtype(f"uint{nbits}")
    top = np.array(info.max, dtype)
    top = _clip_convert(top, get_aval(maxval).dtype)
    maxval_out_of_range = E.lt(top, maxval)
    minval, maxval = _clip_convert(minval, dtype), _clip_convert(maxval, dtype)
    y1, y2 = _split_words(k1, k2, (2,))
    higher = P.random_bits(y1[0], y2[0], shape, nbits)
    lower = P.random_bits(y1[1], y2[1], shape, nbits)
    span = E.convert_element_type(E.sub(maxval, minval), udtype)
    span = E.select(E.le(maxval, minval), np.ones((), udtype), span)
    span = E.select(E.logical_and(maxval_out_of_range, E.lt(minval, maxval)), E.add(span, 1), span)
    # span == 0 (the whole range of a 64-bit dtype, wrapped): x % 0 is x, as in XLA.
    zero = E.eq(span, 0)
    safe = E.select(zero, np.ones((), udtype), span)

    def rem(x):
        return E.select(zero, x, E.rem(x, safe))

    multiplier = rem(np.array(2 ** (nbits // 2), udtype))
    multiplier = rem(E.mul(multiplier, multiplier))
    offset = rem(E.add(E.mul(rem(higher), multiplier), rem(lower)))
    return E.add(minval, E.convert_element_type(offset, dtype))


@_public
def randint(key, shape, minval, maxval, dtype=np.int32):
    """Uniform integers in ``[minval, maxval)`` (bounds broadcast to ``shape``)."""
    k1, k2 = _key_words("randint", key)
    shape = _shape("randint", shape)
    dt = np.dtype(np.int32 if dtype is None else dtype)
    if dt.kind not in "iu":
        raise DTypeError(f"funcgrad.random.randint: dtype must be an integer dtype, got {dt} at "
                         f"{user_location()}.\nFix: pass dtype=int32 (the default) or another integer dtype; "
                         "for floats use funcgrad.random.uniform(key, shape, dtype, minval, maxval).")
    _check_broadcast("randint", shape, minval, maxval)
    info = np.iinfo(dt)
    if info.bits < 32:  # sample in 32 bits (less bias), as jax
        minval = E.minimum(E.maximum(E.convert_element_type(_int_array(minval), np.int32), int(info.min)),
                           int(info.max))
        maxval = E.minimum(E.maximum(E.convert_element_type(_int_array(maxval), np.int32), int(info.min)),
                           int(info.max) + 1)
        return E.convert_element_type(_randint(k1, k2, shape, minval, maxval, np.dtype(np.int32)), dt)
    return _randint(k1, k2, shape, minval, maxval, dt)


def _shuffle(k1, k2, x, axis):
    """jax's shuffle: sort by fresh random 32-bit keys, for as many rounds as make
    collisions of sort keys negligible (3 ln(n) / ln(2**32 - 1) rounds)."""
    n = math.prod(np.shape(x))
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        y1, y2 = _split_words(k1, k2, (2,))
        k1, k2, s1, s2 = y1[0], y2[0], y1[1], y2[1]
        sort_keys = P.random_bits(s1, s2, tuple(np.shape(x)), 32)
        x = _S.take_along_axis(x, _S.argsort(sort_keys, axis), axis)
    return x


def _axis(fn, axis, nd):
    if not -nd <= axis < nd:
        raise ShapeError(f"funcgrad.random.{fn}: axis {axis} is out of bounds for an array of {nd} "
                         f"dimensions at {user_location()}.\nFix: pass an axis in [{-nd}, {nd}).")
    return axis % nd


def _arange_of(fn, x):
    a = get_aval(x)
    if a.dtype.kind not in "iu":
        raise DTypeError(f"funcgrad.random.{fn}: x must be an integer or an array of at least one dimension, "
                         f"got {_describe(x)} at {user_location()}.\nFix: pass an int n (to permute "
                         "arange(n)) or an array.")
    return np.arange(int(x), dtype=np.int32)


@_public
def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (an int ``x``) or of ``x`` along ``axis``
    (``independent=True``: each slice along ``axis`` permuted independently)."""
    k1, k2 = _key_words("permutation", key)
    x = _as_array(x)
    nd = len(np.shape(x))
    if nd == 0:
        return _shuffle(k1, k2, _arange_of("permutation", x), 0)
    axis = _axis("permutation", axis, nd)
    if independent or nd == 1:
        return _shuffle(k1, k2, x, axis)
    ind = _shuffle(k1, k2, np.arange(np.shape(x)[axis], dtype=np.int32), 0)
    return _S.take(x, ind, axis)


@_public
def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Draws from ``arange(a)`` (an int ``a``) or from ``a``'s entries along ``axis``,
    with or without replacement, uniformly or with probabilities ``p``."""
    k1, k2 = _key_words("choice", key)
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"funcgrad.random.choice: shape must be a tuple, got {shape!r} at {user_location()}."
                         "\nFix: pass shape=(n,) for n draws.")
    shape = _shape("choice", shape)
    arr = _as_array(a)
    nd = len(np.shape(arr))
    if nd == 0:
        n_inputs = int(_arange_of("choice", arr).shape[0])
    else:
        axis = _axis("choice", axis, nd)
        n_inputs = np.shape(arr)[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return np.zeros(shape, get_aval(arr).dtype if nd else np.int32)
    if n_inputs <= 0:
        raise ShapeError(f"funcgrad.random.choice: nothing to choose from (a has 0 entries) at "
                         f"{user_location()}.\nFix: pass a non-empty population, or shape=(0,).")
    if not replace and n_draws > n_inputs:
        raise ShapeError(f"funcgrad.random.choice: cannot draw {n_draws} values without replacement from "
                         f"{n_inputs} at {user_location()}.\nFix: draw at most {n_inputs}, or pass replace=True.")
    if p is None:
        if replace:
            ind = _randint(k1, k2, shape, 0, n_inputs, np.dtype(np.int32))
            result = ind if nd == 0 else _S.take(arr, ind, axis)
        else:
            perm = permutation(key, n_inputs if nd == 0 else arr, axis)
            result = slice_axis(perm, axis if nd else 0, 0, n_draws)
    else:
        p = _as_array(p)
        pdt = get_aval(p).dtype
        if pdt.kind != "f":
            p = E.convert_element_type(p, np.float32)
        if tuple(np.shape(p)) != (n_inputs,):
            raise ShapeError(f"funcgrad.random.choice: p must be None or a 1-d array of the {n_inputs} "
                             f"probabilities, got shape {tuple(np.shape(p))} at {user_location()}.\nFix: pass "
                             "one probability per entry of a along axis.")
        pdt = get_aval(p).dtype
        if replace:
            cum = _R.cumsum(p)
            r = E.mul(cum[-1], E.sub(1, _uniform(k1, k2, shape, pdt, 0.0, 1.0)))
            # searchsorted(cum, r) (side 'left'): how many cumulative sums lie below r
            below = E.lt(_S.reshape(cum, (1,) * len(shape) + (n_inputs,)), _S.expand_dims(r, -1))
            ind = E.convert_element_type(_R.sum(below, axis=-1), np.int32)
        else:  # the Gumbel top-k trick
            with np.errstate(divide="ignore"):  # p == 0: log p = -inf, never drawn
                g = E.add(_gumbel(k1, k2, (n_inputs,), pdt), E.log(p))
            ind = E.convert_element_type(slice_axis(_S.argsort(E.neg(g), 0), 0, 0, n_draws), np.int32)
        result = ind if nd == 0 else _S.take(arr, ind, axis)
    out_shape = shape if nd == 0 else np.shape(arr)[:axis] + shape + np.shape(arr)[axis + 1:]
    return _S.reshape(result, tuple(out_shape))
