"""The op table: one row per public ``funcgrad.numpy`` function, operator and method.

Every transform adds one test parametrized over this table (``test_ops_eager.py``,
``test_ops_ir.py``, ``test_ops_grad.py``, ``test_ops_jit.py``); a new op is one
``op(...)`` entry here.  An entry reads like a spec::

    op("sum", V("f64[3,4]"), V("f32[3,4]", axis=1, keepdims=True), V("i32[3,4]", axis=0))

is ``fnp.sum`` checked against ``np.sum`` (and ``jnp.sum`` for derivatives) on three
inputs.  Pieces:

``V(*args, **kw)``
    One input variant: the positional and keyword arguments of the call.
    ``"[domain:]dtype[shape]"`` (``"f32[3,4]"``, ``"pos:f64[3]"``, ``"bool[2]"``) is a
    random array and ``"float"`` a random Python float; a Python scalar is a *dynamic
    weak* input (traced by make_ir and jit); a NumPy array is used as given; ``S(value)``
    is a *static* argument (a shape, an axis, a subscripts string: closed over, never
    traced).  Options: ``grad=True/False`` (run the derivative tests on this variant; by
    default only on the op's first variant with float inputs), ``tol=(rtol, atol)``,
    ``gtol`` (check_grads tolerance), ``xfail={"eager": reason, ...}`` (a strict xfail
    of one test, naming a known bug; tests: eager ir jit grad jax grad_ir grad_jit).
``op(name, *variants, f=None, ref=None, jref=None, dom="real", diff=True, creation=False)``
    ``name`` resolves to ``fnp.<name>``, ``np.<name>`` and ``jnp.<name>`` (dotted names
    such as ``"linalg.norm"`` work).  ``f=lambda m, *args, **kw: ...`` writes the
    computation once for a module ``m`` that is ``fnp``, ``np`` or ``jnp`` (operators,
    methods, compositions); ``ref``/``jref`` override the NumPy / jax reference.
    ``dom`` is the default input domain (``real pos nonzero unit gt1 frac distinct
    small prob``); ``diff`` says the op is differentiable; ``creation=True`` encodes
    funcgrad's float32 creation default in the NumPy reference.

Where funcgrad deliberately differs from NumPy the reference says so: creation functions
default to float32 (``creation=True``), and when every input is a Python scalar a float
result is float32 (weak values materialise in JAX's defaults; see ``Row.ref``).

Derivative tests run in float64 (float inputs are cast) and differentiate with
respect to every floating-point array input; other inputs are closed over.
"""
import dataclasses
import functools
import re
import zlib

import jax.numpy as jnp
import numpy as np
import pytest

import jax.lax as jlax

import funcgrad.lax as flax
import funcgrad.numpy as fnp

# ----------------------------------------------------------------------------- inputs

DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i8": np.int8, "i16": np.int16,
          "i32": np.int32, "i64": np.int64, "u8": np.uint8, "u32": np.uint32, "bool": np.bool_}


def _distinct(rng, shape):
    n = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(n) - n / 2) * 0.37 + rng.uniform(0, 0.05, n)


def _frac(rng, shape):
    """Away from integers and from halves (floor, round, mod stay differentiable)."""
    return rng.integers(-3, 3, shape) + rng.choice([0.2, 0.3, 0.7, 0.8], shape) + rng.uniform(-0.05, 0.05, shape)


FLOAT_DOMAINS = {
    "real": lambda rng, s: rng.standard_normal(s),
    "pos": lambda rng, s: rng.uniform(0.5, 2.0, s),
    "nonzero": lambda rng, s: rng.choice([-1.0, 1.0], s) * rng.uniform(0.5, 2.0, s),
    "unit": lambda rng, s: rng.uniform(-0.8, 0.8, s),
    "gt1": lambda rng, s: rng.uniform(1.2, 3.0, s),
    "frac": _frac,
    "distinct": lambda rng, s: _distinct(rng, s).reshape(s),
    "small": lambda rng, s: rng.integers(-2, 3, s).astype(float),
    "prob": lambda rng, s: rng.uniform(0.05, 0.95, s),
}
INT_DOMAINS = {
    "real": lambda rng, s: rng.integers(-4, 5, s),
    "pos": lambda rng, s: rng.integers(1, 5, s),
    "nonzero": lambda rng, s: rng.choice([-1, 1], s) * rng.integers(1, 5, s),
    "distinct": lambda rng, s: rng.permutation(int(np.prod(s, dtype=np.int64))).reshape(s),
    "small": lambda rng, s: rng.integers(-2, 3, s),
}
_SPEC = re.compile(r"^(?:(\w+):)?(\w+)\[([\d,]*)\]$")


def make_array(spec, rng, dom="real"):
    """A random array for ``"[domain:]dtype[shape]"``."""
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(f"bad input spec {spec!r}")
    dom = m.group(1) or dom
    dtype = np.dtype(DTYPES[m.group(2)])
    shape = tuple(int(d) for d in m.group(3).split(",") if d)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        idom = dom if dom in INT_DOMAINS else "pos"
        vals = INT_DOMAINS[idom](rng, shape)
        if dtype.kind == "u":
            vals = np.abs(vals)
        return np.asarray(vals).astype(dtype)
    return np.asarray(FLOAT_DOMAINS[dom](rng, shape)).astype(dtype)


@dataclasses.dataclass(frozen=True)
class S:
    """A static argument: closed over by the function under test, never traced."""

    value: object

    def __repr__(self):
        return repr(self.value)


class V:
    """One input variant of an op (see the module docstring)."""

    def __init__(self, *args, grad=None, tol=None, gtol=None, xfail=None, id=None, **kw):  # noqa: A002
        self.args, self.kw = args, kw
        self.grad, self.tol, self.gtol, self.xfail, self.id = grad, tol, gtol, xfail or {}, id


def _label(a):
    if isinstance(a, str):
        return a
    if isinstance(a, np.ndarray):
        return f"{a.dtype.name}{list(a.shape)}".replace(" ", "")
    if isinstance(a, np.generic):
        return f"np.{type(a).__name__}({a})"
    if isinstance(a, S):
        v = a.value
        return getattr(v, "__name__", repr(v)).replace(" ", "")
    return repr(a)


def _kwlabel(k, v):
    return f"{k}={getattr(v, '__name__', repr(v))}".replace(" ", "")


# ----------------------------------------------------------------------------- rows

@dataclasses.dataclass
class Op:
    name: str
    fn: object          # the funcgrad function (static and dynamic args, keywords)
    ref: object         # the NumPy reference
    jref: object        # the jax.numpy reference (derivative tests)
    variants: tuple
    dom: str = "real"
    diff: bool = True
    tol: tuple = None


class Row:
    """One (op, variant) pair: what a parametrized test receives."""

    def __init__(self, op, variant, first_float):
        self.op, self.v = op, variant
        self.name = op.name
        self.id = variant.id or "-".join([op.name] + [_label(a) for a in variant.args]
                                         + [_kwlabel(k, v) for k, v in variant.kw.items()])
        self._first_float = first_float

    def __repr__(self):
        return f"Row({self.id})"

    # --- inputs
    def args(self):
        """Fresh dynamic arguments (deterministic per row)."""
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        out = []
        for a in self.v.args:
            if isinstance(a, S):
                continue
            if isinstance(a, str) and a == "float":
                out.append(float(make_array("f64[]", rng, self.op.dom)))
            elif isinstance(a, str):
                out.append(make_array(a, rng, self.op.dom))
            elif isinstance(a, np.ndarray):
                out.append(a.copy())
            else:
                out.append(a)
        return out

    def _call(self, fn, dyn):
        it = iter(dyn)
        full = [a.value if isinstance(a, S) else next(it) for a in self.v.args]
        return fn(*full, **self.v.kw)

    def fn(self, *dyn):
        return self._call(self.op.fn, dyn)

    def ref(self, *dyn):
        out = self._call(self.op.ref, dyn)
        if dyn and all(type(a) in (bool, int, float) for a in dyn):
            out = _weak_float32(out)
        return out

    def jref(self, *dyn):
        return self._call(self.op.jref, dyn)

    # --- derivatives
    @property
    def has_float_input(self):
        return any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in self.args())

    @property
    def grad(self):
        """Run the derivative tests on this row?"""
        if not self.op.diff or self.v.grad is False or not self.has_float_input:
            return False
        return bool(self.v.grad) or self._first_float

    def grad_args(self):
        """``(args, argnums)``: dynamic args with float arrays cast to float64, and the
        positions of those float arrays (the differentiated inputs)."""
        args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                for a in self.args()]
        nums = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f")
        return args, nums

    # --- tolerances
    def tol(self, dtype):
        """(rtol, atol) for values of ``dtype``."""
        if self.v.tol is not None:
            return self.v.tol
        if self.op.tol is not None:
            return self.op.tol
        return DEFAULT_TOL.get(np.dtype(dtype), (0, 0))

    def marks(self, test):
        """A strict xfail where this variant names a known bug for ``test``."""
        reason = self.v.xfail.get(test)
        return (pytest.mark.xfail(reason=reason, strict=True),) if reason else ()


DEFAULT_TOL = {np.dtype(np.float16): (2e-3, 2e-3), np.dtype(np.float32): (2e-5, 2e-6),
               np.dtype(np.float64): (1e-10, 1e-12)}


def _weak_float32(out):
    """funcgrad's rule for weak inputs only: a float result materialises as float32."""
    if isinstance(out, (tuple, list)):
        return type(out)(_weak_float32(o) for o in out)
    if np.asarray(out).dtype == np.float64:
        return out.astype(np.float32)
    return out


def _resolve(mod, name):
    for part in name.split("."):
        mod = getattr(mod, part)
    return mod


def _creation_ref(np_fn):
    """funcgrad's creation default: float32 unless a dtype or a float64 array is given."""
    @functools.wraps(np_fn)
    def ref(*args, **kw):
        out = np_fn(*args, **kw)
        strong64 = any(isinstance(a, (np.ndarray, np.generic)) and a.dtype == np.float64
                       for a in list(args) + list(kw.values()))
        if "dtype" not in kw and np.asarray(out).dtype == np.float64 and not strong64:
            out = np.asarray(out).astype(np.float32)
        return out
    return ref


def op(name, *variants, f=None, ref=None, jref=None, dom="real", diff=True, creation=False, tol=None):
    """One table entry: ``name`` with its input variants (see the module docstring)."""
    if f is None:
        fn, nref, jr = _resolve(fnp, name), _resolve(np, name), _resolve(jnp, name)
    else:
        fn, nref, jr = functools.partial(f, fnp), functools.partial(f, np), functools.partial(f, jnp)
    ref = ref or nref
    if creation:
        ref = _creation_ref(ref)
    return Op(name, fn, ref, jref or jr, variants, dom, diff, tol)


# ----------------------------------------------------------------------------- variant sets

def unary(ints=True, scalar=True):
    """Variants of an elementwise unary function (``"float"``: a weak Python float)."""
    return [V("f64[3,4]"), V("f32[3,4]"), V("f32[]")] + [V("i32[5]")] * ints + [V("float")] * scalar


