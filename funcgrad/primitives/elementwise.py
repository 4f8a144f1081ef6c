"""Elementwise primitives: unary math, binary arithmetic with NumPy broadcasting,
comparisons, ``select`` and ``convert_element_type``.

Each primitive has NumPy's semantics (broadcasting, NEP 50 promotion); the IR
records the result dtype, and lowering casts operands to it explicitly, so XLA
computes exactly what NumPy would.  Derivatives are written once as partial
derivatives ``d out / d input``; the JVP multiplies tangents by them and the VJP
multiplies cotangents by them (then sums away broadcast dimensions).
"""
import numpy as np
import jax.numpy as jnp
from jax import lax

from ..core.primitive import Primitive, defvjp
from ._lower import (broadcast_in_dim as _broadcast_in_dim, cast as _cast, fast as _fast,
                     operand as _operand, scalar as _scalar)
from ._util import aval, dtype_of, probe_dtype, shape_error, shape_of, weak_result


# ----------------------------------------------------------------------------- helpers

def broadcast_shapes(op, avals):
    try:
        return np.broadcast_shapes(*[a.shape for a in avals])
    except ValueError:
        raise shape_error(op, avals, "operands could not be broadcast together",
                          "make the shapes compatible under NumPy broadcasting (reshape, or add an "
                          "axis with x[:, None])") from None


def _elementwise_shape(prim, fn, out_dtype=None):
    def rule(*avals):
        shape = broadcast_shapes(prim.name, avals) if len(avals) > 1 else avals[0].shape
        dt = probe_dtype(prim.name, fn, avals) if out_dtype is None else np.dtype(out_dtype)
        dt, weak = weak_result(avals, dt)
        return aval(shape, dt, weak and out_dtype is None)
    return rule


def _lower_elementwise(jfn, compute_in_out_dtype=True):
    """Lowering: cast operands to the IR's dtype, then apply the jax.numpy function --
    or, for the dtype kinds in ``_LAX`` (where ``jfn`` on operands of one dtype is that
    ``jax.lax`` function), broadcast them to one rank and bind the lax primitive."""
    fast = {}

    def rule(ctx, *args):
        out = ctx.avals_out[0]
        if compute_in_out_dtype:
            dt = out.dtype
        else:  # comparisons: compute in the promoted operand dtype
            from ..core.avals import promote_avals
            dt = promote_avals(ctx.avals_in)[0]
        lfn = fast.get(dt.kind)
        if lfn is not None:
            shape, consts = out.shape, ctx.consts
            return lfn(*[_operand(consts, a, dt, shape) for a in args])
        args = [jnp.asarray(a, dt) for a in args]
        return jfn(*args)
    rule.fast = fast  # kind -> lax function, filled in by _use_lax below
    return rule


def _use_lax(prim, lax_fn, kinds, nargs, sample=np.float32):
    """Lower ``prim`` on operands of these dtype kinds with ``lax_fn`` (bound directly)."""
    fn = _fast(lax_fn, nargs, sample)
    for k in kinds:
        prim.lower.fast[k] = fn


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undo NumPy broadcasting) in ``x``'s dtype."""
    xshape, gshape = shape_of(x), shape_of(g)
    if gshape != xshape:
        from .reductions import reduce_sum
        from .shape import reshape
        lead = len(gshape) - len(xshape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, d in enumerate(xshape) if d == 1 and gshape[i + lead] != 1)
        if axes:
            g = reduce_sum(g, axes)
        if shape_of(g) != xshape:
            g = reshape(g, xshape)
    xdt = dtype_of(x)
    if dtype_of(g) != xdt and xdt.kind == "f":
        g = convert_element_type(g, xdt)
    return g


def unbroadcast_numpy(g, x):
    """:func:`unbroadcast` on a NumPy cotangent, in NumPy alone (for ``vjp_numpy`` rules)."""
    xshape, gshape = shape_of(x), g.shape
    if gshape == xshape and g.dtype == getattr(x, "dtype", None):
        return g
    if gshape != xshape:
        lead = len(gshape) - len(xshape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, d in enumerate(xshape) if d == 1 and gshape[i + lead] != 1)
        if axes:
            g = np.add.reduce(g, axis=axes)
        if g.shape != xshape:
            g = g.reshape(xshape)
    xdt = dtype_of(x)
    if g.dtype != xdt and xdt.kind == "f":
        g = g.astype(xdt)
    return g


