"""A seeded generator of random well-typed straight-line programs over ``funcgrad.numpy``.

A program is Python source written once against a module parameter ``m``::

    def prog(m, x0, x1, i0):
        v0 = m.sin(x0)
        v1 = m.einsum('ij,bj->bi', v0, x1)
        ...
        return (v7, v9)

so the same text runs on ``funcgrad.numpy``, ``numpy`` and ``jax.numpy`` (helpers such
as :func:`at` hide the one place where the three differ: NumPy has no ``.at``).

The generator builds the program one op at a time while *running it with NumPy* on
every example of a small batch (the batch the vmap checks use).  Each op generator in
:data:`OPS` looks at the typed values in scope (shape, dtype and their concrete
values), writes one source snippet, and may attach a *guard* on the concrete values:
positive arguments for ``log``, values away from integers for ``floor``, distinct
values for ``sort``/``argmax``, operands apart for comparisons, well-conditioned
matrices for ``solve``.  A snippet whose guard fails, that NumPy rejects, or whose
result is too large or not finite is dropped and another one drawn.  So every program
is valid, and every input sits away from kinks and jumps: a mismatch is a bug, not
rounding.

The newer families -- ``funcgrad.lax`` control flow with closures and tuple / dict
carries, ``funcgrad.random``, ``funcgrad.nn``, convolution and pooling, custom rules and
``checkpoint`` -- live in ``tests/fuzz_families.py`` (helpers such as ``cond(m, ...)``
and their generators, registered into :data:`HELPERS` and :data:`OPS` below).

``python tests/fuzz_programs.py SEED`` prints the program of a seed.
"""
import dataclasses
import sys
import warnings

import numpy as np

B = 3                      # examples per input (the vmap batch)
DIMS = (1, 2, 3, 4)
MAX_SIZE = 96              # elements per value
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
BOOL = np.dtype(np.bool_)
U32 = np.dtype(np.uint32)  # random keys (inputs of the samplers only)
DT_SRC = {F32: "m.float32", F64: "m.float64", I32: "m.int32", I64: "m.int64", BOOL: "m.bool_"}


# ----------------------------------------------------------------------------- helpers in the programs

def at(m, x, idx, mode, v):
    """``x.at[idx].<mode>(v)``; NumPy: a copy, then assignment or ``ufunc.at``."""
    if m is np:
        out = np.array(x, copy=True)
        v = np.asarray(v).astype(out.dtype)   # jax casts the updates to x's dtype first
        if mode == "set":
            out[idx] = v
        else:
            getattr(np, {"add": "add", "multiply": "multiply", "min": "minimum", "max": "maximum"}[mode]).at(
                out, idx, v)
        return out
    return getattr(m.asarray(x).at[idx], mode)(v)


def spd(m, a):
    """A symmetric positive definite matrix (stack) made from ``a``."""
    n = a.shape[-1]
    return a @ m.swapaxes(a, -1, -2) + n * m.eye(n, dtype=a.dtype)


def wc(m, a):
    """A diagonally dominant matrix (stack) made from ``a``."""
    n = a.shape[-1]
    return a + 2 * n * m.eye(n, dtype=a.dtype)


HELPERS = {"np": np, "at": at, "spd": spd, "wc": wc}


# ----------------------------------------------------------------------------- values and programs

@dataclasses.dataclass
class Val:
    name: str
    vals: list             # one NumPy value per example (B of them)
    diff: bool = False     # depends on a differentiated (float) input

    @property
    def shape(self):
        return tuple(np.shape(self.vals[0]))

    @property
    def dtype(self):
        return np.asarray(self.vals[0]).dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def isfloat(self):
        return self.dtype.kind == "f"

    def __repr__(self):
        return f"{self.name}:{self.dtype.name}{list(self.shape)}"


@dataclasses.dataclass
class Program:
    seed: int
    source: str
    inputs: list           # [(name, examples: list of B arrays)]
    outputs: list          # names
    ops: list              # op generator names used
    diff: bool             # float64 program: derivative checks apply
    nondiff_ops: list      # ops that make derivative checks invalid (none when diff)
    has_f32: bool = False  # some value is float32 (float64 results may carry float32 rounding)
    modes: str = "both"    # derivative modes that apply: "both", "fwd" (while_loop) or "rev" (custom_vjp)

    def fn(self, all_values=False):
        """The program as a function ``prog(m, *inputs)``; with ``all_values`` it returns
        every intermediate value (a dict by name) instead of its outputs."""
        src = self.source
        if all_values:
            body = src.splitlines()[:-1]
            names = [ln.split("=")[0].strip() for ln in body[1:]]
            src = "\n".join(body) + "\n    return {" + ", ".join(f"{n!r}: {n}" for n in names) + "}\n"
        ns = dict(HELPERS)
        exec(compile(src, f"<fuzz program seed={self.seed}>", "exec"), ns)  # noqa: S102
        return ns["prog"]

    def slice(self, outputs):
        """The smaller program that computes only ``outputs`` (names): the lines and
        inputs they depend on."""
        body = self.source.splitlines()[1:-1]
        need, keep = set(outputs), []
        for ln in reversed(body):
            name, expr = ln.split("=", 1)
            name = name.strip()
            if name in need:
                keep.append(ln)
                need |= {t for t in _names(expr)}
        keep.reverse()
        inputs = [(n, ex) for n, ex in self.inputs if n in need]
        args = ", ".join(["m"] + [n for n, _ in inputs])
        ret = "(" + ", ".join(outputs) + ("," if len(outputs) == 1 else "") + ")"
        src = f"def prog({args}):\n" + "\n".join(keep) + f"\n    return {ret}\n"
        used = [u for u, ln in zip(self.ops, body) if ln in keep] if len(self.ops) == len(body) else self.ops
        return Program(self.seed, src, inputs, list(outputs), used, self.diff, self.nondiff_ops, self.has_f32,
                       self.modes)

    def first_divergence(self, m, args=None, rtol=1e-4):
        """The first line whose value under module ``m`` differs from NumPy's (shape,
        dtype or values) or that raises, as text; None when all agree."""
        args = self.args(0) if args is None else args
        names = [n for n, _ in self.inputs]
        envs = {}
        for mod in (np, m):
            env = dict(HELPERS)
            env.update(zip(names, args))
            env["m"] = mod
            envs[mod] = env
        for ln in self.source.splitlines()[1:-1]:
            name = ln.split("=")[0].strip()
            errs = {}
            for mod, env in envs.items():
                try:
                    with np.errstate(all="ignore"), warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        exec(ln.strip(), env)  # noqa: S102
                except Exception as e:  # noqa: BLE001
                    errs[mod] = e
            if errs:
                e = errs.get(m)
                return f"first divergence at `{ln.strip()}`: raises {type(e).__name__}: {e}" if e else None
            ga, wa = np.asarray(envs[m][name]), np.asarray(envs[np][name])
            bad = None
            if ga.shape != wa.shape:
                bad = f"shape {ga.shape}, NumPy {wa.shape}"
            elif ga.dtype != wa.dtype:
                bad = f"dtype {ga.dtype}, NumPy {wa.dtype}"
            elif wa.dtype.kind == "f" and not np.allclose(ga, wa, rtol=rtol, atol=rtol):
                bad = f"values {ga.ravel()[:6]}, NumPy {wa.ravel()[:6]}"
            elif wa.dtype.kind != "f" and not np.array_equal(ga, wa):
                bad = f"values {ga.ravel()[:6]}, NumPy {wa.ravel()[:6]}"
            if bad:
                return f"first divergence at `{ln.strip()}`: {bad}"
        return None

    def args(self, b=0):
        return [ex[b] for _, ex in self.inputs]

    def batched(self, axis=0):
        return [np.stack([ex[b] for b in range(B)], axis=axis) for _, ex in self.inputs]

    def describe(self):
        lines = [f"# seed {self.seed}  ({'float64, derivative checks' if self.diff else 'mixed dtypes'})"]
        for name, ex in self.inputs:
            a = np.asarray(ex[0])
            lines.append(f"# {name}: {a.dtype.name}{list(a.shape)} = {np.array2string(a, precision=4, threshold=12)}")
        return "\n".join(lines) + "\n" + self.source