def binary(ints=True, weak=True, dx="", dy=""):
    """Variants of a broadcasting binary function (``dx``/``dy``: domain prefixes)."""
    vs = [V(f"{dx}f64[3,4]", f"{dy}f64[3,4]"),
          V(f"{dx}f32[3,4]", f"{dy}f32[4]", grad=True),       # broadcasting (and unbroadcast in grad)
          V(f"{dx}f32[3,1]", f"{dy}f64[1,4]", grad=True),     # both broadcast; f32 with f64
          V(f"{dx}f32[]", f"{dy}f32[2,3]")]
    if weak:
        vs += [V(f"{dx}f32[3]", 1.5), V(1.5, f"{dy}f32[3]")]  # weak Python float keeps float32
    if ints:
        vs += [V(f"{dx}i32[3,4]", f"{dy}i32[4]"),
               V(f"{dx}i32[3]", 2),                         # weak Python int keeps int32
               V(f"{dx}i32[3]", 1.5),                       # int with a Python float: float64
               V(f"{dx}u8[3]", f"{dy}i8[3]")]               # NumPy 2: int16
    return vs


def spd(m, a):
    """A well-conditioned symmetric positive definite matrix (stack) made from any ``a``."""
    n = a.shape[-1]
    return a @ m.swapaxes(a, -1, -2) + n * m.eye(n, dtype=a.dtype)


def wc(m, a):
    """A well-conditioned (diagonally dominant) matrix (stack) made from any ``a``."""
    n = a.shape[-1]
    return a + 2 * n * m.eye(n, dtype=a.dtype)


def _at_ref(idx, mode):
    def ref(x, v):
        out = np.array(x, copy=True)
        if mode == "set":
            out[idx] = v
        else:
            {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}[mode].at(out, idx, v)
        return out
    return ref


def _jax_at_one_by_one(idx, mode):
    """``x.at[idx].<mode>(v)`` for a 1-d index array, one index at a time (jax has no
    derivative of a multiply scatter with repeated indices)."""
    def jref(x, v):
        x = jnp.asarray(x)
        v = jnp.broadcast_to(v, x[idx].shape)
        for k in range(len(idx)):
            x = getattr(x.at[idx[k]], mode)(v[k])
        return x
    return jref


def at(idx, mode, *variants, label=None, dom="real", jref=None):
    """``x.at[idx].<mode>(v)`` (on what ``asarray`` returns), checked against NumPy's ufunc.at."""
    name = f"x.at[{label or idx}].{mode}"
    return op(name, *variants, f=lambda m, x, v: getattr(m.asarray(x).at[idx], mode)(v),
              ref=_at_ref(idx, mode), jref=jref, dom=dom)


def ix(label, idx):
    """``x[idx]`` on a (4, 5) array (``label`` is the index as written)."""
    return op(f"x[{label}]", V("f64[4,5]"), V("f32[4,5]"), V("i32[4,5]"), f=lambda m, x: x[idx])


def _weak_ref(np_fn, *names):
    """NumPy's ``np_fn`` with the Python scalars among the arguments (and the keywords
    ``names``) weakly typed, as funcgrad keeps them: NumPy's ``append``/``diff`` turn
    them into float64 / int64 arrays first."""
    def ref(*args, **kw):
        dt = np.result_type(*args, *[kw[k] for k in names if k in kw])
        weak = lambda v: np.asarray(v, dt) if type(v) in (bool, int, float) else v  # noqa: E731
        return np_fn(*[weak(a) for a in args], **{k: weak(v) if k in names else v for k, v in kw.items()})
    return ref


def _np_row_stack(*tup):
    """``np.row_stack`` where this NumPy still has it (deprecated in NumPy 2), else ``np.vstack``."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(np, "row_stack", np.vstack)(tup)


def _np_cross(*args, **kw):
    """``np.cross`` without its NumPy 2 deprecation warning for 2-vectors."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(*args, **kw)


NONFINITE = np.array([np.nan, np.inf, -np.inf, 1.5, -0.5])
I0 = np.array([0, 2, 2, 3])          # repeated indices: gathers duplicate, scatters accumulate
I2 = np.array([[0, 1], [3, 0]])
MASK = np.array([True, False, True, True])

# ----------------------------------------------------------------------------- control flow
# Each written once against ``m`` (fnp or jnp) and its ``lax``; the NumPy reference is the
# same computation as a Python loop / if.


def _lax(m):
    return flax if m is fnp else jlax


def _cond(m, x):
    return _lax(m).cond(m.sum(x) > 0, lambda y: m.sin(y) * 2.0, lambda y: m.cos(y) - y, x)


def _np_cond(x):
    return np.sin(x) * 2.0 if np.sum(x) > 0 else np.cos(x) - x


_BRANCHES = (lambda m: (lambda y: m.sin(y), lambda y: y * y, lambda y: m.exp(-y)))


def _switch(m, x):   # argmax of 4 elements: index 3 is clamped to the last branch
    return _lax(m).switch(m.argmax(x), _BRANCHES(m), x)


def _np_switch(x):
    return _BRANCHES(np)[min(int(np.argmax(x)), 2)](x)


def _scan(m, x, reverse=False):
    """Carry a vector through the rows of ``x``; also return one output per row."""
    return _lax(m).scan(lambda c, r: (m.tanh(c * r + 0.5), c * r), x[0], x[1:], reverse=reverse)


def _np_scan(x, reverse=False):
    c, ys = x[0], []
    for r in (x[:0:-1] if reverse else x[1:]):
        c, y = np.tanh(c * r + 0.5), c * r
        ys.append(y)
    return c, np.stack(ys[::-1] if reverse else ys)


def _fori(m, x):
    return _lax(m).fori_loop(0, 4, lambda i, c: m.sin(c) * 1.1 + i, x)


def _np_fori(x):
    for i in range(4):
        x = np.sin(x) * 1.1 + i
    return x


def _while(m, x):    # runs until the sum passes 10: how many steps depends on x
    return _lax(m).while_loop(lambda c: m.sum(c) < 10.0, lambda c: c * 1.5 + 0.25, x)


def _np_while(x):
    while np.sum(x) < 10.0:
        x = x * 1.5 + 0.25
    return x


def _map(m, x):
    return _lax(m).map(lambda r: m.sum(m.sin(r) * r), x)


# ----------------------------------------------------------------------------- convolution and pooling
# (conv_general_dilated, reduce_window, nn.conv / max_pool / avg_pool.)  The NumPy references
# below are written independently of funcgrad's rules: dilate and pad by assignment, then one
# explicit window per output position.
import itertools  # noqa: E402

import funcgrad.nn as _fnn  # noqa: E402


def _conv_perms(dn, rank):
    """Axis permutations for layout strings (spatial axes in the kernel string's order)."""
    if dn is None:
        return [tuple(range(rank))] * 3
    lhs, rhs, out = dn
    sp = [c for c in rhs if c not in "OI"]
    return [tuple([s.index(a), s.index(b)] + [s.index(c) for c in sp])
            for s, (a, b) in zip((lhs, rhs, out), ("NC", "OI", "NC"))]