def broadcast_to_shape(t, shape):
    if shape_of(t) == tuple(shape):
        return t
    from .shape import broadcast_to
    return broadcast_to(t, shape)


# ----------------------------------------------------------------------------- unary

def _unary(name, np_fn, jnp_fn, deriv=None, zero_deriv=False, nondiff=False, residuals=None):
    """Define a unary primitive from its NumPy function, jax function and derivative.

    ``deriv(x, ans)`` is ``d ans / d x`` written in funcgrad ops (so it is differentiable).
    """
    prim = Primitive(name, nondiff=nondiff)
    prim.impl = np_fn
    prim.shape = _elementwise_shape(prim, np_fn)
    prim.lower = _lower_elementwise(jnp_fn)
    prim.residuals = residuals
    if zero_deriv or nondiff:
        prim.residuals = ()
        prim.jvp = lambda primals, tangents: (prim.bind(*primals), None)
        defvjp(prim, lambda g, ans, x: None)
    else:
        def jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            ans = prim.bind(x)
            return ans, mul(t, deriv(x, ans))

        prim.jvp = jvp
        defvjp(prim, lambda g, ans, x: mul(g, deriv(x, ans)))
    return prim


def _bind1(prim):
    def f(x):
        return prim.bind(x)
    f.__name__ = prim.name
    return f


neg_p = _unary("neg", np.negative, jnp.negative, lambda x, ans: -1.0)
neg_p.jvp = lambda primals, tangents: (neg_p.bind(primals[0]), neg(tangents[0]))
neg_p.residuals = ()
defvjp(neg_p, lambda g, ans, x: neg(g))
sign_p = _unary("sign", np.sign, jnp.sign, zero_deriv=True)
floor_p = _unary("floor", np.floor, jnp.floor, zero_deriv=True)
ceil_p = _unary("ceil", np.ceil, jnp.ceil, zero_deriv=True)
round_p = _unary("round", np.rint, jnp.round, zero_deriv=True)
exp_p = _unary("exp", np.exp, jnp.exp, lambda x, ans: ans, residuals=("ans",))
log_p = _unary("log", np.log, jnp.log, lambda x, ans: div(1.0, x))
log1p_p = _unary("log1p", np.log1p, jnp.log1p, lambda x, ans: div(1.0, add(x, 1.0)))
expm1_p = _unary("expm1", np.expm1, jnp.expm1, lambda x, ans: add(ans, 1.0), residuals=("ans",))
sqrt_p = _unary("sqrt", np.sqrt, jnp.sqrt, lambda x, ans: div(0.5, ans), residuals=("ans",))
cbrt_p = _unary("cbrt", np.cbrt, jnp.cbrt, lambda x, ans: div(1.0, mul(3.0, mul(ans, ans))), residuals=("ans",))
sin_p = _unary("sin", np.sin, jnp.sin, lambda x, ans: cos(x))
cos_p = _unary("cos", np.cos, jnp.cos, lambda x, ans: neg(sin(x)))
asin_p = _unary("asin", np.arcsin, jnp.arcsin, lambda x, ans: div(1.0, sqrt(sub(1.0, mul(x, x)))))
acos_p = _unary("acos", np.arccos, jnp.arccos, lambda x, ans: div(-1.0, sqrt(sub(1.0, mul(x, x)))))
atan_p = _unary("atan", np.arctan, jnp.arctan, lambda x, ans: div(1.0, add(1.0, mul(x, x))))
sinh_p = _unary("sinh", np.sinh, jnp.sinh, lambda x, ans: cosh(x))
cosh_p = _unary("cosh", np.cosh, jnp.cosh, lambda x, ans: sinh(x))
tanh_p = _unary("tanh", np.tanh, jnp.tanh, lambda x, ans: sub(1.0, mul(ans, ans)), residuals=("ans",))
asinh_p = _unary("asinh", np.arcsinh, jnp.arcsinh, lambda x, ans: div(1.0, sqrt(add(mul(x, x), 1.0))))
acosh_p = _unary("acosh", np.arccosh, jnp.arccosh,
                 lambda x, ans: div(1.0, mul(sqrt(sub(x, 1.0)), sqrt(add(x, 1.0)))))