class Reject(Exception):
    """This snippet does not fit the values in scope: draw another."""


class Gen:
    """The state of one program under construction (what the op generators see)."""

    def __init__(self, seed, diff):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.diff = diff
        self.vals = []        # Val in scope
        self.inputs = []      # (name, examples)
        self.lines = []
        self.nin = 0
        self.nv = 0
        self.used = []
        self.consumed = set()

    # --- picking values
    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def pick(self, pred=lambda v: True, prefer_recent=True):
        cands = [v for v in self.vals if pred(v) and v.dtype != U32]   # (random keys: only for samplers)
        if not cands:
            raise Reject
        if prefer_recent and self.rng.random() < 0.6:
            cands = cands[-4:]
        w = np.array([1.0 + 2 * v.ndim for v in cands])   # favour arrays over scalars
        return cands[int(self.rng.choice(len(cands), p=w / w.sum()))]

    def floats(self, v):
        return v.isfloat

    def num(self, v):
        """Numeric (float or int, and in mixed programs bool) values."""
        return v.dtype != BOOL or not self.diff

    # --- inputs
    def new_input(self, shape, dtype, dom="real", lo=None, hi=None):
        name = f"x{self.nin}" if dtype.kind == "f" else (f"i{self.nin}" if dtype.kind in "iu" else f"b{self.nin}")
        self.nin += 1
        exs = [make_value(self.rng, shape, dtype, dom, lo, hi) for _ in range(B)]
        self.inputs.append((name, exs))
        v = Val(name, exs, diff=dtype.kind == "f")
        self.vals.append(v)
        return v

    def rand_shape(self, nd=None):
        nd = int(self.rng.integers(0, 4)) if nd is None else nd
        return tuple(int(self.choice(DIMS)) for _ in range(nd))

    def lit(self, kind="float"):
        """A Python or NumPy scalar literal (source text)."""
        r = self.rng.random()
        if kind == "int":
            k = int(self.rng.integers(1, 4))
            return str(k) if r < 0.7 else f"np.int32({k})"
        x = round(float(self.rng.uniform(0.3, 2.0)) * float(self.choice([-1, 1])), 2)
        if r < 0.6:
            return repr(x)
        if r < 0.8 or self.diff:
            return f"np.float64({x})"
        return f"np.float32({x})"


def make_value(rng, shape, dtype, dom="real", lo=None, hi=None):
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo = -3 if lo is None else lo
        hi = 4 if hi is None else hi
        return rng.integers(lo, hi, shape).astype(dtype)
    if dom == "pos":
        return rng.uniform(0.5, 2.0, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- guards

def away_from_int(x, half=False, margin=2e-3):
    x = np.asarray(x, np.float64)
    f = x * 2 if half else x
    return bool(np.all(np.abs(f - np.round(f)) > margin * (1 + np.abs(f))))


def apart(x, y, margin=2e-3):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return bool(np.all(np.abs(x - y) > margin * (1 + np.abs(x) + np.abs(y))))


def distinct_along(x, axis, margin=2e-3):
    x = np.asarray(x, np.float64)
    if x.ndim == 0 or x.size <= 1:
        return True
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    s = np.sort(x, axis=axis)
    d = np.diff(s, axis=axis)
    return bool(d.size == 0 or np.all(d > margin * (1 + np.abs(np.take(s, range(1, s.shape[axis]), axis)))))


# ----------------------------------------------------------------------------- op generators
#
# Each generator takes the Gen and returns ``(expr, guard, flags)``: the source of one
# expression over the values in scope, a guard ``guard(env) -> bool`` on the NumPy
# values of one example (or None) and a set of flags ("nondiff": derivative checks must
# skip this program).  ``Reject`` means: nothing in scope fits.

OPS = {}


def op(name, weight=1.0, diff=True, mixed=True):
    def deco(fn):
        OPS[name] = (fn, weight, diff, mixed)
        return fn
    return deco


def _ok(v):
    return v is not None and np.all(np.isfinite(np.asarray(v, np.float64)))


UNARY = {  # name: guard on x (f64 view), or None
    "sin": None, "cos": None, "tanh": None, "arctan": None, "negative": None, "square": None,
    "arcsinh": None, "positive": None,
    "exp": lambda x: np.all(np.abs(x) < 4), "expm1": lambda x: np.all(np.abs(x) < 4),
    "exp2": lambda x: np.all(np.abs(x) < 5),
    "sinh": lambda x: np.all(np.abs(x) < 4), "cosh": lambda x: np.all(np.abs(x) < 4),
    "log": lambda x: np.all(x > 0.1), "log2": lambda x: np.all(x > 0.1), "log10": lambda x: np.all(x > 0.1),
    "log1p": lambda x: np.all(x > -0.8), "sqrt": lambda x: np.all(x > 0.1),
    "cbrt": lambda x: np.all(np.abs(x) > 0.1), "reciprocal": lambda x: np.all(np.abs(x) > 0.2),
    "abs": lambda x: np.all(np.abs(x) > 1e-2), "sign": lambda x: np.all(np.abs(x) > 1e-2),
    "arcsin": lambda x: np.all(np.abs(x) < 0.9), "arctanh": lambda x: np.all(np.abs(x) < 0.9),
    "tan": lambda x: np.all(np.abs(x) < 1.2),
    "floor": away_from_int, "ceil": away_from_int, "trunc": away_from_int,
    "rint": lambda x: away_from_int(x, half=True), "round": lambda x: away_from_int(x, half=True),
}
INT_OK = {"negative", "square", "positive", "abs", "sign", "sin", "exp", "tanh", "sqrt", "log"}


@op("unary", weight=4)
def g_unary(g):
    name = g.choice(sorted(UNARY))
    # (integer -> float math only in mixed programs: jax, the derivative oracle, gives
    # float32 for sin(int32) where NumPy gives float64)
    x = g.pick(lambda v: v.isfloat or (v.dtype.kind == "i" and name in INT_OK and not g.diff))
    guard = UNARY[name]
    form = g.rng.random()
    if name == "negative" and form < 0.5:
        expr = f"-{x.name}"
    elif name == "abs" and form < 0.3:
        expr = f"abs({x.name})"
    else:
        expr = f"m.{name}({x.name})"
    return expr, (lambda env: guard(np.asarray(env[x.name], np.float64))) if guard else None, set()


BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "arctan2", "hypot",
          "logaddexp", "mod", "floor_divide", "fmax", "fmin"]
OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "mod": "%",
             "floor_divide": "//"}