def _np_same_pads(sizes, windows, strides, lower=False):
    pads = []
    for d, k, s in zip(sizes, windows, strides):
        total = max((-(-d // s) - 1) * s + k - d, 0)
        pads.append((total - total // 2, total // 2) if lower else (total // 2, total - total // 2))
    return pads


def _np_dilate_pad(x, axes, dil, pads, fill):
    """``x`` with holes (``fill``) between elements and padding (negative: cropping) on ``axes``."""
    shape = list(x.shape)
    for a, d in zip(axes, dil):
        shape[a] = (x.shape[a] - 1) * d + 1
    out = np.full(shape, fill, x.dtype)
    out[tuple(slice(None, None, dil[axes.index(a)]) if a in axes else slice(None) for a in range(x.ndim))] = x
    for a, (lo, hi) in zip(axes, pads):
        out = np.moveaxis(out, a, 0)
        out = out[max(-lo, 0):out.shape[0] - max(-hi, 0)]
        out = np.concatenate([np.full((max(lo, 0),) + out.shape[1:], fill, x.dtype), out,
                              np.full((max(hi, 0),) + out.shape[1:], fill, x.dtype)])
        out = np.moveaxis(out, 0, a)
    return out


def _np_conv(x, w, window_strides, padding, lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
             feature_group_count=1, batch_group_count=1):
    lp, rp, op_ = _conv_perms(dimension_numbers, x.ndim)
    x, w = x.transpose(lp), w.transpose(rp)
    n = x.ndim - 2
    ld, rd = lhs_dilation or (1,) * n, rhs_dilation or (1,) * n
    dt = np.result_type(x, w)
    wd = _np_dilate_pad(w, list(range(2, 2 + n)), rd, [(0, 0)] * n, 0)
    ksz = wd.shape[2:]
    if isinstance(padding, str):
        padding = ([(0, 0)] * n if padding == "VALID" else
                   _np_same_pads(x.shape[2:], ksz, window_strides, lower=padding == "SAME_LOWER"))
    xp = _np_dilate_pad(x, list(range(2, 2 + n)), ld, padding, 0)
    N, C, O = x.shape[0], x.shape[1], w.shape[0]
    G, B = feature_group_count, batch_group_count
    osp = [(p - k) // s + 1 for p, k, s in zip(xp.shape[2:], ksz, window_strides)]
    out = np.zeros([N // B, O] + osp, dt)
    for pos in itertools.product(*[range(o) for o in osp]):
        win = xp[(slice(None), slice(None)) + tuple(slice(p * s, p * s + k)
                                                    for p, s, k in zip(pos, window_strides, ksz))]
        for o in range(O):
            if B > 1:
                b = o // (O // B)
                part = win[b * (N // B):(b + 1) * (N // B)]
            else:
                g = o // (O // G)
                part = win[:, g * (C // G):(g + 1) * (C // G)]
            out[(slice(None), o) + pos] = np.sum(part * wd[o], axis=tuple(range(1, 2 + n)), dtype=dt)
    return out.transpose(np.argsort(op_))


def _conv_row(m, x, w, **kw):
    return _lax(m).conv_general_dilated(x, w, **kw)


_NP_IDENT = {"max": lambda dt: -np.inf if np.dtype(dt).kind == "f" else np.iinfo(dt).min, "add": lambda dt: 0}


def _np_reduce_window(x, which, window, strides=None, padding="VALID", base_dilation=None, window_dilation=None):
    n = x.ndim
    strides = strides or (1,) * n
    bd, wdl = base_dilation or (1,) * n, window_dilation or (1,) * n
    eff = [(k - 1) * r + 1 for k, r in zip(window, wdl)]
    if isinstance(padding, str):
        padding = [(0, 0)] * n if padding == "VALID" else _np_same_pads(x.shape, eff, strides)
    xp = _np_dilate_pad(x, list(range(n)), bd, padding, _NP_IDENT[which](x.dtype))
    osp = [(p - k) // s + 1 for p, k, s in zip(xp.shape, eff, strides)]
    out = np.zeros(osp, x.dtype)
    for pos in itertools.product(*[range(o) for o in osp]):
        win = xp[tuple(slice(p * s, p * s + k, r) for p, s, k, r in zip(pos, strides, eff, wdl))]
        out[pos] = np.max(win) if which == "max" else np.sum(win, dtype=x.dtype)
    return out


def _rw_row(which):
    def f(m, x, window, strides=None, padding="VALID", base_dilation=None, window_dilation=None):
        lx = _lax(m)
        init = 0 if which == "add" else (-np.inf if x.dtype.kind == "f" else x.dtype.type(np.iinfo(x.dtype).min))
        if m is not fnp:
            init = np.asarray(init, x.dtype)
        return lx.reduce_window(x, init, lx.add if which == "add" else lx.max, window, strides, padding,
                                base_dilation, window_dilation)
    return f


def _np_conv_nhwc(x, w, stride=1, padding="SAME"):
    n = x.ndim - 2
    sp = "HWD"[:n]
    strides = (stride,) * n if isinstance(stride, int) else stride
    return _np_conv(x, w, strides, padding, dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))


def _jnp_conv_nhwc(x, w, stride=1, padding="SAME"):
    n = x.ndim - 2
    sp = "HWD"[:n]
    strides = (stride,) * n if isinstance(stride, int) else stride
    return jlax.conv_general_dilated(x, w, strides, padding,
                                     dimension_numbers=("N" + sp + "C", sp + "IO", "N" + sp + "C"))


def _pool_dims(window, strides, padding):
    strides = strides or (1,) * len(window)
    pads = padding if isinstance(padding, str) else ((0, 0),) + tuple(padding) + ((0, 0),)
    return (1,) + tuple(window) + (1,), (1,) + tuple(strides) + (1,), pads


def _np_max_pool(x, window, strides=None, padding="VALID"):
    return _np_reduce_window(x, "max", *_pool_dims(window, strides, padding))


def _jnp_max_pool(x, window, strides=None, padding="VALID"):  # flax.linen.max_pool's formula
    return jlax.reduce_window(x, -jnp.inf, jlax.max, *_pool_dims(window, strides, padding))


def _np_avg_pool(x, window, strides=None, padding="VALID", count_include_pad=True):
    y = _np_reduce_window(x, "add", *_pool_dims(window, strides, padding))
    if count_include_pad:
        return y / np.asarray(np.prod(window), x.dtype)
    return y / _np_reduce_window(np.ones(x.shape[:-1] + (1,), x.dtype), "add", *_pool_dims(window, strides, padding))


def _jnp_avg_pool(x, window, strides=None, padding="VALID", count_include_pad=True):  # flax.linen.avg_pool's
    y = jlax.reduce_window(x, 0.0, jlax.add, *_pool_dims(window, strides, padding))
    if count_include_pad:
        return y / np.prod(window)
    return y / jlax.reduce_window(jnp.ones(x.shape[:-1] + (1,), x.dtype), 0.0, jlax.add,
                                  *_pool_dims(window, strides, padding))


def _nn_row(name, jfn):
    def f(m, *args, **kw):
        return getattr(_fnn, name)(*args, **kw) if m is fnp else jfn(*args, **kw)
    return f


# ----------------------------------------------------------------------------- funcgrad.nn and funcgrad.scipy
# (begin)  Each row calls funcgrad's function; ``ref`` is the NumPy formula written out here
# (Python's math.erf / erfc / lgamma elementwise; scipy.special, a test-only oracle, for
# erfinv / digamma / polygamma); ``jref`` is jax.nn / jax.scipy / optax (derivative tests).
import math  # noqa: E402

import jax  # noqa: E402
import jax.scipy.special as _jsp  # noqa: E402
import jax.scipy.stats.norm as _jnorm  # noqa: E402
import optax as _optax  # noqa: E402
import scipy.special as _ssp  # noqa: E402

import funcgrad.nn as _nn  # noqa: E402
import funcgrad.scipy.special as _fsp  # noqa: E402
import funcgrad.scipy.stats.norm as _fnorm  # noqa: E402

_KEY = np.array([0, 42], np.uint32)  # jax.random.PRNGKey(42)
_MASK34 = np.array([[True, False, True, True], [False, True, True, False], [True, True, True, True]])
_LOGITS_BIG = np.array([[1e4, -1e4, 0.0], [3.0, 2.0, 1.0], [-1e4, -1e4, 5.0]])  # stability: finite values, grads
_EXTREME = np.array([-1e4, -30.0, -1.5, 0.3, 30.0, 1e4])


def _fcall(fn):
    """``f`` for a funcgrad.nn / funcgrad.scipy row (the module argument is unused)."""
    return lambda m, *a, **kw: fn(*a, **kw)


def _float_dt(*xs):
    return np.result_type(*[np.exp(np.zeros((), np.asarray(x).dtype)) for x in xs])


def _elementwise(fn):
    """A scalar function (math.erf, ...) over an array, in the float dtype NumPy would give."""
    def ref(x, *rest):
        out = np.vectorize(lambda v: fn(float(v), *rest), otypes=[np.float64])(x)
        return out.astype(_float_dt(x))
    return ref


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_gelu(x, approximate=True):
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _elementwise(math.erf)(x / math.sqrt(2)))


def _np_log_softmax(x, axis=-1, where=None):
    m = np.max(x, axis, keepdims=True, where=True if where is None else where, initial=-np.inf)
    s = x - m
    out = s - np.log(np.sum(np.exp(s), axis, keepdims=True, where=True if where is None else where))
    return out if where is None else np.where(where, out, -np.inf)


def _np_softmax(x, axis=-1, where=None):
    out = np.exp(_np_log_softmax(x, axis, where))
    return out if where is None else np.where(where, out, 0)


def _np_logsumexp(a, b=None, axis=None, keepdims=False, return_sign=False, where=None):
    w = True if where is None else where
    m = np.max(a, axis, keepdims=True, where=w, initial=-np.inf)
    s = np.sum(np.exp(a - m) * (1 if b is None else b), axis, keepdims=True, where=w)
    out = np.log(np.abs(s)) + m
    sign = np.sign(s)
    if not keepdims:
        out, sign = np.squeeze(out, axis), np.squeeze(sign, axis)
    if return_sign:
        return out, sign
    return np.where(sign < 0, np.nan, out) if b is not None else out


def _logsumexp_row(fn):
    return lambda m, a, b=None, **kw: fn(a, b=b, **kw)


def _np_one_hot(x, n, dtype=np.float32, axis=-1):
    return np.moveaxis(x[..., None] == np.arange(n), -1, axis).astype(dtype)


def _np_standardize(x, axis=-1, epsilon=1e-5, where=None, algorithm="fast"):
    w = True if where is None else where
    mean = np.mean(x, axis, keepdims=True, where=w)
    if algorithm == "fast":
        var = np.maximum(np.mean(x * x, axis, keepdims=True, where=w) - mean * mean, 0)
    else:
        var = np.mean((x - mean) ** 2, axis, keepdims=True, where=w)
    return (x - mean) / np.sqrt(var + epsilon)


def _jax_bernoulli_ref(mod):
    def ref(key, rate, x):
        keep = jax.random.bernoulli(jnp.asarray(key), np.float32(1 - rate), np.shape(x))
        return mod.where(np.asarray(keep) if mod is np else keep, x / (1 - rate), 0)
    return ref


def _np_reduce(loss, reduction="mean"):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _jnp_reduce(loss, reduction="mean"):
    return {"mean": jnp.mean, "sum": jnp.sum, "none": lambda v: v}[reduction](loss)


def _np_huber(p, t, delta=1.0, reduction="mean"):
    a = np.abs(p - t)
    return _np_reduce(np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta)), reduction)


def _np_cross_entropy(logits, labels, axis=-1, reduction="mean"):
    logp = _np_log_softmax(logits, axis)
    if labels.dtype.kind in "iu":
        nll = -np.squeeze(np.take_along_axis(logp, np.expand_dims(labels, axis), axis), axis)
    else:
        nll = -np.sum(labels * logp, axis)
    return _np_reduce(nll, reduction)


def _jnp_cross_entropy(logits, labels, axis=-1, reduction="mean"):
    if jnp.issubdtype(labels.dtype, jnp.integer):
        nll = _optax.softmax_cross_entropy_with_integer_labels(logits, labels, axis=axis)
    else:
        nll = _optax.softmax_cross_entropy(logits, labels, axis=axis)
    return _jnp_reduce(nll, reduction)


def _np_bce(x, z, reduction="mean"):
    z = z.astype(x.dtype)
    return _np_reduce(np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))), reduction)


def _init_ref(name):
    def ref(key, shape, dtype=np.float32):
        with jax.enable_x64(True):
            return np.asarray(getattr(jax.nn.initializers, name)()(jnp.asarray(key), shape, dtype))
    return ref


def _init_row(name, **kw):
    return op(f"nn.{name}", V(S(_KEY), S((3, 4)), id=f"nn.{name}-(3,4)"),
              V(S(_KEY), S((3, 3, 5, 8)), S(np.float64), id=f"nn.{name}-(3,3,5,8)-f64"),
              f=_fcall(getattr(_nn, name)), ref=_init_ref(name), diff=False, **kw)


def _np_norm_logpdf(x, loc=0, scale=1):
    log_norm = np.log(2 * np.pi * scale * scale)
    log_norm = log_norm if isinstance(scale, np.ndarray) else float(log_norm)  # a Python scale stays weak
    return -0.5 * log_norm - 0.5 * ((x - loc) / scale) ** 2


def _np_norm_cdf(x, loc=0, scale=1):
    z = (x - loc) / scale
    return _elementwise(math.erfc)(-z / np.sqrt(2)).astype(np.result_type(z)) * 0.5


# (end) funcgrad.nn and funcgrad.scipy helpers


# ----------------------------------------------------------------------------- the table

OPS = [
    # ------------------------------------------------------------------ funcgrad.nn (begin)
    op("nn.relu", *unary(scalar=True), V(np.array([-1.0, 0.0, 2.0]), grad=False), f=_fcall(_nn.relu),
       ref=lambda x: np.maximum(x, 0), jref=jax.nn.relu),
    op("nn.relu6", V("f64[3,4]"), V("f32[3,4]"), V(np.array([-1.5, 0.5, 3.0, 5.9, 6.5, 8.0]), grad=True),
       V(np.array([0.0, 6.0, 7.0]), grad=False), f=_fcall(_nn.relu6), ref=lambda x: np.clip(x, 0.0, 6.0),
       jref=jax.nn.relu6),
    op("nn.sigmoid", *unary(ints=False), V(_EXTREME, grad=True), f=_fcall(_nn.sigmoid), ref=_np_sigmoid,
       jref=jax.nn.sigmoid),
    op("nn.log_sigmoid", *unary(ints=False), V(_EXTREME, grad=True), f=_fcall(_nn.log_sigmoid),
       ref=lambda x: -np.logaddexp(-x, 0), jref=jax.nn.log_sigmoid),
    op("nn.tanh", *unary(ints=False), f=_fcall(_nn.tanh), ref=np.tanh, jref=jax.nn.tanh),
    op("nn.softplus", *unary(ints=False), V(_EXTREME, grad=True), V(np.array([0.0])), f=_fcall(_nn.softplus),
       ref=lambda x: np.logaddexp(x, 0), jref=jax.nn.softplus),
    op("nn.silu", *unary(ints=False), V(_EXTREME, grad=True), f=_fcall(_nn.silu),
       ref=lambda x: x * _np_sigmoid(x), jref=jax.nn.silu),
    op("nn.gelu", *unary(ints=False), V("f64[3,4]", approximate=False, grad=True), V("f32[5]", approximate=False),
       f=_fcall(_nn.gelu), ref=_np_gelu, jref=jax.nn.gelu),
    op("nn.elu", *unary(ints=False), V("f32[3,4]", alpha=0.5, grad=True), f=_fcall(_nn.elu),
       ref=lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), jref=jax.nn.elu),
    op("nn.leaky_relu", *unary(ints=False), V("f64[3,4]", negative_slope=0.2, grad=True), f=_fcall(_nn.leaky_relu),
       ref=lambda x, negative_slope=0.01: np.where(x >= 0, x, negative_slope * x), jref=jax.nn.leaky_relu),
    op("nn.softmax", V("f64[3,4]"), V("f32[2,3,4]", axis=1), V("f64[3,4]", axis=(0, 1), grad=True),
       V(_LOGITS_BIG, grad=True), V("f64[3,4]", where=_MASK34, grad=True), f=_fcall(_nn.softmax), ref=_np_softmax,
       jref=jax.nn.softmax),
    op("nn.log_softmax", V("f64[3,4]"), V("f32[2,3,4]", axis=0), V(_LOGITS_BIG, grad=True),
       V("f64[3,4]", where=_MASK34, grad=False),  # masked outputs are -inf: no finite differences
       f=_fcall(_nn.log_softmax), ref=_np_log_softmax,
       jref=jax.nn.log_softmax),
    op("nn.logsumexp", V("f64[3,4]"), V("f32[3,4]", axis=1), V("f64[2,3,4]", axis=(0, 2), keepdims=True, grad=True),
       V(_LOGITS_BIG, axis=1, grad=True), V("f64[3,4]", "pos:f64[3,4]", axis=1, grad=True),
       V("f64[3,4]", "f64[3,4]", axis=0, return_sign=True, grad=True), V("f64[3,4]", axis=1, where=_MASK34, grad=True),
       f=_logsumexp_row(_nn.logsumexp), ref=_np_logsumexp, jref=lambda a, b=None, **kw: jax.nn.logsumexp(a, b=b, **kw)),
    op("nn.one_hot", V("i32[5]", S(4)), V("i64[2,3]", S(3), axis=0), V("i32[4]", S(3), dtype=fnp.float64),
       V("u8[3]", S(5), dtype=fnp.int32), f=_fcall(_nn.one_hot), ref=_np_one_hot, jref=jax.nn.one_hot, diff=False),
    op("nn.standardize", V("f64[3,4]"), V("f32[4,5]", axis=0), V("f64[3,4]", algorithm="stable", grad=True),
       V("f64[3,4]", axis=1, where=_MASK34, grad=True), V("f64[2,3,4]", axis=(1, 2), epsilon=0.1, grad=True),
       f=_fcall(_nn.standardize), ref=_np_standardize, jref=jax.nn.standardize),
    op("nn.dropout", V(S(_KEY), S(0.3), "f64[4,5]"), V(S(_KEY), S(0.5), "f32[3,4]"), V(S(_KEY), S(0.0), "f32[3]"),
       f=_fcall(_nn.dropout), ref=_jax_bernoulli_ref(np), jref=_jax_bernoulli_ref(jnp)),
    op("nn.mse_loss", V("f64[3,4]", "f64[3,4]"), V("f32[5]", "f32[5]"), V("f64[3,4]", "f64[3,4]", reduction="sum"),
       V("f64[3,4]", "f64[3,4]", reduction="none"), V("f32[4]", 0.5), f=_fcall(_nn.mse_loss),
       ref=lambda p, t, reduction="mean": _np_reduce((p - t) ** 2, reduction),
       jref=lambda p, t, reduction="mean": _jnp_reduce((p - t) ** 2, reduction)),
    op("nn.l1_loss", V("f64[3,4]", "f64[3,4]"), V("f32[5]", "f32[5]"), V("f64[3,4]", "f64[3,4]", reduction="sum"),
       f=_fcall(_nn.l1_loss), ref=lambda p, t, reduction="mean": _np_reduce(np.abs(p - t), reduction),
       jref=lambda p, t, reduction="mean": _jnp_reduce(jnp.abs(p - t), reduction)),
    op("nn.huber_loss", V("f64[3,4]", "f64[3,4]"), V("f32[5]", "f32[5]", delta=0.5),
       V("f64[3,4]", "f64[3,4]", delta=0.7, reduction="none", grad=True), f=_fcall(_nn.huber_loss), ref=_np_huber,
       jref=lambda p, t, delta=1.0, reduction="mean": _jnp_reduce(_optax.huber_loss(p, t, delta=delta), reduction)),
    op("nn.cross_entropy", V("f64[4,5]", np.array([0, 3, 4, 1])), V("f32[2,3,5]", np.array([[0, 1, 2], [4, 4, 0]])),
       V("f64[4,3]", np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.1, 0.1, 0.8]]), grad=True),
       V(_LOGITS_BIG, np.array([1, 0, 2]), grad=True), V(_LOGITS_BIG, np.eye(3)[[1, 0, 2]], grad=True),
       V("f64[5,3]", np.array([2, 0, 1]), axis=0, grad=True), V("f64[4,5]", np.array([0, 3, 4, 1]), reduction="none"),
       f=_fcall(_nn.cross_entropy), ref=_np_cross_entropy, jref=_jnp_cross_entropy),
    op("nn.binary_cross_entropy", V("f64[3,4]", np.array([[0.0, 1.0, 0.3, 1.0]] * 3)),
       V("f32[6]", np.array([0, 1, 1, 0, 1, 0], np.int32)), V(_EXTREME, np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0]),
                                                               grad=True),
       V("f64[4]", np.array([True, False, True, True]), reduction="sum", grad=True), f=_fcall(_nn.binary_cross_entropy),
       ref=_np_bce, jref=lambda x, z, reduction="mean": _jnp_reduce(
           _optax.sigmoid_binary_cross_entropy(x, jnp.asarray(z, x.dtype)), reduction)),
    _init_row("glorot_uniform"),
    _init_row("glorot_normal", tol=(1e-5, 1e-6)),  # truncated normals: erfinv rounding differs by an ulp
    _init_row("he_uniform"),
    _init_row("he_normal", tol=(1e-5, 1e-6)),
    op("nn.zeros", V(S(_KEY), S((3, 4))), V(S(_KEY), S((2,)), S(np.int32)), f=_fcall(_nn.zeros),
       ref=lambda k, s, dtype=np.float32: np.zeros(s, dtype), diff=False),
    # ------------------------------------------------------------------ funcgrad.nn (end)
    # ------------------------------------------------------------------ funcgrad.scipy (begin)
    op("scipy.special.erf", *unary(), V(np.array([-30.0, -5.0, -1.0, 1.0, 5.0, 30.0])), f=_fcall(_fsp.erf),
       ref=_elementwise(math.erf), jref=_jsp.erf),
    op("scipy.special.erfc", *unary(), V(np.array([-30.0, -5.0, -1.0, 1.0, 5.0, 26.0]), grad=True),
       f=_fcall(_fsp.erfc), ref=_elementwise(math.erfc), jref=_jsp.erfc),
    op("scipy.special.erfinv", *unary(ints=False), V(np.array([-1.0, -0.999999, 1e-300, 0.5, 0.9999999999, 1.0])),
       f=_fcall(_fsp.erfinv), ref=lambda x: _ssp.erfinv(x).astype(_float_dt(x)), jref=_jsp.erfinv, dom="unit"),
    op("scipy.special.gammaln", *unary(), V(np.array([-2.5, -0.3, 0.7, 3.2, 10.5, 40.0, -40.5]), grad=True),
       f=_fcall(_fsp.gammaln), ref=_elementwise(math.lgamma), jref=_jsp.gammaln, dom="pos"),
    op("scipy.special.digamma", *unary(ints=False), V(np.array([-2.5, -0.3, 0.7, 3.2, 10.5, 40.0]), grad=True),
       f=_fcall(_fsp.digamma), ref=lambda x: _ssp.digamma(x).astype(_float_dt(x)), jref=_jsp.digamma, dom="pos"),
    op("scipy.special.polygamma", V(S(1), "f64[3,4]"), V(S(2), "f32[5]"), V(S(3), "f64[4]", grad=True),
       V(S(0), "f64[3]"), V(S(1), np.array([-2.5, -0.3, 0.7, 30.0]), grad=True), f=_fcall(_fsp.polygamma),
       ref=lambda n, x: _ssp.polygamma(n, x).astype(_float_dt(x)), jref=_jsp.polygamma, dom="pos"),
    op("scipy.special.expit", *unary(), V(_EXTREME, grad=True), f=_fcall(_fsp.expit), ref=_np_sigmoid,
       jref=_jsp.expit),
    op("scipy.special.logit", V("prob:f64[3,4]"), V("prob:f32[5]"), f=_fcall(_fsp.logit),
       ref=lambda x: np.log(x / (1 - x)), jref=_jsp.logit),
    op("scipy.special.ndtr", *unary(ints=False), V(np.array([-40.0, -10.0, -1.0, 0.5, 10.0])), f=_fcall(_fsp.ndtr),
       ref=lambda x: _np_norm_cdf(x), jref=_jsp.ndtr),
    op("scipy.special.logsumexp", V("f64[3,4]"), V("f32[3,4]", "pos:f32[3,4]", axis=0, keepdims=True),
       f=_logsumexp_row(_fsp.logsumexp), ref=_np_logsumexp,
       jref=lambda a, b=None, **kw: _jsp.logsumexp(a, b=b, **kw)),
    op("scipy.stats.norm.logpdf", V("f64[3,4]"), V("f64[3,4]", "f64[3,4]", "pos:f64[3,4]", grad=True),
       V("f32[5]", 1.5, 2.0), f=_fcall(_fnorm.logpdf), ref=_np_norm_logpdf, jref=_jnorm.logpdf),
    op("scipy.stats.norm.pdf", V("f64[3,4]"), V("f32[3,4]", "f32[4]", "pos:f32[3,4]", grad=True),
       f=_fcall(_fnorm.pdf), ref=lambda *a: np.exp(_np_norm_logpdf(*a)), jref=_jnorm.pdf),
    op("scipy.stats.norm.cdf", V("f64[3,4]"), V("f64[3,4]", "f64[3,4]", "pos:f64[3,4]", grad=True),
       V(np.array([-40.0, -10.0, -1.0, 0.5, 10.0])), f=_fcall(_fnorm.cdf), ref=_np_norm_cdf, jref=_jnorm.cdf),
    # ------------------------------------------------------------------ funcgrad.scipy (end)
    # ------------------------------------------------------------------ convolution and pooling (begin)
    op("lax.conv_general_dilated",
       V("f64[2,3,6,5]", "f64[4,3,3,2]", window_strides=(1, 1), padding="SAME"),
       V("f32[2,7,6,3]", "f32[3,2,3,4]", window_strides=(2, 2), padding=((1, 0), (0, 2)), rhs_dilation=(2, 1),
         dimension_numbers=("NHWC", "HWIO", "NHWC"), grad=True),
       V("f64[2,4,4,5]", "f64[6,2,3,3]", window_strides=(1, 2), padding=((1, 1), (2, 1)), lhs_dilation=(2, 2),
         feature_group_count=2, grad=True),
       V("f64[2,9,4]", "f64[3,1,4]", window_strides=(2,), padding="SAME_LOWER", feature_group_count=4,
         dimension_numbers=("NWC", "WIO", "NWC"), grad=True, id="lax.conv_general_dilated-depthwise-1d"),
       V("f64[4,3,5,4]", "f64[6,3,3,3]", window_strides=(1, 1), padding="VALID", batch_group_count=2, grad=True),
       V("f64[2,2,4,3,3]", "f64[3,2,2,3,2]", window_strides=(1, 2, 1), padding="SAME", grad=True),
       V("i32[2,3,5,5]", "i32[4,3,3,3]", window_strides=(1, 1), padding="SAME"),
       f=_conv_row, ref=_np_conv, tol=(1e-5, 1e-5)),
    op("lax.reduce_window(max)",
       V("f64[2,6,7,3]", S((1, 3, 3, 1)), S((1, 2, 2, 1)), S("SAME")),
       V("f32[2,6,7,3]", S((1, 2, 3, 1)), S((1, 1, 2, 1)), S(((0, 0), (1, 1), (2, 0), (0, 0))),
         S((1, 2, 1, 1)), grad=True),
       V("f64[5,8]", S((2, 3)), S((1, 2)), S(((1, 1), (0, 1))), S(None), S((2, 2)), grad=False,
         id="lax.reduce_window(max)-window_dilation"),
       V("i32[4,6]", S((2, 2)), S((1, 2)), S("SAME")),
       f=_rw_row("max"), ref=lambda x, *a: _np_reduce_window(x, "max", *a), dom="distinct"),
    op("lax.reduce_window(add)",
       V("f64[2,6,7,3]", S((1, 3, 3, 1)), S((1, 2, 2, 1)), S("SAME")),
       V("f32[5,8]", S((2, 3)), S((1, 2)), S(((-1, 1), (2, -1))), S((2, 1)), S((1, 2)), grad=True),
       V("i32[4,6]", S((2, 2)), S((1, 2)), S("VALID")),
       f=_rw_row("add"), ref=lambda x, *a: _np_reduce_window(x, "add", *a), tol=(1e-5, 1e-5)),
    op("nn.conv", V("f64[2,6,5,3]", "f64[3,3,3,4]"), V("f32[2,7,6,2]", "f32[3,2,2,3]", S(2), S("VALID"), grad=True),
       f=_nn_row("conv", _jnp_conv_nhwc), ref=_np_conv_nhwc, tol=(1e-5, 1e-5)),
    op("nn.max_pool", V("f64[2,6,6,3]", S((2, 2))), V("f32[2,7,6,2]", S((3, 3)), S((2, 2)), S("SAME"), grad=True),
       f=_nn_row("max_pool", _jnp_max_pool), ref=_np_max_pool, dom="distinct"),
    op("nn.avg_pool", V("f64[2,6,6,3]", S((2, 2))),
       V("f32[2,7,6,2]", S((3, 3)), S((2, 2)), S("SAME"), count_include_pad=False, grad=True),
       f=_nn_row("avg_pool", _jnp_avg_pool), ref=_np_avg_pool, tol=(1e-5, 1e-5)),
    # ------------------------------------------------------------------ convolution and pooling (end)
    # ------------------------------------------------------------------ control flow (funcgrad.lax)
    op("lax.cond", V("f64[3]"), V("f32[2,2]"), f=_cond, ref=_np_cond),
    op("lax.switch", V("distinct:f64[4]"), V("distinct:f32[3]"), f=_switch, ref=_np_switch),
    op("lax.scan", V("f64[5,3]"), V("f32[4,2]"), f=_scan, ref=_np_scan),
    op("lax.scan(reverse=True)", V("f64[5,3]"), f=functools.partial(_scan, reverse=True),
       ref=functools.partial(_np_scan, reverse=True)),
    op("lax.fori_loop", V("f64[3]"), V("f32[2,2]"), f=_fori, ref=_np_fori),
    op("lax.while_loop", V("pos:f64[3]"), V("pos:f32[2]"), f=_while, ref=_np_while, diff=False),
    op("lax.map", V("f64[4,3]"), V("f32[2,3]"), f=_map, ref=lambda x: np.array([np.sum(np.sin(r) * r) for r in x])),
    # ------------------------------------------------------------------ creation
    op("array", V(S([1.0, 2.5])), V(S([[1, 2], [3, 4]])), V(S([True, False])), V("f64[3]"), V("i32[2,2]"),
       V(S([1, 2]), dtype=fnp.float64), V(S([1.5, 2.0]), dtype=fnp.int32), V("f32[2]", ndmin=3),
       creation=True),
    op("array(list of arrays)",  # Python floats beside arrays are weak: [f32, 1.5] is float32
       V("f64[]", "f64[]"), V("f32[2]", "f32[2]"), V("f32[]", 1.5),
       f=lambda m, *xs: m.array(list(xs)), ref=lambda *xs: np.array(list(xs)).astype(np.result_type(*xs))),
    op("asarray", V(S([1.0, 2.5])), V(S(3)), V(S(2.0)), V("f64[3]"), V("u8[2]"), V(S([1, 2]), dtype=fnp.float32),
       creation=True),
    op("zeros", V(S(3)), V(S((2, 3))), V(S((2,)), dtype=fnp.int32), V(S(()), dtype=fnp.bool_),
       creation=True, diff=False),
    op("ones", V(S(3)), V(S((2, 3))), V(S((2,)), dtype=fnp.float64), V(S(2), dtype=fnp.uint8),
       creation=True, diff=False),
    op("empty", V(S(3)), V(S((2, 3)), dtype=fnp.int64), ref=np.zeros, creation=True, diff=False),
    op("full", V(S((2, 3)), S(2.5)), V(S(3), S(7)), V(S(2), S(True)), V(S((2,)), S(1.5), dtype=fnp.int32),
       V(S((2, 3)), "f64[]"), V(S((2, 3)), "f32[]", dtype=fnp.float64),
       creation=True),
    op("zeros_like", V("f32[2,3]"), V("i32[3]"), V("f64[2]", dtype=fnp.int32), V("bool[2]"), diff=False),
    op("ones_like", V("f32[2,3]"), V("i32[3]"), V("f64[2]", dtype=fnp.float32), diff=False),
    op("empty_like", V("f32[2,3]"), V("i32[3]"), ref=np.zeros_like, diff=False),
    op("full_like", V("f64[3]", "f64[]"), V("f32[2,3]", S(2.5)), V("i32[3]", S(2.5)),
       V("f32[3]", S(1), dtype=fnp.int64), V("f64[2]", "f32[]")),
    op("arange", V(S(5)), V(S(1), S(7), S(2)), V(S(0.0), S(1.0), S(0.25)), V(S(5), dtype=fnp.float64), V(S(3.0)),
       creation=True, diff=False),
    op("linspace", V(S(0.0), S(1.0), S(5)), V(S(0), S(1), num=4, endpoint=False),
       V(S(1), S(3), S(3), dtype=fnp.int32), V("f64[]", "f64[]", S(5)), V("f32[]", "f32[]", S(4)),
       V("f64[2]", "f64[2]", S(3), axis=1), V("f64[2]", "f64[2]", S(3), axis=-1),
       creation=True),
    op("eye", V(S(3)), V(S(2), S(3), k=1), V(S(3), dtype=fnp.int32), V(S(3), k=-1), creation=True, diff=False),

    # ------------------------------------------------------------------ elementwise unary
    op("negative", *unary()),
    op("positive", *unary()),
    op("abs", *unary(), V("i8[4]"), dom="nonzero"),
    op("absolute", *unary(), dom="nonzero"),
    op("sign", *unary(), dom="nonzero"),
    op("exp", *unary()),
    op("exp2", *unary(), V("u8[3]")),
    op("log", *unary(), dom="pos"),
    op("log2", *unary(), dom="pos"),
    op("log10", *unary(), dom="pos"),
    op("log1p", *unary(), dom="pos"),
    op("expm1", *unary()),
    op("sqrt", *unary(), dom="pos"),
    op("cbrt", *unary(), dom="nonzero"),
    op("square", *unary(), V("u8[3]"), V("bool[3]")),
    op("reciprocal", *unary(), dom="nonzero"),
    op("sin", *unary()),
    op("cos", *unary()),
    op("tan", *unary(), dom="unit"),
    op("arcsin", *unary(ints=False), dom="unit"),
    op("arccos", *unary(ints=False), dom="unit"),
    op("arctan", *unary()),
    op("sinh", *unary()),
    op("cosh", *unary()),
    op("tanh", *unary()),
    op("arcsinh", *unary()),
    op("arccosh", *unary(), dom="gt1"),
    op("arctanh", *unary(ints=False), dom="unit"),
    op("floor", *unary(), dom="frac"),
    op("ceil", *unary(), dom="frac"),
    op("rint", *unary(), dom="frac"),
    op("trunc", *unary(), dom="frac"),
    op("round", *unary(), V("f32[3,4]", decimals=2), V("i32[4]", decimals=0), V("i32[4]", decimals=-1), dom="frac"),
    op("sinc", *unary(), V(np.array([0.0, 0.5, -1.0])), V(np.array([0.0, 1.0], np.float32))),
    op("logical_not", V("bool[3,4]"), V("small:f32[5]"), V("i32[4]"), diff=False),
    op("fabs", *unary(), V("i8[4]"), V("bool[3]"), V("u32[3]"), dom="nonzero"),
    *[op(name, *unary(), V("u8[3]"), V("bool[3]"), V("i16[3]"), V("f16[3]"))
      for name in ("deg2rad", "rad2deg", "radians", "degrees")],
    op("nan_to_num", V("f64[3,4]"), V(NONFINITE, grad=True), V(NONFINITE.astype(np.float32)),
       V(NONFINITE.astype(np.float16)), V(NONFINITE, nan=1.5, posinf=2.0, neginf=-2.0, grad=True),
       V(NONFINITE.astype(np.float32), posinf=1e300, neginf=np.float64(-3.0)), V("i32[4]"), V("bool[3]"), V("float")),
    op("isfinite", V(np.array([1.0, np.inf, -np.inf, np.nan])), V("f32[3]"), V("i32[3]"), diff=False),
    op("isnan", V(np.array([1.0, np.inf, -np.inf, np.nan])), V("f32[3]"), V("i32[3]"), diff=False),
    op("isinf", V(np.array([1.0, np.inf, -np.inf, np.nan], np.float32)), V("f64[3]"), V("bool[3]"), diff=False),

    # ------------------------------------------------------------------ elementwise binary
    op("add", *binary(), V("bool[3]", "bool[3]"), V("bool[3]", "i32[3]"), V("f32[3]", np.float64(1.0))),
    op("subtract", *binary()),
    op("multiply", *binary(), V("bool[3]", 2.5)),
    op("divide", *binary(dy="nonzero:"), V("i32[3]", "nonzero:i32[3]")),
    op("true_divide", *binary(dy="nonzero:", ints=False), V("i32[3]", 2)),
    op("floor_divide", *binary(dx="frac:", dy="pos:")),
    op("power", *binary(dx="pos:", ints=False), V("i32[3]", 2), V("pos:i32[3]", "pos:i32[3]"), V(2.0, "f32[3]"),
       V("pos:f32[3]", 0.5)),
    op("maximum", *binary(), V("bool[3]", "bool[3]")),
    op("minimum", *binary()),
    op("fmax", *binary(ints=False), V(np.array([1.0, np.nan, np.nan]), np.array([np.nan, 2.0, np.nan])),
       V("i32[3]", "i32[3]")),
    op("fmin", *binary(ints=False), V(np.array([1.0, np.nan, np.nan]), np.array([np.nan, 2.0, np.nan]))),
    op("arctan2", *binary(ints=False), V("i32[3]", "pos:i32[3]")),
    op("logaddexp", *binary(ints=False), V("u8[3]", "bool[3]"),
       V(np.array([-np.inf, 1.0, 800.0]), np.array([-np.inf, -np.inf, 800.0]))),
    op("logaddexp2", *binary(ints=False), V("u8[3]", "bool[3]"), V("i32[3]", "i32[3]"),
       V(np.array([-np.inf, 1.0, 800.0, np.inf]), np.array([-np.inf, -np.inf, 800.0, np.inf]))),
    op("hypot", *binary(ints=False), V("i32[3]", "i32[3]"), V("bool[3]", "bool[3]")),
    op("mod", *binary(dy="pos:"), V("nonzero:f64[3,4]", "nonzero:f64[4]"), dom="frac"),
    op("remainder", *binary(dy="pos:"), V("i32[5]", "nonzero:i32[5]"), dom="frac"),
    op("clip", V("f64[3,4]", S(-0.5), S(0.5)), V("f32[3,4]", "f32[4]", "f32[3,1]", grad=True),
       V("i32[5]", S(0), S(3)), V("f32[5]", S(None), S(0.3)), V("f32[5]", 0.1, 0.4), V("i32[4]", 0.5, 2.5)),
    op("where", V("bool[3,4]", "f64[3,4]", "f64[4]"), V("bool[3]", "f32[3]", 0.0), V("bool[3,1]", "i32[4]", 1.5),
       V("bool[3]", "i32[3]", "u8[3]"), V("f32[3]", "f32[3]", "f32[3]")),
    op("select", V("bool[3,4]", "bool[4]", "f64[3,4]", "f64[4]"),
       V("bool[3,4]", "bool[4]", "f32[3,4]", "f32[3,1]", default=1.5),
       V("bool[3]", "bool[3]", "i32[3]", 2.5), V("bool[2,1]", "bool[3]", "f32[]", "i8[3]", default=np.float64(-1.0)),
       V("bool[4]", "bool[4]", "i32[4]", "u8[4]"), V("bool[3]", "bool[2,1]", 1, 2, grad=False),
       f=lambda m, c1, c2, x, y, **kw: m.select([c1, c2], [x, y], **kw)),
    op("select(array default)", V("bool[3,4]", "f64[4]", "f64[3,1]"), V("bool[3]", "f32[3]", "f64[]", grad=True),
       V("bool[4]", "i32[4]", "f32[4]"), f=lambda m, c, x, d: m.select([c], [x], d)),

    # ------------------------------------------------------------------ comparison and logic
    *[op(name, V("small:f64[3,4]", "small:f64[4]"), V("small:f32[3]", 1.0), V("small:i32[3,4]", "small:i32[3,4]"),
         V("small:i32[3]", 1.5), V("bool[3]", "bool[3]"), V("small:u8[3]", "small:i8[3]"), diff=False)
      for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")],
    *[op(name, V("bool[3,4]", "bool[4]"), V("small:f32[5]", "small:i32[5]"), V("bool[3]", True), diff=False)
      for name in ("logical_and", "logical_or")],
    op("allclose", V("f64[3,4]", "f64[3,4]"), V(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-7])),
       V(np.array([1.0, np.inf]), np.array([1.0, np.inf]), id="allclose-inf"), V("f32[3]", "f32[1]"),
       V(np.array([1.0, np.nan]), np.array([1.0, np.nan]), equal_nan=True),
       diff=False),

    # ------------------------------------------------------------------ reductions
    op("sum", V("f64[3,4]"), V("f32[3,4]", axis=1), V("f32[3,4]", axis=0, keepdims=True),
       V("f32[2,3,4]", axis=(0, 2)), V("i32[3,4]", axis=0), V("bool[3,4]"), V("u8[4]"),
       V("f32[3,4]", axis=-1, dtype=fnp.float64), V("f64[2,3]", axis=(0, 1), keepdims=True, grad=True)),
    op("prod", V("f64[3,4]"), V("f32[3,4]", axis=1), V("i32[3,4]", axis=0, keepdims=True), V("bool[4]"),
       V("f64[2,3,2]", axis=(0, 2), grad=True),
       dom="nonzero"),
    op("mean", V("f64[3,4]"), V("f32[3,4]", axis=1), V("i32[3,4]", axis=0, keepdims=True), V("bool[4]"),
       V("f32[3,4]", dtype=fnp.float64), V("f64[2,3,4]", axis=(1, 2), grad=True)),
    op("var", V("f64[3,4]"), V("f32[3,4]", axis=1), V("i32[3,4]", axis=0, ddof=1),
       V("f64[3,4]", axis=0, keepdims=True, ddof=1, grad=True)),
    op("std", V("f64[3,4]"), V("f32[3,4]", axis=1, keepdims=True), V("i32[5]"),
       V("f64[3,4]", axis=0, ddof=1, grad=True)),
    *[op(name, V("f64[3,4]"), V("f32[3,4]", axis=1), V("f32[3,4]", axis=0, keepdims=True),
         V("i32[2,3,4]", axis=(0, 2)), V("bool[3]"), V("f64[3,4]", axis=1, grad=True),
         V(np.array([1.0, 3.0, 3.0]), id=f"{name}-ties"),  # the gradient is split among ties
         dom="distinct")
      for name in ("max", "min", "amax", "amin")],
    *[op(name, V("f64[3,4]"), V("f32[3,4]", axis=1), V("f32[3,4]", axis=0, keepdims=True), V("i32[3,4]", axis=-1),
         V("f32[3,4]", keepdims=True), V(np.array([1.0, 3.0, 3.0]), id=f"{name}-ties"),
         dom="distinct", diff=False)
      for name in ("argmax", "argmin")],
    *[op(name, V("bool[3,4]"), V("bool[3,4]", axis=1), V("small:f32[3,4]", axis=0, keepdims=True),
         V("small:i32[2,3]"), diff=False)
      for name in ("all", "any")],
    op("cumsum", V("f64[3,4]", axis=1), V("f32[3,4]"), V("f32[3,4]", axis=0), V("i32[5]"), V("bool[4]"),
       V("f32[3]", dtype=fnp.float64), V("f64[2,3]", axis=-2, grad=True)),
    op("cumprod", V("f64[3,4]", axis=1), V("f32[3,4]"), V("i32[5]"), V("f64[2,3]", axis=0, grad=True),
       dom="nonzero"),

    # ------------------------------------------------------------------ products and linear algebra
    op("dot", V("f64[3,4]", "f64[4,2]"), V("f32[3,4]", "f32[4]", grad=True), V("f32[4]", "f32[4]", grad=True),
       V("f32[2,3,4]", "f32[4,5]", grad=True), V("f64[3]", "f64[3,2]", grad=True), V("i32[3,4]", "i32[4]"),
       V("f32[2,3]", "f64[3]")),
    # A Python scalar stays weak in dot, as in every funcgrad op (NumPy's dot alone makes it float64).
    op("dot(x, scalar)", V("f32[3]", 2.0), V("f64[2,2]", 3), V(2, "i32[3]"),
       f=lambda m, x, y: m.dot(x, y), ref=np.multiply),
    op("vdot", V("f64[3,4]", "f64[3,4]"), V("f32[6]", "f32[6]"), V("i32[3]", "i32[3]")),
    op("matmul", V("f64[3,4]", "f64[4,2]"), V("f32[2,3,4]", "f32[4,5]", grad=True),
       V("f32[2,1,3,4]", "f32[5,4,2]", grad=True), V("f32[4]", "f32[4,3]", grad=True),
       V("f32[3,4]", "f32[4]", grad=True), V("f64[2,3,4]", "f64[2,4,2]", grad=True), V("f32[4]", "f32[4]"),
       V("i32[3,4]", "i32[4,2]"), V("f32[2,3]", "f64[3,2]")),
    op("tensordot", V("f64[2,3,4]", "f64[3,4,5]"), V("f32[2,3]", "f32[3,4]", axes=([1], [0])),
       V("f64[2,3]", "f64[4,3]", axes=(1, 1), grad=True), V("f32[2]", "f32[3]", axes=0),
       V("f32[2,3,4]", "f32[4,3]", axes=([1, 2], [1, 0]))),
    op("einsum", V(S("ij,jk->ik"), "f64[3,4]", "f64[4,2]"), V(S("ij->ji"), "f64[3,4]", grad=True),
       V(S("ii->i"), "f64[3,3]", grad=True), V(S("ii"), "f32[3,3]"), V(S("ij->"), "f32[3,4]"),
       V(S("ijk->kj"), "f64[2,3,4]", grad=True), V(S("i,i"), "f32[4]", "f32[4]"), V(S("i,j->ij"), "f32[3]", "f32[2]"),
       V(S("ij,j->i"), "f64[3,4]", "f64[4]", grad=True), V(S("bij,bjk->bik"), "f32[2,3,4]", "f32[2,4,5]"),
       V(S("...ij,...jk->...ik"), "f32[2,3,4]", "f32[2,4,2]"), V(S("ij,ij->i"), "i32[2,3]", "i32[2,3]"),
       V(S("ij,jk,kl->il"), "f64[2,3]", "f64[3,4]", "f64[4,2]", grad=True)),
    op("kron", V("f64[2,3]", "f64[3,2]"), V("i32[2]", "i32[2,3]"), V("f32[2,2]", "f32[2]", grad=True),
       V("f64[2]", "f64[]", grad=True), V("f32[2]", "i32[3]"), V("f64[2,1,2]", "f64[3,2]", grad=True)),
    op("cross", V("f64[3]", "f64[3]"), V("f32[4,3]", "f32[3]", grad=True),
       V("f64[3,4]", "f64[4,3]", axisa=0, grad=True),
       V("f64[2,3,4]", "f64[3,4]", axisa=1, axisb=0, axisc=0, grad=True), V("f32[3,2]", "f32[3,2]", axis=0),
       V("f64[5,3]", "f64[5,3]", axisc=-2), V("i32[3]", "i32[3]"), V("i32[2,3]", "f32[3]"),
       # 2-vectors (deprecated in NumPy 2): a zero third component; two of them give a scalar
       V("f64[4,2]", "f64[2]", grad=True), V("f64[4,2]", "f64[3]", grad=True), V("f64[3]", "f32[4,2]", axisc=0),
       V("i32[2]", "i32[2]"),
       ref=_np_cross),
    op("outer", V("f64[3]", "f64[4]"), V("f32[2,2]", "f32[3]", grad=True), V("i32[2]", "i32[3]")),
    op("inner", V("f64[3,4]", "f64[2,4]"), V("f32[4]", "f32[4]"), V("f64[2,3,4]", "f64[4]", grad=True),
       V("i32[3]", "i32[3]")),
    op("trace", V("f64[3,3]"), V("f32[3,4]", offset=1), V("f64[2,3,3]", axis1=1, axis2=2, grad=True),
       V("f32[3,3]", offset=-1, grad=True), V("i32[3,3]")),
    op("linalg.norm", V("f64[3,4]"), V("f64[5]", grad=True), V("f32[3,4]", axis=1),
       V("f32[2,3]", axis=(0, 1), keepdims=True), V("f32[3,4]", axis=0, keepdims=True),
       V("nonzero:f64[5]", ord=1, grad=True), V("nonzero:f64[5]", ord=3, grad=True), V("nonzero:f64[4]", ord=0),
       V("distinct:f64[5]", ord=np.inf, grad=True), V("distinct:f32[5]", ord=-np.inf),
       V("distinct:f64[3,4]", ord=1, grad=True), V("distinct:f64[3,4]", ord=np.inf, grad=True),
       V("f32[3,4]", ord="fro"), V("f64[2,3,4]", axis=(1, 2), grad=True), V("i32[4]"), V("i32[4]", ord=np.inf)),
    # Matrices are made well-conditioned (wc) or SPD (spd) inside the function, so every
    # input is valid and finite differences stay accurate.
    op("linalg.inv", V("f64[3,3]"), V("f32[2,3,3]"),
       f=lambda m, a: m.linalg.inv(wc(m, a)), tol=(1e-4, 1e-5)),
    op("linalg.solve", V("f64[3,3]", "f64[3]"), V("f64[3,3]", "f64[3,2]", grad=True), V("f32[2,3,3]", "f32[2,3,1]"),
       V("f64[2,3,3]", "f64[3,2]", grad=True), V("f32[3,3]", "f64[3]"),
       f=lambda m, a, b: m.linalg.solve(wc(m, a), b), tol=(1e-4, 1e-5)),
    op("linalg.det", V("f64[3,3]"), V("f32[2,3,3]"), V("f64[2,2,2]", grad=True),
       f=lambda m, a: m.linalg.det(wc(m, a)), tol=(1e-4, 1e-5)),
    op("linalg.slogdet", V("f64[3,3]"), V("f32[2,3,3]"),
       f=lambda m, a: tuple(m.linalg.slogdet(wc(m, a))), tol=(1e-4, 1e-5)),
    op("linalg.slogdet(negative det)", V("f64[3,3]"),
       f=lambda m, a: tuple(m.linalg.slogdet(-wc(m, a))), tol=(1e-4, 1e-5)),
    op("linalg.cholesky", V("f64[3,3]"), V("f32[2,3,3]"), V("f64[2,2,2]", grad=True),
       f=lambda m, a: m.linalg.cholesky(spd(m, a)), tol=(1e-4, 1e-5)),

    # ------------------------------------------------------------------ shape
    op("reshape", V("f64[3,4]", S((4, 3))), V("f32[3,4]", S((-1,))), V("f32[2,3,4]", S((6, -1))),
       V("i32[6]", S((2, 3))), V("f32[3,4]", S(12)), V("f32[]", S((1, 1))),
       V(1.5, S((1,)))),
    op("ravel", V("f64[3,4]"), V("i32[2,3]"), V("f32[]")),
    op("transpose", V("f64[2,3,4]"), V("f32[2,3,4]", axes=(1, 0, 2)), V("f64[2,3,4]", S((2, 0, 1)), grad=True),
       V("i32[3,4]"), V("f32[3]")),
    op("swapaxes", V("f64[2,3,4]", S(0), S(2)), V("f32[3,4]", S(-1), S(0))),
    op("moveaxis", V("f64[2,3,4]", S(0), S(-1)), V("f32[2,3,4]", S((0, 1)), S((2, 0))),
       V("f64[2,3,4]", S(2), S(0), grad=True)),
    op("expand_dims", V("f64[3,4]", S(1)), V("f32[3]", S((0, 2))), V("f32[3,4]", S(-1))),
    op("squeeze", V("f64[3,1,4]"), V("f32[1,3,1]", axis=0), V("f32[1,3,1]", axis=(0, 2)), V("i32[1]")),
    op("broadcast_to", V("f64[3,1]", S((2, 3, 4))), V("f32[4]", S((3, 4))), V("f32[]", S(3)),
       V("bool[3,1]", S((3, 2))), V(2.5, S((2,)))),
    op("broadcast_arrays", V("f64[3,1]", "f64[4]"), V("f32[2]", "i32[3,1]", "f32[]")),
    op("atleast_1d", V("f64[]"), V("f32[3]"), V("f32[2,3]"), V("f64[]", "f64[2,3]", grad=True)),
    op("atleast_2d", V("f64[]"), V("f32[3]"), V("f32[2,3]"), V("f64[3]", "f64[]", grad=True)),
    op("atleast_3d", V("f64[]"), V("f32[3]"), V("f32[2,3]"), V("f32[2,3,4]"), V("f64[3]", "f64[2,2]", grad=True)),
    op("meshgrid", V("f64[3]", "f64[2]"), V("f32[3]", "i32[2]", indexing="ij"), V("f32[3]", "f32[2]", "f32[4]"),
       V("f64[3]", "f64[2]", "f64[4]", sparse=True, grad=True), V("f32[2]", "f32[3]", sparse=True, copy=False),
       V("f64[2,2]", "f64[3]", indexing="ij", grad=True), V("f32[3]"),
       V("f64[2]", "f64[3]", "f64[2]", indexing="ij", sparse=True),
       jref=lambda *xs, **kw: jnp.meshgrid(*[jnp.ravel(x) for x in xs], **kw)),  # jax takes 1-d inputs only
    op("append", V("f64[2,3]", "f64[4]"), V("f32[2,3]", "f32[1,3]", axis=0), V("i32[2,3]", "i32[2,1]", axis=-1),
       V("f32[3]", "f64[2]"), V("f64[2,2]", "f64[3]", grad=True), V("f64[2,3]", "f64[2,2]", axis=1, grad=True),
       V("u8[2]", "i8[2]")),
    op("append(scalar)", V("i32[3]", 2), V("f32[2,2]", 1.5), V("f16[2]", 2.5), V("f64[2,2]", 2, grad=True),
       f=lambda m, x, v, **kw: m.append(x, v, **kw), ref=_weak_ref(np.append)),
    op("diff", V("f64[5]"), V("f32[3,4]", n=2), V("f64[3,4]", axis=0, grad=True),
       V("f64[2,3,4]", n=2, axis=1, grad=True),
       V("i32[6]"), V("u8[4]"), V("bool[5]"), V("f64[4]", n=0), V("f32[3]", n=4), V("i32[3,4]", axis=-2, n=2)),
    op("diff(prepend, append)", V("f64[3,4]", "f64[3,1]", "f64[3,2]"), V("f32[4]", "f64[2]", "i32[1]"),
       V("i32[3,2]", "i32[3,1]", "i32[3,2]"), V("f64[3]", "f64[]", "f32[]", grad=True), V("i32[4]", 0, 2),
       V("f32[2,3]", 1.5, "f32[2,1]"), V("bool[4]", True, "bool[1]"),
       f=lambda m, x, p, a: m.diff(x, prepend=p, append=a),
       ref=lambda x, p, a: _weak_ref(np.diff, "prepend", "append")(x, prepend=p, append=a)),
    op("diff(axis, prepend scalar)", V("i32[3,4]", axis=0, prepend=0), V("f32[3,4]", append=1.5, n=2),
       V("f64[2,3]", axis=0, prepend=2.0, grad=True),
       f=lambda m, x, **kw: m.diff(x, **kw), ref=_weak_ref(np.diff, "prepend", "append")),
    op("column_stack", V("f64[3]", "f64[3]"), V("f32[3]", "f32[3,2]"), V("f64[]", "f64[]", grad=True),
       V("i32[2]", "f32[2]"), V("f64[2,2]", "f64[2]", grad=True), f=lambda m, *xs: m.column_stack(xs)),
    op("row_stack", V("f64[3]", "f64[3]"), V("f32[2,3]", "f32[1,3]"), V("f64[]", "f64[]", grad=True),
       V("i32[2]", "f32[2]"), f=lambda m, *xs: m.row_stack(xs), ref=_np_row_stack, jref=lambda *xs: jnp.vstack(xs)),
    op("concatenate", V("f64[2,3]", "f64[1,3]"), V("f32[2,3]", "f32[2,2]", axis=1),
       V("f32[2,2]", "f32[3]", axis=None), V("f32[2]", "i32[3]"), V("f32[2]", "f32[3]", dtype=fnp.float64),
       V("f64[2,3]", "f64[2,1]", "f64[2,2]", axis=-1, grad=True),
       f=lambda m, *xs, **kw: m.concatenate(xs, **kw)),
    op("stack", V("f64[3]", "f64[3]"), V("f32[2,3]", "f32[2,3]", axis=1), V("i32[2]", "f32[2]"),
       V("f64[2,3]", "f64[2,3]", "f64[2,3]", axis=-1, grad=True),
       f=lambda m, *xs, **kw: m.stack(xs, **kw)),
    op("vstack", V("f64[3]", "f64[3]"), V("f32[2,3]", "f32[1,3]"), V("f64[]", "f64[]", grad=True),
       f=lambda m, *xs: m.vstack(xs)),
    op("hstack", V("f64[3]", "f64[2]"), V("f32[2,3]", "f32[2,1]"), V("f64[]", "f64[2]", grad=True),
       f=lambda m, *xs: m.hstack(xs)),
    op("split", V("f64[6]", S(3)), V("f32[3,4]", S([1, 3]), axis=1), V("f64[4,2]", S(2), axis=0, grad=True)),
    op("tile", V("f64[2,3]", S(2)), V("f32[3]", S((2, 2))), V("f64[2,1,3]", S((2, 1)), grad=True), V("i32[2]", S(3))),
    op("repeat", V("f64[2,3]", S(2)), V("f32[2,3]", S(2), axis=1), V("f64[3]", S(np.array([1, 0, 2])), grad=True),
       V("i32[2,2]", S(3), axis=0)),
    op("pad", V("f64[2,3]", S(1)), V("f32[2,3]", S(((1, 0), (0, 2))), constant_values=1.5),
       V("f64[2,3]", S(((1, 1), (2, 0))), mode="edge", grad=True), V("f64[3,4]", S(2), mode="reflect", grad=True),
       V("f32[3,4]", S(((1, 2), (0, 1))), mode="symmetric"),
       V("f64[3,4]", S(((1, 2), (3, 1))), mode="wrap", grad=True),
       V("i32[3]", S((2, 1))), V("f64[3]", S(1), constant_values=2.0)),
    op("flip", V("f64[3,4]"), V("f32[3,4]", axis=1), V("f64[2,3,4]", axis=(0, 2), grad=True)),
    op("fliplr", V("f64[3,4]"), V("f32[2,3,4]"), V("i32[3,2]")),
    op("flipud", V("f64[3,4]"), V("f32[3]"), V("i32[2,3]")),
    op("rot90", V("f64[3,4]"), V("f32[2,3,4]", k=2), V("f64[2,3,4]", k=-1, axes=(1, 2), grad=True),
       V("f64[3,4]", k=3, grad=True), V("f32[3,4]", k=4), V("i32[2,2,3]", k=5, axes=(2, 0)),
       V("f64[3,4]", axes=(1, 0), grad=True), V("f64[2,3,4]", axes=(-1, 0), grad=True)),
    op("roll", V("f64[5]", S(2)), V("f32[3,4]", S(1), axis=1), V("f64[3,4]", S(-1), grad=True),
       V("f64[3,4]", S((1, 2)), axis=(0, 1), grad=True), V("i32[4]", S(7))),
    op("triu", V("f64[3,4]"), V("f32[3,4]", k=1), V("f64[2,3,3]", k=-1, grad=True), V("i32[3,3]")),
    op("tril", V("f64[3,4]"), V("f32[3,4]", k=1), V("f64[2,3,3]", k=-1, grad=True), V("i32[3,3]")),
    op("diag", V("f64[3,3]"), V("f64[3]", grad=True), V("f32[3]", k=1), V("f32[3,4]", k=-1), V("i32[2]", k=-2)),
    op("diagonal", V("f64[3,4]"), V("f32[3,4]", offset=1), V("f64[2,3,4]", axis1=1, axis2=2, grad=True),
       V("f32[3,4]", offset=-2), V("i32[3,3]", offset=0, axis1=1, axis2=0)),

    # ------------------------------------------------------------------ sorting
    op("sort", V("f64[3,4]"), V("f32[3,4]", axis=0), V("f64[3,4]", axis=None, grad=True), V("i32[6]"),
       V(np.array([3.0, 1.0, 3.0, 2.0]), id="sort-ties"),
       dom="distinct"),
    op("argsort", V("f64[3,4]"), V("f32[3,4]", axis=0), V("f32[3,4]", axis=None), V("small:i32[6]"),
       V(np.array([3.0, 1.0, 3.0, 2.0, 1.0]), id="argsort-ties"),  # stable: ties keep their order
       dom="distinct", diff=False),

    # ------------------------------------------------------------------ operators on traced values
    op("x+y", *binary(), f=lambda m, x, y: x + y),
    op("x-y", *binary(), f=lambda m, x, y: x - y),
    op("x*y", *binary(), f=lambda m, x, y: x * y),
    op("x/y", *binary(dy="nonzero:"), f=lambda m, x, y: x / y),
    op("x//y", *binary(dx="frac:", dy="pos:"), f=lambda m, x, y: x // y),
    op("x%y", *binary(dx="frac:", dy="pos:"), f=lambda m, x, y: x % y),
    op("x**y", *binary(dx="pos:", ints=False), V("i32[3]", 2), f=lambda m, x, y: x ** y),
    op("x@y", V("f64[3,4]", "f64[4,2]"), V("f32[2,3,4]", "f32[4]", grad=True), V("f32[4]", "f32[4,3]"),
       V("i32[2,2]", "i32[2,2]"), f=lambda m, x, y: x @ y),
    op("-x", *unary(scalar=False), f=lambda m, x: -x),
    op("abs(x)", V("nonzero:f64[3]"), V("i32[3]"), f=lambda m, x: abs(x)),
    *[op(f"x{o}y", V("small:f32[3,4]", "small:f32[4]"), V("small:f64[3]", 1.0), V(1.0, "small:f32[3]"),
         V("small:i32[3]", 1.5), V("small:i32[3]", "small:u8[3]"), f=fn, diff=False) for o, fn in [
        ("<", lambda m, x, y: x < y), ("<=", lambda m, x, y: x <= y), (">", lambda m, x, y: x > y),
        (">=", lambda m, x, y: x >= y), ("==", lambda m, x, y: x == y), ("!=", lambda m, x, y: x != y)]],
    *[op(f"x{o}y", V("i32[3,4]", "i32[4]"), V("bool[3]", "bool[3]"), V("u8[3]", 6), V("i32[3]", "i8[3]"),
         f=fn, diff=False) for o, fn in [
        ("&", lambda m, x, y: x & y), ("|", lambda m, x, y: x | y), ("^", lambda m, x, y: x ^ y)]],
    op("~x", V("i32[3]"), V("bool[3]"), V("u8[3]"), f=lambda m, x: ~x, diff=False),

    # ------------------------------------------------------------------ indexing
    ix("1", 1), ix("-1", -1), ix("np.int64(2)", np.int64(2)), ix("1:3", np.s_[1:3]), ix("::-1", np.s_[::-1]),
    ix(":, 1", np.s_[:, 1]), ix("-2:, 1:4:2", np.s_[-2:, 1:4:2]), ix("None", None), ix("..., 0", np.s_[..., 0]),
    ix("1:, None, ::2", np.s_[1:, None, ::2]), ix("1, None, 2:", np.s_[1, None, 2:]),
    ix("[0,2,2,3]", I0), ix("[[0,1],[3,0]]", I2), ix("[0,3], [1,4]", ([0, 3], [1, 4])),
    ix(":, [4,0]", np.s_[:, [4, 0]]), ix("..., [1,1]", np.s_[..., np.array([1, 1])]), ix("bool mask", MASK),
    op("x[i] (traced index)", V("f64[4,3]", np.array([0, 3, 1, 1])), V("f32[4,3]", np.array([[2], [0]])),
       V("i32[4]", np.array([3, -1])), f=lambda m, x, i: x[i]),
    op("x[i, :, j] (advanced indices split by a slice)", V("f64[3,4,5]", np.array([0, 2]), np.array([1, 4])),
       f=lambda m, x, i, j: x[i, :, j]),

    # ------------------------------------------------------------------ functional updates
    at(1, "set", V("f64[4,3]", "f64[3]"), V("f32[4,3]", 2.0), V("i32[4]", 7), V("f32[4,3]", "f64[1]")),
    at(np.s_[:, 1:], "set", V("f64[3,4]", "f64[3,1]"), V("f32[3,4]", "f32[3]"), label=":, 1:"),
    at(I0, "add", V("f64[5,3]", "f64[4,3]"), V("f32[5,3]", 1.0), V("i32[5]", "i32[4]"), label="[0,2,2,3]"),
    at(np.s_[1:3], "add", V("f64[4,3]", "f64[3]"), V("f32[4]", "f32[2]"), label="1:3"),
    at(I0, "multiply", V("f64[5,3]", "f64[4,3]"), V("f32[5]", 2.0), V("i32[5]", "i32[4]"),
       V("f64[5]", 2.0, grad=True), label="[0,2,2,3]", dom="nonzero", jref=_jax_at_one_by_one(I0, "multiply")),
    at(np.s_[1:3], "multiply", V("f64[4,3]", "f64[3]"), label="1:3", dom="nonzero"),
    at(np.s_[:, 0], "min", V("f64[3,4]", "f64[3]"), V("f32[3,4]", 0.0), V("i32[3,4]", "i32[3]"), label=":, 0"),
    at(I2, "min", V("f64[4,3]", "f64[2,2,3]"), label="[[0,1],[3,0]]", dom="distinct"),
    at(I0, "max", V("f64[5,3]", "f64[4,3]"), V("f32[5]", "f32[4]"), label="[0,2,2,3]", dom="distinct"),
    op("x.at[i].add (traced index)", V("f64[5,3]", I0, "f64[4,3]"), V("i32[5]", I0, 1),
       f=lambda m, x, i, v: m.asarray(x).at[i].add(v), ref=lambda x, i, v: _at_ref(i, "add")(x, v)),
    op("x.at[i].multiply (traced index)", V("f64[5,3]", I0, "f64[4,3]"),
       f=lambda m, x, i, v: m.asarray(x).at[i].multiply(v), ref=lambda x, i, v: _at_ref(i, "multiply")(x, v),
       jref=lambda x, i, v: _jax_at_one_by_one(i, "multiply")(x, v), dom="nonzero"),

    # ------------------------------------------------------------------ properties and methods
    op("x.T", V("f64[3,4]"), V("f32[2,3,4]"), V("i32[3]"), f=lambda m, x: x.T),
    op("x.sum()", V("f64[3,4]"), V("i32[3,4]", axis=0), V("f32[3,4]", axis=1, keepdims=True),
       f=lambda m, x, **kw: x.sum(**kw)),
    op("x.mean()", V("f64[3,4]"), V("i32[3,4]", axis=0), V("f32[3,4]", axis=(0, 1)),
       f=lambda m, x, **kw: x.mean(**kw)),
    op("x.max()", V("f64[3,4]"), V("i32[3,4]", axis=0), V("f32[3,4]", axis=1, keepdims=True),
       f=lambda m, x, **kw: x.max(**kw), dom="distinct"),
    op("x.min()", V("f64[3,4]"), V("i32[3,4]", axis=0), V("f32[3,4]", axis=-1),
       f=lambda m, x, **kw: x.min(**kw), dom="distinct"),
    op("x.reshape(shape)", V("f64[3,4]", S((4, 3))), V("f32[3,4]", S(-1)), V("i32[6]", S((3, 2))),
       f=lambda m, x, shape: x.reshape(shape)),
    op("x.reshape(*shape)", V("f64[3,4]"), f=lambda m, x: x.reshape(2, 6)),
    op("x.transpose()", V("f64[2,3,4]"), V("f32[3,4]"), f=lambda m, x: x.transpose()),
    op("x.transpose(*axes)", V("f64[2,3,4]"), f=lambda m, x: x.transpose(1, 2, 0)),
    op("x.transpose(axes)", V("f64[2,3,4]"), f=lambda m, x: x.transpose((2, 0, 1))),
    op("x.astype(dtype)", V("f64[3,4]", S(fnp.float32), gtol=2e-3, grad=True), V("f32[3]", S(fnp.float64), grad=True),
       V("f64[3,4]", S(fnp.int32)), V("small:f32[3]", S(fnp.bool_)), V("i32[3]", S(fnp.float32)),
       V("bool[3]", S(fnp.int64)), V("f32[3]", S(fnp.float16)),
       f=lambda m, x, dtype: x.astype(dtype)),
    op("x.dot(y)", V("f64[3,4]", "f64[4,2]"), V("f32[3]", "f32[3]"), V("i32[2,3]", "i32[3]"),
       f=lambda m, x, y: x.dot(y)),
    op("x.shape/ndim/size/dtype", V("f64[3,4]"), V("i32[2]"),
       f=lambda m, x: m.full((x.ndim, x.size), x.shape[0], x.dtype), diff=False),
]