atanh_p = _unary("atanh", np.arctanh, jnp.arctanh, lambda x, ans: div(1.0, sub(1.0, mul(x, x))))
abs_p = _unary("abs", np.abs, jnp.abs, lambda x, ans: sign(x))
not_p = _unary("not", np.logical_not, jnp.logical_not, nondiff=True)
not_p.shape = _elementwise_shape(not_p, np.logical_not, out_dtype=bool)

neg, sign, floor, ceil, round_ = _bind1(neg_p), _bind1(sign_p), _bind1(floor_p), _bind1(ceil_p), _bind1(round_p)
exp, log, log1p, expm1, sqrt, cbrt = (_bind1(p) for p in (exp_p, log_p, log1p_p, expm1_p, sqrt_p, cbrt_p))
sin, cos, asin, acos, atan = (_bind1(p) for p in (sin_p, cos_p, asin_p, acos_p, atan_p))
sinh, cosh, tanh, asinh, acosh, atanh = (_bind1(p) for p in (sinh_p, cosh_p, tanh_p, asinh_p, acosh_p, atanh_p))
abs_, logical_not = _bind1(abs_p), _bind1(not_p)

# Derivatives that read only the operand, never the output.
for _p in (log_p, log1p_p, sin_p, cos_p, asin_p, acos_p, atan_p, sinh_p, cosh_p, asinh_p, acosh_p, atanh_p,
           abs_p):
    _p.residuals = ("inputs",)


# ----------------------------------------------------------------------------- binary

def _binary(name, np_fn, jnp_fn, partials=None, nondiff=False, out_dtype=None):
    """Define a broadcasting binary primitive.

    ``partials = (dx, dy)``, each ``(x, y, ans) -> d ans / d input`` or None for zero.
    """
    prim = Primitive(name, nondiff=nondiff)
    prim.impl = np_fn
    prim.shape = _elementwise_shape(prim, np_fn, out_dtype)
    prim.lower = _lower_elementwise(jnp_fn, compute_in_out_dtype=out_dtype is None)
    if nondiff or partials is None:
        prim.jvp = lambda primals, tangents: (prim.bind(*primals), None)
        defvjp(prim, lambda g, ans, x, y: None, lambda g, ans, x, y: None)
        return prim

    dx, dy = partials

    def jvp(primals, tangents):
        x, y = primals
        ans = prim.bind(x, y)
        out = None
        for t, d in ((tangents[0], dx), (tangents[1], dy)):
            if t is not None and d is not None:
                term = mul(t, d(x, y, ans))
                out = term if out is None else add(out, term)
        if out is not None:
            out = broadcast_to_shape(out, shape_of(ans))
        return ans, out

    prim.jvp = jvp
    defvjp(prim,
           lambda g, ans, x, y: None if dx is None else unbroadcast(mul(g, dx(x, y, ans)), x),
           lambda g, ans, x, y: None if dy is None else unbroadcast(mul(g, dy(x, y, ans)), y))
    return prim


def _bind2(prim):
    def f(x, y):
        return prim.bind(x, y)
    f.__name__ = prim.name
    return f


def _linear2(prim, sign_y):
    """Exact rules for add/sub: no multiplications by one."""
    def jvp(primals, tangents):
        ans = prim.bind(*primals)
        tx, ty = tangents
        if ty is not None and sign_y < 0:
            ty = neg(ty)
        t = tx if ty is None else (ty if tx is None else add(tx, ty))
        return ans, broadcast_to_shape(t, shape_of(ans))

    prim.jvp = jvp
    prim.residuals = ()  # only the operands' shapes and dtypes
    defvjp(prim, lambda g, ans, x, y: unbroadcast(g, x),
           lambda g, ans, x, y: unbroadcast(g if sign_y > 0 else neg(g), y))


def _max_partial(x, y, ans):
    """d max(x, y) / dx: 1 where x wins, 0 where y wins, 1/2 at ties (as JAX) --
    written as (sign(x - y) + 1) / 2 to take few passes over the data."""
    return mul(add(sign(sub(x, y)), 1.0), 0.5)


def _min_partial(x, y, ans):
    return mul(add(sign(sub(y, x)), 1.0), 0.5)


def _pow_dy(x, y, ans):
    safe_x = select(eq(x, 0), 1.0, x)  # d/dy 0**y is 0 for y > 0; avoid log(0)
    return mul(log(safe_x), ans)


