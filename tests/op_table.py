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
    small``); ``diff`` says the op is differentiable; ``creation=True`` encodes
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


# ----------------------------------------------------------------------------- the table

OPS = [
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