def _rows():
    rows = []
    for o in OPS:
        first = True
        for v in o.variants:
            r = Row(o, v, first_float=False)
            if first and o.diff and r.has_float_input and v.grad is not False:
                r._first_float = True
                first = False
            rows.append(r)
    ids = [r.id for r in rows]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise AssertionError(f"op table: duplicate row ids {sorted(dup)}")
    return rows


ROWS = _rows()
GRAD_ROWS = [r for r in ROWS if r.grad]


def params(rows, test):
    """``pytest.param`` per row for ``test`` (eager, ir, grad, jax, jit), with its id and marks."""
    return [pytest.param(r, id=r.id, marks=r.marks(test)) for r in rows]


# Every name that section 3 of the contract lists as a funcgrad.numpy function.
CONTRACT_FUNCTIONS = """
array asarray zeros ones full empty zeros_like ones_like full_like arange linspace eye
add subtract multiply divide true_divide floor_divide power negative positive abs absolute sign exp exp2 log log2
log10 log1p expm1 sqrt cbrt square reciprocal sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh
arccosh arctanh maximum minimum fmax fmin clip where logaddexp floor ceil round rint trunc mod remainder hypot sinc
equal not_equal less less_equal greater greater_equal logical_and logical_or logical_not isfinite isnan isinf allclose
sum prod mean var std max min amax amin argmax argmin all any cumsum cumprod
dot vdot matmul tensordot einsum outer inner trace
linalg.norm linalg.inv linalg.solve linalg.det linalg.slogdet linalg.cholesky
reshape ravel transpose swapaxes moveaxis expand_dims squeeze broadcast_to broadcast_arrays atleast_1d atleast_2d
concatenate stack vstack hstack split tile repeat pad flip roll triu tril diag diagonal
sort argsort
""".split()