def _pow_dx(x, y, ans):
    ym1 = sub(y, 1)
    if type(ym1) in (int, float) and ym1 in (0, 1):  # x ** 1 and x ** 2: no pow in the derivative
        return y if ym1 == 0 else mul(y, x)
    return mul(y, power(x, ym1))


add_p = _binary("add", np.add, jnp.add, (None, None))
sub_p = _binary("sub", np.subtract, jnp.subtract, (None, None))
_linear2(add_p, +1)
_linear2(sub_p, -1)
mul_p = _binary("mul", np.multiply, jnp.multiply, (lambda x, y, a: y, lambda x, y, a: x))
div_p = _binary("div", np.true_divide, jnp.true_divide,
                (lambda x, y, a: div(1.0, y), lambda x, y, a: neg(div(a, y))))
floor_divide_p = _binary("floor_divide", np.floor_divide, jnp.floor_divide, (None, None))
floor_divide_p.jvp = lambda primals, tangents: (floor_divide_p.bind(*primals), None)
defvjp(floor_divide_p, lambda g, a, x, y: None, lambda g, a, x, y: None)
rem_p = _binary("rem", np.remainder, jnp.remainder,
                (lambda x, y, a: 1.0, lambda x, y, a: neg(floor(div(x, y)))))
pow_p = _binary("pow", np.power, jnp.power, (_pow_dx, _pow_dy))
max_p = _binary("max", np.maximum, jnp.maximum, (_max_partial, lambda x, y, a: _max_partial(y, x, a)))
min_p = _binary("min", np.minimum, jnp.minimum, (_min_partial, lambda x, y, a: _min_partial(y, x, a)))
atan2_p = _binary("atan2", np.arctan2, jnp.arctan2,
                  (lambda x, y, a: div(y, add(mul(x, x), mul(y, y))),
                   lambda x, y, a: neg(div(x, add(mul(x, x), mul(y, y))))))
eq_p = _binary("eq", np.equal, jnp.equal, nondiff=True, out_dtype=bool)
ne_p = _binary("ne", np.not_equal, jnp.not_equal, nondiff=True, out_dtype=bool)
lt_p = _binary("lt", np.less, jnp.less, nondiff=True, out_dtype=bool)
le_p = _binary("le", np.less_equal, jnp.less_equal, nondiff=True, out_dtype=bool)
bitwise_and_p = _binary("bitwise_and", np.bitwise_and, jnp.bitwise_and, nondiff=True)
bitwise_or_p = _binary("bitwise_or", np.bitwise_or, jnp.bitwise_or, nondiff=True)
bitwise_xor_p = _binary("bitwise_xor", np.bitwise_xor, jnp.bitwise_xor, nondiff=True)

add, sub, mul, div, floor_divide, rem, power = (
    _bind2(p) for p in (add_p, sub_p, mul_p, div_p, floor_divide_p, rem_p, pow_p))
maximum, minimum, atan2 = _bind2(max_p), _bind2(min_p), _bind2(atan2_p)
eq, ne, lt, le = (_bind2(p) for p in (eq_p, ne_p, lt_p, le_p))
bitwise_and, bitwise_or, bitwise_xor = _bind2(bitwise_and_p), _bind2(bitwise_or_p), _bind2(bitwise_xor_p)

# VJPs in NumPy alone for the eager backward pass (see Primitive.vjp_numpy): the same
# formulas as the rules above.
add_p.vjp_numpy = lambda i, g, ans, x, y: unbroadcast_numpy(g, y if i else x)
sub_p.vjp_numpy = lambda i, g, ans, x, y: unbroadcast_numpy(np.negative(g), y) if i else unbroadcast_numpy(g, x)
mul_p.vjp_numpy = lambda i, g, ans, x, y: unbroadcast_numpy(np.multiply(g, x), y) if i else unbroadcast_numpy(
    np.multiply(g, y), x)