def _broadcasts(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _binary_guard(name, xn, yn):
    def guard(env):
        x, y = np.asarray(env[xn], np.float64), np.asarray(env[yn], np.float64)
        if name == "divide":
            return np.all(np.abs(y) > 0.2)
        if name in ("maximum", "minimum", "fmax", "fmin"):
            return apart(*np.broadcast_arrays(x, y))
        if name == "power":
            return np.all(x > 0.2) and np.all(np.abs(y) < 3)
        if name == "arctan2":   # the jump: first argument 0, second negative
            return np.all((np.abs(x) > 0.05) | (y > 0.05))
        if name == "hypot":
            return np.all(np.abs(x) + np.abs(y) > 0.1)
        if name in ("mod", "floor_divide"):
            q = x / y
            return np.all(np.abs(y) > 0.2) and away_from_int(q)
        return True
    return guard


@op("binary", weight=5)
def g_binary(g):
    name = g.choice(BINARY)
    x = g.pick(g.num)
    r = g.rng.random()
    # the other operand: a value that broadcasts, or a Python / NumPy scalar
    if r < 0.25:
        kind = "int" if (x.dtype.kind in "iub" and g.rng.random() < 0.6) else "float"
        if name == "power":
            lit = str(g.choice([2, 3])) if g.rng.random() < 0.5 else g.choice(["0.5", "2.0", "np.float64(1.5)"])
        else:
            lit = g.lit(kind)
        yname = f"({lit})"
        y_is_lit = True
    else:
        y = g.pick(lambda v: g.num(v) and _broadcasts(v.shape, x.shape))
        yname, y_is_lit = y.name, False
    if g.diff and not x.isfloat and (y_is_lit or not y.isfloat) and name in (
            "divide", "power", "arctan2", "hypot", "logaddexp"):
        raise Reject   # int -> float: jax's dtype differs from NumPy's
    swap = g.rng.random() < 0.3 and name not in ("power",)
    a, b = (yname, x.name) if swap else (x.name, yname)
    if name in OPERATORS and g.rng.random() < 0.6:
        expr = f"{a} {OPERATORS[name]} {b}"
    else:
        expr = f"m.{name}({a}, {b})"
    if y_is_lit:   # the guard sees the literal's value under a name
        inner = _binary_guard(name, "_a", "_b")

        def guard(env):
            lit = eval(yname, HELPERS)  # noqa: S307
            return inner({"_a": lit if a == yname else env[a], "_b": lit if b == yname else env[b]})
        return expr, guard, set()
    return expr, _binary_guard(name, a, b), set()


@op("compare", weight=1.5)
def g_compare(g):
    name, sym = g.choice([("less", "<"), ("greater", ">"), ("less_equal", "<="), ("greater_equal", ">="),
                          ("equal", "=="), ("not_equal", "!=")])
    x = g.pick(lambda v: v.dtype != BOOL)
    if g.rng.random() < 0.3:
        yname = g.lit("int" if x.dtype.kind in "iu" else "float")
    else:
        yname = g.pick(lambda v: v.dtype != BOOL and _broadcasts(v.shape, x.shape)).name
    expr = f"{x.name} {sym} {yname}" if g.rng.random() < 0.5 else f"m.{name}({x.name}, {yname})"
    if x.dtype.kind in "iu" and (yname[0].isdigit() or yname.startswith("np.int")):
        return expr, None, set()

    def guard(env):
        xv = np.asarray(env[x.name], np.float64)
        yv = np.asarray(env[yname] if yname in env else eval(yname, HELPERS), np.float64)  # noqa: S307
        if xv.dtype.kind in "iu":
            return True
        if np.asarray(env[x.name]).dtype.kind in "iu" and (yname in env and np.asarray(env[yname]).dtype.kind in "iu"):
            return True
        return apart(*np.broadcast_arrays(xv, yv))
    return expr, guard, set()


@op("logic", weight=1)
def g_logic(g):
    x = g.pick(lambda v: v.dtype == BOOL)
    r = g.rng.random()
    if r < 0.25:
        return f"m.logical_not({x.name})" if g.rng.random() < 0.5 else f"~{x.name}", None, set()
    y = g.pick(lambda v: v.dtype == BOOL and _broadcasts(v.shape, x.shape))
    name, sym = g.choice([("logical_and", "&"), ("logical_or", "|"), ("logical_xor", "^")])
    return (f"{x.name} {sym} {y.name}" if g.rng.random() < 0.5 else f"m.{name}({x.name}, {y.name})"), None, set()


@op("where", weight=1.5)
def g_where(g):
    c = g.pick(lambda v: v.dtype == BOOL)
    x = g.pick(lambda v: g.num(v) and _broadcasts(v.shape, c.shape))
    if g.rng.random() < 0.3:
        y = g.lit("int" if x.dtype.kind in "iu" else "float")
    else:
        y = g.pick(lambda v: g.num(v) and _broadcasts(np.broadcast_shapes(v.shape, c.shape), x.shape)).name
    return f"m.where({c.name}, {x.name}, {y})", None, set()


@op("clip", weight=0.7)
def g_clip(g):
    x = g.pick(lambda v: v.isfloat)
    lo, hi = sorted(np.round(g.rng.uniform(-1.5, 1.5, 2), 2))
    if hi - lo < 0.2:
        raise Reject
    return f"m.clip({x.name}, {lo}, {hi})", lambda env: apart(env[x.name], lo) and apart(env[x.name], hi), set()


@op("astype", weight=1.5)
def g_astype(g):
    x = g.pick()
    targets = [F64] if g.diff else [F32, F64, I32, I64, BOOL]
    t = g.choice(targets)
    src = DT_SRC[t]
    expr = f"{x.name}.astype({src})" if g.rng.random() < 0.7 else f"m.asarray({x.name}, dtype={src})"
    if x.isfloat and t.kind in "iu":
        return expr, lambda env: away_from_int(env[x.name]) and np.all(np.abs(env[x.name]) < 1e4), set()
    if x.isfloat and t == BOOL:
        return expr, lambda env: np.all(np.abs(env[x.name]) > 1e-2), set()
    return expr, None, set()


# --- reductions

def _axis_arg(g, nd, allow_tuple=True):
    r = g.rng.random()
    if nd == 0 or r < 0.25:
        return None
    if allow_tuple and nd >= 2 and r < 0.45:
        k = int(g.rng.integers(1, nd + 1))
        axes = sorted(int(a) for a in g.rng.choice(nd, k, replace=False))
        return tuple(a - nd if g.rng.random() < 0.3 else a for a in axes)
    a = int(g.rng.integers(nd))
    return a - nd if g.rng.random() < 0.3 else a


def _kw(axis, keepdims):
    s = ""
    if axis is not None or keepdims:
        s += f", axis={axis!r}"
    if keepdims:
        s += ", keepdims=True"
    return s


def _along(x, axis):
    """``x`` with the reduced axes last, flattened (for distinctness guards)."""
    x = np.asarray(x, np.float64)
    if axis is None:
        return x.reshape(-1), 0
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = [a % x.ndim for a in axes]
    rest = [i for i in range(x.ndim) if i not in axes]
    y = np.transpose(x, rest + axes)
    return y.reshape(y.shape[:len(rest)] + (-1,)), len(rest)


@op("reduce", weight=3)
def g_reduce(g):
    name = g.choice(["sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "all", "any",
                     "argmax", "argmin", "cumsum", "cumprod"])
    if name in ("all", "any"):
        x = g.pick()
    elif name in ("var", "std", "mean"):
        # (of integers only in mixed programs: jax, the derivative oracle, gives float32 for
        # mean(int32) where NumPy gives float64 -- 7/3 then differs at 1e-8, seed 1775)
        x = g.pick(lambda v: g.num(v) and (v.isfloat or not g.diff))
    else:
        x = g.pick(lambda v: g.num(v))
    axis = _axis_arg(g, x.ndim, allow_tuple=name not in ("argmax", "argmin", "cumsum", "cumprod"))
    keepdims = name not in ("cumsum", "cumprod") and g.rng.random() < 0.3
    if name in ("argmax", "argmin") and axis is None:
        keepdims = False
    method = name in ("sum", "mean", "max", "min") and g.rng.random() < 0.3
    expr = (f"{x.name}.{name}({_kw(axis, keepdims)[2:]})" if method
            else f"m.{name}({x.name}{_kw(axis, keepdims)})")
    if name in ("cumsum", "cumprod") and axis is None:
        expr = f"m.{name}({x.name})"

    def guard(env):
        v = np.asarray(env[x.name], np.float64)
        if name in ("max", "min", "amax", "amin", "argmax", "argmin"):
            y, k = _along(v, axis)
            return distinct_along(y, k) if y.ndim else True
        if name in ("prod", "cumprod"):
            return np.all(np.abs(v) < 2.0) and np.all(np.abs(v) > 0.3)
        if name == "std":
            y, k = _along(v, axis)
            return y.shape[-1] > 1 and np.all(np.var(y, axis=-1) > 1e-2)
        return True
    return expr, guard, set()


# --- products

LETTERS = "abcdefghijklmnopqrstuvwxyz"


@op("matmul", weight=2)
def g_matmul(g):
    x = g.pick(lambda v: g.num(v) and v.ndim >= 1)
    k = x.shape[-1]
    def fits(v):
        if not g.num(v) or v.ndim == 0:
            return False
        if v.ndim == 1:
            return v.shape[0] == k
        return v.shape[-2] == k and (x.ndim <= 2 or v.ndim <= 2 or _broadcasts(x.shape[:-2], v.shape[:-2]))
    y = g.pick(fits)
    if x.ndim == 1 and y.ndim == 1 and g.rng.random() < 0.5:
        return g.choice([f"m.dot({x.name}, {y.name})", f"m.inner({x.name}, {y.name})",
                         f"m.vdot({x.name}, {y.name})"]), None, set()
    r = g.rng.random()
    if r < 0.5:
        return f"{x.name} @ {y.name}", None, set()
    if r < 0.75 or (x.ndim > 2 and y.ndim > 1):
        return f"m.matmul({x.name}, {y.name})", None, set()
    # ``x.dot(y)`` on a NumPy array x and a traced y is NumPy's dot (an error in jax): the
    # derivative oracle closes over the integer inputs, so only traced receivers there
    # (nor inside a cond branch or checkpointed body, where a closed-over NumPy value meets a traced parameter)
    method = g.rng.random() < 0.5 and (x.diff or not g.diff) and not getattr(g, "in_sub", False)
    return (f"{x.name}.dot({y.name})" if method else f"m.dot({x.name}, {y.name})"), None, set()


@op("outer", weight=0.5)
def g_outer(g):
    x = g.pick(lambda v: g.num(v) and v.size <= 6)
    y = g.pick(lambda v: g.num(v) and v.size <= 6)
    return f"m.outer({x.name}, {y.name})", None, set()


@op("tensordot", weight=2)
def g_tensordot(g):
    x = g.pick(lambda v: g.num(v) and v.ndim >= 1)
    form = g.choice(["int", "int", "pair_int", "pair_seq"])
    if form == "int":
        n = int(g.choice([0, 1, 1, 2]))
        n = min(n, x.ndim)
        tail = x.shape[x.ndim - n:]
        y = g.pick(lambda v: g.num(v) and v.ndim >= n and v.shape[:n] == tail
                   and x.ndim + v.ndim - 2 * n <= 4 and x.size * v.size <= 400)
        return f"m.tensordot({x.name}, {y.name}, {n})" if g.rng.random() < 0.5 else \
            f"m.tensordot({x.name}, {y.name}, axes={n})", None, set()
    if form == "pair_int":
        i = int(g.rng.integers(x.ndim))
        y = g.pick(lambda v: g.num(v) and x.shape[i] in v.shape and x.ndim + v.ndim <= 6)
        j = g.choice([jj for jj, d in enumerate(y.shape) if d == x.shape[i]])
        i = i - x.ndim if g.rng.random() < 0.3 else i
        return f"m.tensordot({x.name}, {y.name}, axes=({i}, {j}))", None, set()
    k = int(g.rng.integers(0, min(x.ndim, 2) + 1))
    ia = [int(a) for a in g.rng.choice(x.ndim, k, replace=False)]
    need = [x.shape[a] for a in ia]

    def fits(v):
        if not g.num(v) or x.ndim + v.ndim - 2 * k > 4:
            return False
        avail = list(v.shape)
        for d in need:
            if d not in avail:
                return False
            avail[avail.index(d)] = -1
        return True
    y = g.pick(fits)
    used, jb = set(), []
    for d in need:
        j = next(jj for jj, e in enumerate(y.shape) if e == d and jj not in used)
        used.add(j)
        jb.append(j)
    seq = g.choice([list, tuple])
    return f"m.tensordot({x.name}, {y.name}, axes=({seq(ia)!r}, {seq(jb)!r}))", None, set()


@op("einsum", weight=3)
def g_einsum(g):
    x = g.pick(lambda v: g.num(v) and 1 <= v.ndim <= 3)
    unary = g.rng.random() < 0.25
    lx = list(LETTERS[:x.ndim])
    sizes = dict(zip(lx, x.shape))
    # diagonals: repeat a letter where two axes have the same size
    if x.ndim >= 2 and g.rng.random() < 0.25:
        for i in range(1, x.ndim):
            if x.shape[i] == x.shape[0]:
                lx[i] = lx[0]
                break
    if unary:
        letters = sorted(set(lx))
        out = [c for c in letters if g.rng.random() < 0.5]
        g.rng.shuffle(out)
        return f"m.einsum('{''.join(lx)}->{''.join(out)}', {x.name})", None, set()
    # second operand: shared letters (batch or contracted), size-1 broadcasting, new letters
    y = g.pick(lambda v: g.num(v) and v.ndim <= 3 and v.size * x.size <= 600)
    ly, nxt = [], x.ndim
    for d in y.shape:
        shared = [c for c in set(lx) if (sizes[c] == d or d == 1 or sizes[c] == 1) and c not in ly]
        if shared and g.rng.random() < 0.7:
            ly.append(g.choice(sorted(shared)))
        else:
            c = LETTERS[nxt]
            nxt += 1
            sizes[c] = d
            ly.append(c)
    letters = sorted(set(lx) | set(ly))
    both = set(lx) & set(ly)
    out = [c for c in letters if (c in both and g.rng.random() < 0.4) or (c not in both and g.rng.random() < 0.8)]
    g.rng.shuffle(out)
    implicit = g.rng.random() < 0.1
    spec = f"{''.join(lx)},{''.join(ly)}" + ("" if implicit else f"->{''.join(out)}")
    return f"m.einsum('{spec}', {x.name}, {y.name})", None, set()


@op("trace", weight=0.4)
def g_trace(g):
    x = g.pick(lambda v: g.num(v) and v.ndim >= 2)
    return f"m.trace({x.name})", None, set()


# --- linear algebra (well-conditioned inputs made inside the program)

def _cond_ok(a, limit=1e3):
    a = np.asarray(a, np.float64)
    try:
        return bool(np.all(np.linalg.cond(a) < limit))
    except np.linalg.LinAlgError:
        return False


@op("linalg", weight=1.5)
def g_linalg(g):
    x = g.pick(lambda v: v.isfloat and v.ndim >= 2 and v.shape[-1] == v.shape[-2] and v.shape[-1] <= 3)
    name = g.choice(["inv", "solve", "det", "slogdet", "cholesky", "norm"])
    mk = g.choice(["spd", "wc"])
    a = f"{mk}(m, {x.name})"
    if name == "solve":
        n = x.shape[-1]
        y = g.pick(lambda v: v.isfloat and ((v.ndim == 1 and v.shape[0] == n)
                                            or (v.ndim >= 2 and v.shape[-2] == n and v.ndim <= x.ndim
                                                and _broadcasts(v.shape[:-2], x.shape[:-2]))))
        expr = f"m.linalg.solve({a}, {y.name})"
    elif name == "cholesky":
        expr = f"m.linalg.cholesky(spd(m, {x.name}))"
        a = f"spd(m, {x.name})"
        mk = "spd"
    elif name == "slogdet":
        expr = f"m.linalg.slogdet({a})[{g.choice([0, 1])}]"
    elif name == "norm":
        return _norm(g)
    else:
        expr = f"m.linalg.{name}({a})"

    def guard(env):
        xv = np.asarray(env[x.name], np.float64)
        mat = spd(np, xv) if mk == "spd" else wc(np, xv)
        return _cond_ok(mat) and np.all(np.abs(xv) < 5)
    return expr, guard, set()


def _norm(g):
    x = g.pick(lambda v: v.isfloat and 1 <= v.ndim <= 3)
    r = g.rng.random()
    if x.ndim == 1 or r < 0.3:
        ax = None if x.ndim == 1 or r < 0.15 else int(g.rng.integers(x.ndim))
        ordv = g.choice([None, 2, 1, "np.inf"]) if ax is not None or x.ndim == 1 else None
        kw = (f", ord={ordv}" if ordv is not None else "") + (f", axis={ax}" if ax is not None else "")
        expr = f"m.linalg.norm({x.name}{kw})"
        axis = ax
    else:
        axis = (x.ndim - 2, x.ndim - 1)
        ordv = g.choice([None, "'fro'", "1", "np.inf"])
        kw = f", ord={ordv}" if ordv else ""
        expr = f"m.linalg.norm({x.name}{kw}, axis={axis})"
    if g.rng.random() < 0.3:
        expr = expr[:-1] + ", keepdims=True)"

    def guard(env):
        v = np.asarray(env[x.name], np.float64)
        if ordv in (1, "1", "np.inf") or (ordv is not None and ordv != 2 and ordv != "'fro'"):
            return np.all(np.abs(v) > 1e-2) and _maxes_distinct(v, ordv, axis)
        return np.all(np.abs(v).sum() > 1e-2)
    return expr, guard, set()


def _maxes_distinct(v, ordv, axis):
    """Matrix 1- and inf-norms pick a column / row: keep the sums apart."""
    if not isinstance(axis, tuple):
        if ordv == "np.inf":
            y, k = _along(np.abs(v), axis)
            return distinct_along(y, k)
        return True
    s = np.abs(v).sum(axis=axis[0] if ordv in (1, "1") else axis[1])
    return distinct_along(s, -1)


# --- shape ops

def _factor_shape(rng, size):
    out, left = [], size
    while left > 1 and len(out) < 3:
        ds = [d for d in (2, 3, 4, 6) if left % d == 0]
        if not ds:
            break
        d = int(rng.choice(ds))
        out.append(d)
        left //= d
    if left > 1:
        out.append(left)
    if rng.random() < 0.3:
        out.insert(int(rng.integers(len(out) + 1)), 1)
    return out


@op("reshape", weight=2)
def g_reshape(g):
    x = g.pick()
    shape = _factor_shape(g.rng, x.size)
    if len(shape) > 4:
        raise Reject
    if shape and g.rng.random() < 0.3:
        shape[int(g.rng.integers(len(shape)))] = -1
    r = g.rng.random()
    if r < 0.15:
        return f"m.ravel({x.name})", None, set()
    if r < 0.4:
        return f"{x.name}.reshape({tuple(shape)!r})", None, set()
    if r < 0.5 and shape:
        return f"{x.name}.reshape({', '.join(map(str, shape))})", None, set()
    return f"m.reshape({x.name}, {tuple(shape)!r})", None, set()


@op("transpose", weight=2)
def g_transpose(g):
    x = g.pick(lambda v: v.ndim >= 1)
    r = g.rng.random()
    nd = x.ndim
    if r < 0.2:
        return f"{x.name}.T", None, set()
    if r < 0.4:
        return f"m.transpose({x.name})", None, set()
    perm = [int(p) for p in g.rng.permutation(nd)]
    if r < 0.6:
        return f"m.transpose({x.name}, {tuple(perm)!r})", None, set()
    if r < 0.7:
        return f"{x.name}.transpose({tuple(perm)!r})", None, set()
    if r < 0.85 and nd >= 2:
        i, j = [int(a) for a in g.rng.choice(nd, 2, replace=False)]
        return f"m.swapaxes({x.name}, {i}, {j - nd if g.rng.random() < 0.5 else j})", None, set()
    s, d = int(g.rng.integers(nd)), int(g.rng.integers(nd))
    return f"m.moveaxis({x.name}, {s}, {d - nd if g.rng.random() < 0.5 else d})", None, set()


@op("expand_squeeze", weight=1.5)
def g_expand(g):
    x = g.pick(lambda v: v.ndim <= 3)
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    r = g.rng.random()
    if ones and r < 0.4:
        if g.rng.random() < 0.5:
            return f"m.squeeze({x.name})", None, set()
        return f"m.squeeze({x.name}, axis={g.choice(ones)})", None, set()
    ax = int(g.rng.integers(-x.ndim - 1, x.ndim + 1))
    if r < 0.6:
        return f"m.expand_dims({x.name}, {ax})", None, set()
    if r < 0.8:
        return f"m.atleast_2d({x.name})" if x.ndim < 2 else f"m.expand_dims({x.name}, {ax})", None, set()
    pos = int(g.rng.integers(x.ndim + 1))
    idx = ["slice(None)"] * x.ndim
    idx.insert(pos, "None")
    src = ", ".join(":" if i == "slice(None)" else i for i in idx)
    return f"{x.name}[{src}]", None, set()


@op("join", weight=1.5)
def g_join(g):
    x = g.pick(lambda v: v.ndim >= 1)
    r = g.rng.random()
    if r < 0.4:
        ys = [v for v in g.vals if v.shape == x.shape and v is not x and (v.dtype == x.dtype or not g.diff)]
        xs = [x] + ys[:int(g.rng.integers(0, 2)) + 1]
        ax = int(g.rng.integers(-x.ndim - 1, x.ndim + 1))
        names = ", ".join(v.name for v in xs)
        br = "[" if g.rng.random() < 0.5 else "("
        return f"m.stack({br}{names}{']' if br == '[' else ',)'}, axis={ax})", None, set()
    ax = int(g.rng.integers(x.ndim))
    ys = [v for v in g.vals if v.ndim == x.ndim and v is not x
          and all(a == b for i, (a, b) in enumerate(zip(v.shape, x.shape)) if i != ax)]
    if not ys:
        raise Reject
    xs = [x, g.choice(ys)]
    if g.rng.random() < 0.3:
        xs.append(x)
    names = ", ".join(v.name for v in xs)
    axs = ax - x.ndim if g.rng.random() < 0.3 else ax
    return f"m.concatenate([{names}], axis={axs})", None, set()


@op("broadcast_to", weight=1)
def g_broadcast_to(g):
    x = g.pick(lambda v: v.ndim <= 3)
    shape = list(x.shape)
    shape = [int(g.choice([2, 3])) if d == 1 and g.rng.random() < 0.7 else d for d in shape]
    if g.rng.random() < 0.5:
        shape.insert(0, int(g.choice([1, 2, 3])))
    return f"m.broadcast_to({x.name}, {tuple(shape)!r})", None, set()


@op("flip_roll", weight=1.5)
def g_flip_roll(g):
    x = g.pick(lambda v: v.ndim >= 1)
    nd = x.ndim
    r = g.rng.random()
    if r < 0.35:
        axis = g.choice([None, int(g.rng.integers(-nd, nd))])
        return f"m.flip({x.name})" if axis is None else f"m.flip({x.name}, axis={axis})", None, set()
    if r < 0.7:
        shift = int(g.rng.integers(-5, 6))
        if g.rng.random() < 0.3:
            return f"m.roll({x.name}, {shift})", None, set()
        if nd >= 2 and g.rng.random() < 0.3:
            return f"m.roll({x.name}, ({shift}, 1), axis=(0, {nd - 1}))", None, set()
        return f"m.roll({x.name}, {shift}, axis={int(g.rng.integers(-nd, nd))})", None, set()
    if r < 0.85:
        if x.size > 24:
            raise Reject
        reps = tuple(int(g.choice([1, 2])) for _ in range(int(g.rng.integers(1, nd + 2))))
        return f"m.tile({x.name}, {reps!r})", None, set()
    if x.size > 24:
        raise Reject
    return f"m.repeat({x.name}, {int(g.choice([1, 2, 3]))}, axis={int(g.rng.integers(nd))})", None, set()


@op("tri_diag", weight=0.8)
def g_tri(g):
    x = g.pick(lambda v: v.ndim >= 2)
    r = g.rng.random()
    k = int(g.rng.integers(-1, 2))
    if r < 0.5:
        return f"m.{g.choice(['triu', 'tril'])}({x.name}, k={k})", None, set()
    if r < 0.75 and x.ndim == 2:
        return f"m.diag({x.name}, k={k})", None, set()
    a1, a2 = [int(a) for a in g.rng.choice(x.ndim, 2, replace=False)]
    return f"m.diagonal({x.name}, offset={k}, axis1={a1}, axis2={a2})", None, set()


@op("pad_split", weight=0.7)
def g_pad(g):
    x = g.pick(lambda v: 1 <= v.ndim <= 3 and v.size <= 24)
    if g.rng.random() < 0.6:
        w = tuple((int(g.rng.integers(0, 2)), int(g.rng.integers(0, 3))) for _ in range(x.ndim))
        mode = g.choice(["constant", "constant", "edge", "wrap"])
        if mode == "constant" and g.rng.random() < 0.5:
            return f"m.pad({x.name}, {w!r}, constant_values={int(g.rng.integers(1, 3))})", None, set()
        return f"m.pad({x.name}, {w!r}, mode='{mode}')", None, set()
    ax = g.choice([i for i, d in enumerate(x.shape) if d >= 2] or [None])
    if ax is None:
        raise Reject
    n = x.shape[ax]
    k = g.choice([d for d in (2, 3, 4) if n % d == 0] or [None])
    if k is None or g.rng.random() < 0.5:
        cut = int(g.rng.integers(1, n))
        return f"m.split({x.name}, [{cut}], axis={ax})[{int(g.rng.integers(2))}]", None, set()
    return f"m.split({x.name}, {k}, axis={ax})[{int(g.rng.integers(k))}]", None, set()


# --- indexing

def _basic_index(g, shape):
    parts, nd = [], len(shape)
    i = 0
    while i < nd:
        r = g.rng.random()
        d = shape[i]
        if r < 0.2:
            parts.append(str(int(g.rng.integers(-d, d))))
        elif r < 0.5:
            a = int(g.rng.integers(-d, d))
            b = int(g.rng.integers(-d, d + 1))
            step = g.choice(["", ":2", ":-1", ":1"])
            parts.append(f"{a}:{b}{step}" if step != ":-1" else "::-1")
        elif r < 0.6:
            parts.append("None")
            continue
        elif r < 0.7 and "..." not in parts:
            parts.append("...")
            break
        else:
            parts.append(":")
        i += 1
    return ", ".join(parts) or "..."


def _index_array(g, d, n, unique=False):
    if unique:
        n = min(n, d)
        vals = g.rng.permutation(d)[:n]
    else:
        vals = g.rng.integers(-d, d, n)
    return "np.array([" + ", ".join(str(int(v)) for v in vals) + "])"


@op("index", weight=3)
def g_index(g):
    x = g.pick(lambda v: v.ndim >= 1)
    r = g.rng.random()
    if r < 0.4:
        return f"{x.name}[{_basic_index(g, x.shape)}]", _nonempty(x.name), set()
    ax = int(g.rng.integers(x.ndim))
    d = x.shape[ax]
    pre = ", ".join([":"] * ax)
    pre = pre + ", " if pre else ""
    if r < 0.55:
        mask = g.rng.random(d) < 0.6
        if not mask.any():
            mask[0] = True
        return f"{x.name}[{pre}np.array({mask.tolist()})]", None, set()
    if r < 0.75:
        k = int(g.rng.integers(1, 5))
        idx = _index_array(g, d, k)
        if x.ndim >= 2 and g.rng.random() < 0.3:   # two advanced indices (maybe split by a slice)
            idx2 = _index_array(g, x.shape[-1], k)
            mid = ", ".join([":"] * (x.ndim - 2))
            return f"{x.name}[{_index_array(g, x.shape[0], k)}, {mid + ', ' if mid else ''}{idx2}]", None, set()
        return f"{x.name}[{pre}{idx}]", None, set()
    if r < 0.85:
        # a traced integer index: a new program input
        k = int(g.rng.integers(1, 4))
        i = g.new_input((k,), g.choice([I32, I64]), lo=-d, hi=d)
        return f"{x.name}[{pre}{i.name}]", None, set()
    # a concrete array indexed by a traced index
    i = g.pick(lambda v: v.dtype.kind in "iu" and v.name.startswith("i") and v.ndim <= 2
               and np.all(np.abs(np.asarray(v.vals)) < 4)) if g.rng.random() < 0.5 else \
        g.new_input((int(g.rng.integers(1, 4)),), I32, lo=-4, hi=4)
    const = np.round(g.rng.standard_normal((4, 2)), 2).tolist()
    dt = "m.float64" if g.diff or g.rng.random() < 0.5 else "m.float32"
    return f"m.asarray(np.array({const}), dtype={dt})[{i.name}]", None, set()


def _nonempty(name):
    return lambda env: np.asarray(env[name]).size > 0 and True


@op("take", weight=0.5)
def g_take(g):
    x = g.pick(lambda v: v.ndim >= 1 and v.shape[-1] >= 2)
    if g.rng.random() < 0.5:
        return f"m.take({x.name}, {_index_array(g, x.shape[-1], 3)}, axis=-1)", None, set()
    y = g.pick(lambda v: v.dtype.kind in "f" and v.shape == x.shape and v.ndim >= 1)
    return (f"m.take_along_axis({x.name}, m.argsort({y.name}, axis=-1), axis=-1)",
            lambda env: distinct_along(env[y.name], -1), set())


@op("at", weight=3)
def g_at(g):
    x = g.pick(lambda v: v.ndim >= 1)
    mode = g.choice(["set", "add", "multiply", "min", "max"])
    if g.diff and x.dtype == BOOL and mode != "set":
        raise Reject   # jax (the derivative oracle) has no add/mul/min/max scatter on bool
    r = g.rng.random()
    d = x.shape[0]
    # the index: an int, a slice, a constant array (repeated entries for add/min/max), a traced array
    unique = mode in ("set", "multiply")
    traced = False
    if r < 0.2:
        idx = str(int(g.rng.integers(-d, d)))
    elif r < 0.4:
        idx = g.choice(["1:", f":{max(d - 1, 1)}", "::2", ":"])
        idx += ", 0" if x.ndim >= 2 and g.rng.random() < 0.5 else ""
    elif r < 0.75:
        if g.diff and mode == "multiply":
            raise Reject   # jax differentiates a multiply scatter's updates only at indices it knows unique
        idx = _index_array(g, d, int(g.rng.integers(1, 4)), unique=unique)
    else:
        if g.diff and mode == "multiply":
            raise Reject   # jax differentiates a multiply scatter only at indices it knows unique
        k = int(g.rng.integers(1, min(d, 3) + 1))
        i = g.new_input((k,), I32, lo=0, hi=d)
        if unique:   # distinct traced indices: a permutation prefix per example
            for ex in i.vals:
                ex[...] = g.rng.permutation(d)[:k]
        idx = i.name
        traced = True
    # the update's shape
    ns = {v.name: v.vals[0] for v in g.vals}
    ns.update(HELPERS)
    sub_shape = np.shape(eval(f"{x.name}[{idx}]", ns))  # noqa: S307
    rr = g.rng.random()
    if rr < 0.3:
        v = g.lit("int" if x.dtype.kind in "iub" else "float")
        if x.dtype.kind in "iub" and "." in v:
            v = "2"
    else:
        cands = [w for w in g.vals if _broadcasts_to(w.shape, sub_shape) and (w.dtype == x.dtype or not g.diff)
                 and (w.dtype.kind != "f" or x.dtype.kind == "f")]
        if not cands:
            raise Reject
        v = g.choice(cands).name
    flags = set()
    if mode == "multiply" and not unique:
        flags.add("nondiff")
    expr = f"at(m, {x.name}, {'(' + idx + ')' if ',' in idx else idx}, '{mode}', {v})"

    def guard(env):
        if mode in ("min", "max") and x.dtype.kind == "f":
            xv = np.asarray(env[x.name], np.float64)[eval(idx, {**HELPERS, **env})]  # noqa: S307
            vv = np.asarray(env[v] if v in env else eval(v, HELPERS), np.float64)  # noqa: S307
            return apart(*np.broadcast_arrays(xv, vv)) and (not traced or True)
        return True
    # (repeated indices in min/max: updates tie only when one value is broadcast to
    # several of them, where the derivative is still well defined)
    return expr, guard, flags


def _idx_unique(idx):
    return not idx.startswith("np.array") or len(set(idx[10:-2].split(", "))) == len(idx[10:-2].split(", "))


def _broadcasts_to(a, b):
    try:
        return np.broadcast_shapes(a, b) == tuple(b)
    except ValueError:
        return False


@op("sort", weight=1.5)
def g_sort(g):
    x = g.pick(lambda v: v.ndim >= 1 and v.dtype != BOOL)
    axis = g.choice([-1, None] + list(range(x.ndim)))
    name = g.choice(["sort", "argsort"])
    kw = "" if axis == -1 and g.rng.random() < 0.5 else f", axis={axis}"
    def guard(env):
        if x.dtype.kind in "iu" and name == "sort":
            return True
        return distinct_along(*_along(env[x.name], None)) if axis is None else distinct_along(env[x.name], axis)
    return f"m.{name}({x.name}{kw})", guard, set()


# --- the rest of the namespace (newer functions)

@op("extras", weight=2)
def g_extras(g):
    kind = g.choice(["rot90", "diff", "append", "cross", "logaddexp2", "fabs", "select", "stacks",
                     "array_split", "count_nonzero", "kron", "isclose", "deg2rad", "fliplr", "atleast",
                     "matrix_transpose", "meshgrid"])
    if kind == "rot90":
        x = g.pick(lambda v: v.ndim >= 2)
        k = int(g.rng.integers(-2, 4))
        ax = [int(a) for a in g.rng.choice(x.ndim, 2, replace=False)]
        return (f"m.rot90({x.name}, {k})" if g.rng.random() < 0.5 else
                f"m.rot90({x.name}, k={k}, axes={tuple(ax)})"), None, set()
    if kind == "diff":
        x = g.pick(lambda v: v.ndim >= 1 and v.dtype != BOOL)
        ax = int(g.rng.integers(-x.ndim, x.ndim))
        n = int(g.choice([1, 1, 2]))
        return f"m.diff({x.name}, n={n}, axis={ax})", None, set()
    if kind == "append":
        x = g.pick(lambda v: v.ndim >= 1)
        if g.rng.random() < 0.5:
            y = g.pick(lambda v: v.dtype == x.dtype or not g.diff)
            return f"m.append({x.name}, {y.name})", None, set()
        ax = int(g.rng.integers(x.ndim))
        y = g.pick(lambda v: v.ndim == x.ndim and all(a == b for i, (a, b) in enumerate(zip(v.shape, x.shape))
                                                      if i != ax) and (v.dtype == x.dtype or not g.diff))
        return f"m.append({x.name}, {y.name}, axis={ax})", None, set()
    if kind == "cross":
        x = g.pick(lambda v: v.ndim >= 1 and v.shape[-1] == 3 and v.dtype != BOOL)
        y = g.pick(lambda v: v.ndim >= 1 and v.shape[-1] == 3 and v.dtype != BOOL
                   and _broadcasts(v.shape[:-1], x.shape[:-1]))
        return f"m.cross({x.name}, {y.name})", None, set()
    if kind == "logaddexp2":
        x = g.pick(lambda v: v.isfloat)
        y = g.pick(lambda v: v.isfloat and _broadcasts(v.shape, x.shape))
        return f"m.logaddexp2({x.name}, {y.name})", None, set()
    if kind == "fabs":
        x = g.pick(lambda v: v.isfloat)
        return f"m.fabs({x.name})", lambda env: np.all(np.abs(env[x.name]) > 1e-2), set()
    if kind == "select":
        c1 = g.pick(lambda v: v.dtype == BOOL)
        c2 = g.pick(lambda v: v.dtype == BOOL and _broadcasts(v.shape, c1.shape))
        x = g.pick(lambda v: g.num(v) and _broadcasts(v.shape, np.broadcast_shapes(c1.shape, c2.shape)))
        both = np.broadcast_shapes(c1.shape, c2.shape, x.shape)
        y = g.pick(lambda v: v.dtype == x.dtype and _broadcasts(v.shape, both))
        default = "0" if x.dtype.kind in "iu" else "0.5"
        return f"m.select([{c1.name}, {c2.name}], [{x.name}, {y.name}], {default})", None, set()
    if kind == "stacks":
        name = g.choice(["hstack", "vstack", "dstack", "column_stack"])
        x = g.pick(lambda v: v.ndim <= 3)
        ys = [v for v in g.vals if v.shape == x.shape and (v.dtype == x.dtype or not g.diff)]
        names = ", ".join(v.name for v in ([x] + ys[:1]))
        return f"m.{name}([{names}])", None, set()
    if kind == "array_split":
        x = g.pick(lambda v: v.ndim >= 1 and v.shape[0] >= 2)
        k = int(g.rng.integers(2, 4))
        return f"m.array_split({x.name}, {k})[{int(g.rng.integers(0, 2))}]", None, set()
    if kind == "count_nonzero":
        x = g.pick(lambda v: v.dtype == BOOL or v.dtype.kind in "iu")
        ax = _axis_arg(g, x.ndim)
        return (f"m.count_nonzero({x.name})" if ax is None else f"m.count_nonzero({x.name}, axis={ax!r})"), None, set()
    if kind == "kron":
        x = g.pick(lambda v: g.num(v) and v.size <= 6)
        y = g.pick(lambda v: g.num(v) and v.size <= 6)
        return f"m.kron({x.name}, {y.name})", None, set()
    if kind == "isclose":
        x = g.pick(lambda v: v.isfloat)
        y = g.pick(lambda v: v.isfloat and _broadcasts(v.shape, x.shape))
        def guard(env):
            a, b = np.broadcast_arrays(np.asarray(env[x.name], np.float64), np.asarray(env[y.name], np.float64))
            d = np.abs(a - b) - (1e-8 + 1e-5 * np.abs(b))
            return bool(np.all(np.abs(d) > 1e-3))
        return f"m.isclose({x.name}, {y.name})", guard, set()
    if kind == "deg2rad":
        # (of integers only in mixed programs: jax gives float32 for deg2rad(int32), NumPy float64)
        x = g.pick(lambda v: v.dtype != BOOL and (v.isfloat or not g.diff))
        return f"m.{g.choice(['deg2rad', 'rad2deg', 'radians', 'degrees'])}({x.name})", None, set()
    if kind == "fliplr":
        x = g.pick(lambda v: v.ndim >= 2)
        return f"m.{g.choice(['fliplr', 'flipud'])}({x.name})", None, set()
    if kind == "atleast":
        x = g.pick(lambda v: v.ndim <= 2)
        return f"m.{g.choice(['atleast_1d', 'atleast_2d', 'atleast_3d'])}({x.name})", None, set()
    if kind == "matrix_transpose":
        x = g.pick(lambda v: v.ndim >= 2)
        return f"m.matrix_transpose({x.name})", None, set()
    x = g.pick(lambda v: v.ndim == 1 and v.size <= 4)
    y = g.pick(lambda v: v.ndim == 1 and v.size <= 4)
    ix = g.choice(["xy", "ij"])
    return f"m.meshgrid({x.name}, {y.name}, indexing='{ix}')[{int(g.rng.integers(2))}]", None, set()


# ----------------------------------------------------------------------------- the generator

def _check_result(val, dtype_in_diff):
    a = np.asarray(val)
    if a.dtype.kind == "c" or a.dtype not in (F32, F64, I32, I64, BOOL):
        return False
    if a.size == 0 or a.size > MAX_SIZE or a.ndim > 4:
        return False
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.max(np.abs(a), initial=0) > 50:
            return False
    if a.dtype.kind in "iu" and np.max(np.abs(a.astype(np.int64)), initial=0) > 10000:
        return False
    if dtype_in_diff and a.dtype.kind == "f" and a.dtype != F64:
        return False
    return True


def generate(seed, n_ops=None, diff=None):
    """The program of ``seed``."""
    rng = np.random.default_rng([seed, 1])
    if diff is None:
        diff = bool(rng.random() < 0.5)
    g = Gen(seed, diff)
    n_ops = int(g.rng.integers(5, 41)) if n_ops is None else n_ops
    # inputs: shapes drawn from one family so most pairs broadcast / contract
    base = [int(g.choice(DIMS[1:])) for _ in range(3)]
    for _ in range(int(g.rng.integers(1, 4))):
        nd = int(g.choice([0, 1, 2, 2, 3, 3]))
        shape = tuple(base[3 - nd:])
        shape = tuple(1 if g.rng.random() < 0.2 else d for d in shape)
        if diff:
            dt = F64
        else:
            dt = g.choice([F32, F32, F64, I32, I64, BOOL])
        g.new_input(shape, np.dtype(dt), dom="pos" if g.rng.random() < 0.3 else "real")
    if diff:  # sometimes an integer or bool input too (closed over by derivative checks)
        if g.rng.random() < 0.3:
            g.new_input(tuple(base[1:]), g.choice([I32, BOOL]))
    names = sorted(OPS)
    weights = np.array([OPS[n][1] for n in names])
    weights = weights / weights.sum()
    flags = set()
    tries = 0
    while g.nv < n_ops and tries < n_ops * 40:
        tries += 1
        name = names[int(g.rng.choice(len(names), p=weights))]
        fn = OPS[name][0]
        n_inputs_before = len(g.inputs)
        saved_rng = None
        try:
            with np.errstate(all="ignore"):
                expr, guard, fl = fn(g)
        except Exception:  # noqa: BLE001  (Reject, or nothing in scope fits this generator)
            _drop_new_inputs(g, n_inputs_before)
            continue
        res = _try(g, expr, guard)
        if res is None:
            _drop_new_inputs(g, n_inputs_before)
            continue
        vname = f"v{g.nv}"
        g.nv += 1
        used = [v for v in g.vals if _mentions(expr, v.name)]
        for v in used:
            g.consumed.add(v.name)
        val = Val(vname, res, diff=any(v.diff for v in used))
        g.vals.append(val)
        g.lines.append(f"    {vname} = {expr}")
        g.used.append(name)
        flags |= fl
        del saved_rng
    outs = [v for v in g.vals if v.name.startswith("v") and v.name not in g.consumed]
    if not outs:
        outs = [g.vals[-1]]
    if diff:
        # derivative checks need a float output that depends on the inputs
        if not any(v.isfloat and v.diff for v in outs):
            fl = [v for v in g.vals if v.isfloat and v.diff]
            outs.append(fl[-1])
    outs = outs[-4:] if not diff else ([v for v in outs if v.isfloat and v.diff][-3:]
                                       + [v for v in outs if not v.isfloat][-1:])
    args = ", ".join(["m"] + [n for n, _ in g.inputs])
    ret = "(" + ", ".join(v.name for v in outs) + ("," if len(outs) == 1 else "") + ")"
    src = f"def prog({args}):\n" + "\n".join(g.lines) + f"\n    return {ret}\n"
    if {"fwd_only", "rev_only"} <= flags:
        flags.add("nondiff")   # no derivative mode applies to both while_loop and custom_vjp
    nondiff = sorted(flags & {"nondiff"})
    modes = "fwd" if "fwd_only" in flags else "rev" if "rev_only" in flags else "both"
    has_f32 = any(v.dtype == F32 for v in g.vals) or F32 in getattr(g, "sub_dtypes", ())
    return Program(seed, src, g.inputs, [v.name for v in outs], g.used, diff and not nondiff, nondiff, has_f32,
                   modes)


def _drop_new_inputs(g, n):
    while len(g.inputs) > n:
        name, _ = g.inputs.pop()
        g.vals = [v for v in g.vals if v.name != name]
        g.nin -= 1


def _names(expr):
    import re
    return set(re.findall(r"\b[vxib]\d+\b", expr))


def _mentions(expr, name):
    import re
    return re.search(rf"\b{name}\b", expr) is not None


def _try(g, expr, guard):
    """The snippet's NumPy values on every example, or None if it does not fit."""
    res = []
    for b in range(B):
        env = {v.name: v.vals[b] for v in g.vals}
        try:
            with np.errstate(all="ignore"):
                ok = guard is None or guard(env)
            if not ok:
                return None
        except Exception:  # noqa: BLE001  (a guard that cannot be evaluated: reject)
            return None
        ns = dict(HELPERS)
        ns.update(env)
        ns["m"] = np
        try:
            with warnings.catch_warnings(), np.errstate(all="raise"):
                warnings.simplefilter("error")
                out = eval(expr, ns)  # noqa: S307
        except Exception:  # noqa: BLE001  (NumPy rejects it: not a well-typed program)
            return None
        if isinstance(out, tuple):
            return None
        if not _check_result(out, g.diff):
            return None
        res.append(out)
    shapes = {np.shape(r) for r in res}
    dtypes = {np.asarray(r).dtype for r in res}
    if len(shapes) != 1 or len(dtypes) != 1:
        return None
    return res


import fuzz_families  # noqa: E402  (control flow, random, nn, conv, custom rules, checkpoint)

fuzz_families.register(sys.modules[__name__])


if __name__ == "__main__":
    for s in sys.argv[1:] or ["0"]:
        print(generate(int(s)).describe())