CONTRACT_DTYPES = "float16 float32 float64 int32 int64 uint8 uint32 bool_".split()
CONTRACT_CONSTANTS = {"pi": np.pi, "e": np.e, "inf": np.inf}


# ----------------------------------------------------------------------------- comparing results

def leaves(out):
    """The arrays of a result (a single array, or a tuple/list of them)."""
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in leaves(o)]
    return [out]


def assert_match(got, want, row, what, check_type=None):
    """Same structure kind (array / tuple / list and length), then per leaf: shape,
    dtype exactly, values to the row's tolerance (exactly for ints and bools)."""
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{what}: expected a sequence, got {type(got).__name__}"
        assert isinstance(got, tuple) == isinstance(want, tuple), (
            f"{what}: container type {type(got).__name__}, NumPy gives {type(want).__name__}")
    g_leaves, w_leaves = leaves(got), leaves(want)
    assert len(g_leaves) == len(w_leaves), f"{what}: {len(g_leaves)} outputs, expected {len(w_leaves)}"
    for k, (g, w) in enumerate(zip(g_leaves, w_leaves, strict=True)):
        if check_type is not None:
            assert isinstance(g, check_type), f"{what}: output {k} is a {type(g).__name__}"
        ga, wa = np.asarray(g), np.asarray(w)
        assert ga.shape == wa.shape, f"{what}: output {k} has shape {ga.shape}, expected {wa.shape}"
        assert ga.dtype == wa.dtype, f"{what}: output {k} has dtype {ga.dtype}, expected {wa.dtype}"
        if wa.dtype.kind == "f":
            rtol, atol = row.tol(wa.dtype)
            np.testing.assert_allclose(ga, wa, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=f"{what}: output {k} values")
        else:
            np.testing.assert_array_equal(ga, wa, err_msg=f"{what}: output {k} values")