neg_p.vjp_numpy = lambda i, g, ans, x: np.negative(g)
exp_p.vjp_numpy = lambda i, g, ans, x: np.multiply(g, ans)
tanh_p.vjp_numpy = lambda i, g, ans, x: np.multiply(g, np.subtract(1.0, np.multiply(ans, ans)))
sin_p.vjp_numpy = lambda i, g, ans, x: np.multiply(g, np.cos(x))
cos_p.vjp_numpy = lambda i, g, ans, x: np.multiply(g, np.negative(np.sin(x)))
log_p.vjp_numpy = lambda i, g, ans, x: np.multiply(g, np.true_divide(1.0, x))
sqrt_p.vjp_numpy = lambda i, g, ans, x: np.multiply(g, np.true_divide(0.5, ans))
div_p.vjp_numpy = lambda i, g, ans, x, y: unbroadcast_numpy(
    np.multiply(g, np.negative(np.true_divide(ans, y))), y) if i else unbroadcast_numpy(
    np.multiply(g, np.true_divide(1.0, y)), x)

# What each binary VJP reads (see Primitive.residuals): the operands, never the output,
# except div's (d/dy x / y = -ans / y: y and the output, never x); pow's reads all.
for _p in (mul_p, rem_p, max_p, min_p, atan2_p):
    _p.residuals = ("inputs",)
div_p.residuals = (1, "ans")
floor_divide_p.residuals = ()


# Lowering straight to jax.lax where jax.numpy's function on operands already of the
# result dtype is exactly that lax primitive (see jax/_src/numpy/ufuncs.py); other
# kinds (bool add, unsigned abs, integer floor_divide, ...) keep the jax.numpy rule.
for _p, _fn in ((neg_p, lax.neg), (sign_p, lax.sign), (abs_p, lax.abs)):
    _use_lax(_p, _fn, "if", 1)
for _p, _fn in ((floor_p, lax.floor), (ceil_p, lax.ceil), (exp_p, lax.exp), (log_p, lax.log),
                (log1p_p, lax.log1p), (expm1_p, lax.expm1), (sqrt_p, lax.sqrt), (cbrt_p, lax.cbrt),
                (sin_p, lax.sin), (cos_p, lax.cos), (asin_p, lax.asin), (acos_p, lax.acos),
                (atan_p, lax.atan), (sinh_p, lax.sinh), (cosh_p, lax.cosh), (tanh_p, lax.tanh),
                (asinh_p, lax.asinh), (acosh_p, lax.acosh), (atanh_p, lax.atanh)):
    _use_lax(_p, _fn, "f", 1)
_use_lax(round_p, lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), "f", 1)
_use_lax(not_p, lax.bitwise_not, "b", 1, bool)
for _p, _fn in ((add_p, lax.add), (sub_p, lax.sub), (mul_p, lax.mul), (max_p, lax.max), (min_p, lax.min),
                (lt_p, lax.lt), (le_p, lax.le)):
    _use_lax(_p, _fn, "iuf", 2)
_use_lax(add_p, lax.bitwise_or, "b", 2, bool)   # jnp.add / jnp.multiply of bools
_use_lax(mul_p, lax.bitwise_and, "b", 2, bool)
for _p, _fn in ((eq_p, lax.eq), (ne_p, lax.ne)):
    _use_lax(_p, _fn, "iuf", 2)
    _use_lax(_p, _fn, "b", 2, bool)
for _p, _fn in ((div_p, lax.div), (atan2_p, lax.atan2)):
    _use_lax(_p, _fn, "f", 2)
for _p, _fn in ((bitwise_and_p, lax.bitwise_and), (bitwise_or_p, lax.bitwise_or),
                (bitwise_xor_p, lax.bitwise_xor)):
    _use_lax(_p, _fn, "iu", 2, np.int32)
    _use_lax(_p, _fn, "b", 2, bool)


# Compositions rather than primitives: fewer rules to get right.

def gt(x, y):
    """``x > y``, as ``y < x``."""
    return lt(y, x)


def ge(x, y):
    """``x >= y``, as ``y <= x``."""
    return le(y, x)


def _truth(x):
    return x if dtype_of(x).kind == "b" else ne(x, 0)


def logical_and(x, y):
    """Elementwise logical and: bitwise and of the truth values."""
    return bitwise_and(_truth(x), _truth(y))


def logical_or(x, y):
    """Elementwise logical or: bitwise or of the truth values."""
    return bitwise_or(_truth(x), _truth(y))


def tan(x):
    """``sin(x) / cos(x)``."""
    return div(sin(x), cos(x))


# ----------------------------------------------------------------------------- select

select_p = Primitive("select")

_BLEND_MIN = 1 << 14          # below this np.where is as fast
_WEAK = (int, float, bool)
_BLEND_INT = {4: np.int32, 8: np.int64}
_BLEND_OPERANDS = {np.ndarray, int, float, bool, np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                   np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_}


def select_impl(pred, x, y):
    """``np.where(pred, x, y)``, computed for large arrays as a bitwise blend
    ``y ^ ((x ^ y) & mask)`` of the values' bit patterns.

    np.where branches per element, and on an unpredictable mask (relu on random
    activations, its derivative) it runs about ten times slower than a pass of
    arithmetic; the blend has no branches and selects the same bits, NaN and inf
    included."""
    if (type(pred) is not np.ndarray or pred.dtype != np.bool_ or pred.size < _BLEND_MIN
            or type(x) not in _BLEND_OPERANDS or type(y) not in _BLEND_OPERANDS):
        return np.where(pred, x, y)   # small, or other array types (jax arrays): NumPy converts
    dt = np.result_type(x, y)
    it = _BLEND_INT.get(dt.itemsize) if dt.kind in "fiu" else None
    if it is None:
        return np.where(pred, x, y)
    xi = np.asarray(x, dt).view(it)
    yi = np.asarray(y, dt).view(it)
    u8 = pred.view(np.uint8)
    if yi.ndim == 0 and not yi:                          # where(pred, x, 0): x & (all ones where pred)
        return np.bitwise_and(xi, np.negative(u8, dtype=it)).view(dt)
    if xi.ndim == 0 and not xi:                          # where(pred, 0, y): y & (all ones where not pred)
        return np.bitwise_and(yi, np.subtract(u8, 1, dtype=it)).view(dt)
    out = np.bitwise_and(np.bitwise_xor(xi, yi), np.negative(u8, dtype=it))
    out ^= yi
    return out.view(dt)


def _select_eager(pred, x, y):
    """The eager rule: :func:`select_impl`, except that two weak Python scalars give a
    float32 (not NumPy's float64) result, the dtype the traced program gives them."""
    if type(x) in _WEAK and type(y) in _WEAK:
        out = np.where(pred, x, y)
        return out.astype(np.float32) if out.dtype == np.float64 else out
    return select_impl(pred, x, y)


select_p.impl = _select_eager


def _select_shape(pred, x, y):
    shape = broadcast_shapes("where", (pred, x, y))
    dt = probe_dtype("where", np.where, (pred.update(dtype=bool, weak_type=False), x, y))
    dt, weak = weak_result((x, y), dt)
    return aval(shape, dt, weak)


select_p.shape = _select_shape
def _select_lower(ctx, p, x, y):
    """``jnp.where`` with the operands cast and broadcast explicitly: one ``select_n``."""
    out = ctx.avals_out[0]
    shape, dt, consts = out.shape, out.dtype, ctx.consts
    p, x, y = (_full(consts, a, d, shape) for a, d in ((p, _BOOL), (x, dt), (y, dt)))
    return _select_n(p, y, x)


_BOOL = np.dtype(bool)


def _full(consts, x, dt, shape):
    """``x`` cast to ``dt`` and broadcast to ``shape`` (host scalars shared, see ``_scalar``)."""
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)) and np.ndim(x) == 0:
        return _scalar(consts, x, dt, shape, full=True)
    x = _cast(x, dt)
    s = x.shape
    if tuple(s) == tuple(shape):
        return x
    nd = len(shape)
    return _broadcast_in_dim(x, shape, tuple(range(nd - len(s), nd)))


_select_n = _fast(lax.select_n, 3, bool)
select_p.lower = _select_lower


def _select_jvp(primals, tangents):
    p, x, y = primals
    ans = select_p.bind(p, x, y)
    _, tx, ty = tangents
    if tx is None and ty is None:
        return ans, None
    zero = np.zeros((), dtype_of(ans))
    t = select(p, zero if tx is None else tx, zero if ty is None else ty)
    return ans, broadcast_to_shape(convert_element_type(t, dtype_of(ans)), shape_of(ans))


select_p.jvp = _select_jvp
select_p.residuals = (0,)  # the predicate; the operands only by shape and dtype (relu keeps its mask)
defvjp(select_p,
       lambda g, ans, p, x, y: None,
       lambda g, ans, p, x, y: unbroadcast(select(p, g, np.zeros((), dtype_of(g))), x),
       lambda g, ans, p, x, y: unbroadcast(select(p, np.zeros((), dtype_of(g)), g), y))


def _select_vjp_numpy(i, g, ans, p, x, y):
    if i == 0:
        return None
    zero = np.zeros((), g.dtype)
    return unbroadcast_numpy(select_impl(p, g, zero), x) if i == 1 else unbroadcast_numpy(select_impl(p, zero, g), y)


select_p.vjp_numpy = _select_vjp_numpy


def select(pred, on_true, on_false):
    """``where(pred, on_true, on_false)`` with broadcasting."""
    return select_p.bind(pred, on_true, on_false)


# ----------------------------------------------------------------------------- relu

relu_p = Primitive("relu")
relu_p.impl = lambda x: np.maximum(x, 0)  # NaN passes through
relu_p.shape = lambda x: x


def _relu_lower(ctx, x):
    out = ctx.avals_out[0]
    dt = out.dtype
    return _max(_cast(x, dt), _scalar(ctx.consts, 0, dt, out.shape))


_max = _fast(lax.max, 2)


def _relu_jvp(primals, tangents):
    ans = relu_p.bind(primals[0])
    t = tangents[0]
    return ans, select(gt(ans, 0), t, np.zeros((), dtype_of(t)))


relu_p.lower = _relu_lower
relu_p.jvp = _relu_jvp
# relu'(x) = [x > 0] = [relu(x) > 0] (0 at the kink, as jax.nn.relu): the rule reads the
# output, which the next layer's product keeps anyway, so relu adds nothing to the tape.
relu_p.residuals = ("ans",)
defvjp(relu_p, lambda g, ans, x: select(gt(ans, 0), g, np.zeros((), dtype_of(g))))
relu_p.vjp_numpy = lambda i, g, ans, x: select_impl(np.greater(ans, 0), g, np.zeros((), g.dtype))


def relu(x):
    """``max(x, 0)`` as one primitive: one pass forward, one select backward."""
    return relu_p.bind(x)


# ----------------------------------------------------------------------------- convert

convert_p = Primitive("convert_element_type")


def _convert_impl(x, *, dtype):
    if type(x) in (int, float, bool):
        return np.asarray(x, dtype)[()]
    if not isinstance(x, (np.ndarray, np.generic)):
        x = np.asarray(x)  # a jax.Array from jit: convert here, never through jax's own methods
    return x.astype(dtype) if x.dtype != dtype else x


convert_p.impl = _convert_impl
convert_p.shape = lambda x, *, dtype: aval(x.shape, dtype, False)
convert_p.lower = lambda ctx, x, *, dtype: _cast(x, np.dtype(dtype))


def _convert_jvp(primals, tangents, *, dtype):
    ans = convert_p.bind(primals[0], dtype=dtype)
    t = tangents[0]
    if t is None or np.dtype(dtype).kind != "f":
        return ans, None
    return ans, convert_element_type(t, dtype)


convert_p.jvp = _convert_jvp
convert_p.residuals = ()
defvjp(convert_p, lambda g, ans, x, *, dtype: convert_element_type(g, dtype_of(x))
       if dtype_of(x).kind == "f" else None)


convert_p.vjp_numpy = lambda i, g, ans, x, *, dtype: (
    (g if g.dtype == dtype_of(x) else g.astype(dtype_of(x))) if dtype_of(x).kind == "f" else None)


def convert_element_type(x, dtype):
    dtype = np.dtype(dtype)
    if getattr(x, "dtype", None) == dtype:
        return x
    return convert_p.bind(x, dtype=dtype)


# ----------------------------------------------------------------------------- vmap

def _add_batch_rules():
    from ._batching import elementwise_rule
    for prim in (neg_p, sign_p, floor_p, ceil_p, round_p, exp_p, log_p, log1p_p, expm1_p, sqrt_p, cbrt_p,
                 sin_p, cos_p, asin_p, acos_p, atan_p, sinh_p, cosh_p, tanh_p, asinh_p, acosh_p, atanh_p,
                 abs_p, not_p, add_p, sub_p, mul_p, div_p, floor_divide_p, rem_p, pow_p, max_p, min_p, atan2_p,
                 eq_p, ne_p, lt_p, le_p, bitwise_and_p, bitwise_or_p, bitwise_xor_p, select_p, convert_p, relu_p):
        prim.batch = elementwise_rule(prim)


_add_batch_rules()
