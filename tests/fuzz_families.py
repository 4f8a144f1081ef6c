"""The fuzzer's newer op families (``tests/fuzz_programs.py`` registers them):
``funcgrad.lax`` control flow (``cond``, ``switch``, ``fori_loop``, ``while_loop``,
``scan``, with closures over earlier values and tuple / dict carries),
``funcgrad.random`` samplers, ``funcgrad.nn`` activations, convolution and pooling,
custom derivative rules (``custom_jvp`` / ``custom_vjp``) and ``checkpoint``.

Each family is one helper the program text calls with the module parameter ``m``
(``cond(m, pred, lambda ca: ..., lambda ca: ..., v3)``), so the same text still runs on
three modules:

- NumPy: the plain Python meaning (the branch taken, a Python loop), or -- for random
  numbers, convolution and pooling, which NumPy lacks -- jax evaluated eagerly in
  float64 mode.  ``funcgrad.random`` is bit-compatible with ``jax.random`` (its
  contract), so jax's numbers are the reference for funcgrad's eager ones.
- funcgrad: ``funcgrad.lax`` / ``funcgrad.random`` / ``funcgrad.nn`` / ``custom_jvp`` ...
- jax (the derivative oracle): ``jax.lax`` / ``jax.random`` / ``jax.nn``; the custom-rule
  functions are the plain functions (their rules are the true derivatives) and
  ``checkpoint`` is ``jax.checkpoint``.

Branch, body and checkpointed expressions are drawn by the ordinary op generators on a
nested generator (:class:`SubGen`) whose values are the lambda's parameters and every
value in scope (closures), validated with their guards on every example, so both
branches of a ``cond`` are valid on every example (``vmap`` evaluates both).  Loop
bodies are drawn from smooth templates (``tanh``, ``sin``, ``arctan``, affine maps)
that keep the carry's shape and dtype, so every iteration stays valid.

Flags: ``while_loop`` and a ``fori_loop`` with a traced bound are differentiable in
forward mode only (``"fwd_only"``, as in JAX); ``custom_vjp`` in reverse mode only
(``"rev_only"``).
"""
import functools
import math
import re

import numpy as np

fp = None           # tests/fuzz_programs.py, once it registers this module
FAMILY = []         # (name, fn, weight)
SUB_EXCLUDE = set()  # families not drawn inside a branch or body (no nesting)


def _kind(m):
    if m is np:
        return "np"
    return "jax" if getattr(m, "__name__", "").startswith("jax") else "fg"


def _jax():
    import jax
    return jax


def _fg():
    import funcgrad
    return funcgrad


def _on_jax(fn, *args, **kw):
    """``fn`` (a jax function) evaluated eagerly in float64 mode, as NumPy arrays."""
    jax = _jax()
    with jax.enable_x64(True):
        out = fn(*args, **kw)
    return jax.tree_util.tree_map(np.asarray, out)


# ----------------------------------------------------------------------------- helpers in the programs

def _np_map(f, *trees):
    t = trees[0]
    if isinstance(t, tuple):
        return tuple(_np_map(f, *xs) for xs in zip(*trees, strict=True))
    if isinstance(t, dict):
        return {k: _np_map(f, *[x[k] for x in trees]) for k in t}
    return f(*trees)


def cond(m, pred, true_fun, false_fun, *ops):
    """``lax.cond``; NumPy: the branch ``pred`` picks, called in Python."""
    k = _kind(m)
    if k == "np":
        return true_fun(*ops) if bool(pred) else false_fun(*ops)
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.cond(pred, true_fun, false_fun, *ops)


def switch(m, index, branches, *ops):
    """``lax.switch`` (the index clamped into range, as jax does)."""
    k = _kind(m)
    if k == "np":
        return branches[int(np.clip(index, 0, len(branches) - 1))](*ops)
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.switch(index, branches, *ops)


def fori_loop(m, lower, upper, body, init):
    k = _kind(m)
    if k == "np":
        c = init
        for i in range(int(lower), int(upper)):
            c = body(i, c)
        return c
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.fori_loop(lower, upper, body, init)


def while_loop(m, cond_fun, body_fun, init):
    k = _kind(m)
    if k == "np":
        c = init
        while bool(cond_fun(c)):
            c = body_fun(c)
        return c
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.while_loop(cond_fun, body_fun, init)


def scan(m, f, init, xs, reverse=False, unroll=1):
    """``lax.scan``: ``(carry, stacked ys)``; NumPy: a Python loop over the leading axis."""
    k = _kind(m)
    if k == "np":
        n = len(xs[0]) if isinstance(xs, tuple) else len(xs)
        c, ys = init, []
        for t in (reversed(range(n)) if reverse else range(n)):
            c, y = f(c, _np_map(lambda a: a[t], xs))
            ys.append(y)
        if reverse:
            ys.reverse()
        return c, _np_map(lambda *a: np.stack(a), *ys)
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.scan(f, init, xs, reverse=reverse, unroll=unroll)


def _key(mod, key, how):
    if how.startswith("split"):
        return mod.split(key, 3 if how[-1] == "2" else 2)[int(how[-1])]
    if how.startswith("fold"):
        return mod.fold_in(key, int(how[4:]))
    return key


def rnd(m, key, how, fn, *args, **kw):
    """``funcgrad.random.<fn>`` / ``jax.random.<fn>`` of ``key`` (after a split or fold_in
    named by ``how``); NumPy: jax's numbers (funcgrad's are bit-compatible)."""
    k = _kind(m)
    if k == "np":
        jax = _jax()
        args, kw = _x32(fn, args, kw)
        out = _on_jax(lambda: getattr(jax.random, fn)(_key(jax.random, key, how), *args, **kw))
        return out.astype(np.int32) if fn == "categorical" else out
    mod = _jax().random if k == "jax" else _fg().random
    if k == "jax":
        args, kw = _x32(fn, args, kw)
    return getattr(mod, fn)(_key(mod, key, how), *args, **kw)


def _x32(fn, args, kw):
    """jax's arguments as outside float64 mode, where its numbers are funcgrad's: randint's
    default int32, bernoulli's float32 ``p`` for a Python float."""
    if fn == "randint" and len(args) < 4 and "dtype" not in kw:
        kw = dict(kw, dtype=np.int32)
    if fn == "bernoulli" and isinstance(args[0], float):
        args = (np.float32(args[0]),) + tuple(args[1:])
    return args, kw


def _erf(x):
    x = np.asarray(x)
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _np_logsumexp(x, axis=None):
    mx = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(mx, axis=axis) + np.log(np.sum(np.exp(x - mx), axis=axis))


def _np_standardize(x, axis=-1, epsilon=1e-5):
    mean = np.mean(x, axis=axis, keepdims=True)
    var = np.mean(np.square(x), axis=axis, keepdims=True) - np.square(mean)
    return (x - mean) / np.sqrt(var + epsilon)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


NP_NN = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "sigmoid": _np_sigmoid,
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "softplus": lambda x: np.logaddexp(x, 0),
    "silu": lambda x: x * _np_sigmoid(x),
    "gelu": lambda x, approximate=True: (
        0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))) if approximate
        else x * 0.5 * (1 + _erf(x / math.sqrt(2)))),
    "elu": lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.where(x > 0, 0, x))),
    "leaky_relu": lambda x, negative_slope=0.01: np.where(x >= 0, x, negative_slope * x),
    "softmax": _np_softmax,
    "log_softmax": _np_log_softmax,
    "logsumexp": _np_logsumexp,
    "standardize": _np_standardize,
    "one_hot": lambda x, n, dtype=np.float32: (np.asarray(x)[..., None] == np.arange(n)).astype(dtype),
}


def nn(m, name, *args, **kw):
    """``funcgrad.nn.<name>`` / ``jax.nn.<name>``; NumPy: a small reference."""
    k = _kind(m)
    if k == "np":
        return NP_NN[name](*args, **kw)
    mod = _jax().nn if k == "jax" else _fg().nn
    return getattr(mod, name)(*args, **kw)


def conv(m, x, w, strides, padding, **kw):
    """``lax.conv_general_dilated``; NumPy: jax's, eagerly."""
    k = _kind(m)
    if k == "np":
        return _on_jax(_jax().lax.conv_general_dilated, x, w, strides, padding, **kw)
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.conv_general_dilated(x, w, strides, padding, **kw)


def pool(m, which, x, window, strides, padding):
    """``lax.reduce_window`` with max (init -inf) or add (init 0); NumPy: jax's, eagerly."""
    k = _kind(m)
    if k == "np":
        jax = _jax()
        return _on_jax(lambda: jax.lax.reduce_window(x, -np.inf if which == "max" else 0.0,
                                                     jax.lax.max if which == "max" else jax.lax.add,
                                                     window, strides, padding))
    lax = _jax().lax if k == "jax" else _fg().lax
    return lax.reduce_window(x, -np.inf if which == "max" else 0.0, lax.max if which == "max" else lax.add,
                             window, strides, padding)


# custom-rule versions of smooth functions: (the plain function over a module, how to
# build funcgrad's version); the rules are the true derivatives, so the plain function
# is the oracle
def _plain(name, m, *xs):
    if name == "csinx":
        x, = xs
        return m.sin(x) * x
    if name == "csoftplus":
        x, = xs
        return m.logaddexp(x, 0.0)
    if name == "cscale":
        x, a = xs
        return m.tanh(a * x)
    if name == "cmul":
        x, y = xs
        return x * m.tanh(y)
    if name == "cexp":
        x, a = xs
        return m.exp(a * x)
    raise KeyError(name)


@functools.cache
def _custom(name):
    fg = _fg()
    fnp = fg.numpy
    if name == "csinx":
        f = fg.custom_jvp(lambda x: fnp.sin(x) * x)
        f.defjvp(lambda p, t: (fnp.sin(p[0]) * p[0], (fnp.cos(p[0]) * p[0] + fnp.sin(p[0])) * t[0]))
        return f
    if name == "csoftplus":
        f = fg.custom_jvp(lambda x: fnp.logaddexp(x, 0.0))
        f.defjvp(lambda p, t: (fnp.logaddexp(p[0], 0.0), t[0] / (1 + fnp.exp(-p[0]))))
        return f
    if name == "cscale":   # nondiff_argnums: the rule gets the static argument first
        f = fg.custom_jvp(lambda x, a: fnp.tanh(a * x), nondiff_argnums=(1,))
        f.defjvp(lambda a, p, t: (fnp.tanh(a * p[0]), a * (1 - fnp.tanh(a * p[0]) ** 2) * t[0]))
        return f
    if name == "cmul":
        f = fg.custom_vjp(lambda x, y: x * fnp.tanh(y))
        f.defvjp(lambda x, y: (x * fnp.tanh(y), (x, y)),
                 lambda res, g: (g * fnp.tanh(res[1]), g * res[0] * (1 - fnp.tanh(res[1]) ** 2)))
        return f
    if name == "cexp":
        f = fg.custom_vjp(lambda x, a: fnp.exp(a * x), nondiff_argnums=(1,))
        f.defvjp(lambda x, a: (fnp.exp(a * x), fnp.exp(a * x)), lambda a, res, g: (g * a * res,))
        return f
    raise KeyError(name)


def cfun(m, name, *xs):
    """A custom-rule function (funcgrad) or the plain function it stands for."""
    if _kind(m) == "fg":
        return _custom(name)(*xs)
    return _plain(name, m, *xs)


def ckpt(m, f, *ops):
    """``funcgrad.checkpoint(f)(*ops)`` / ``jax.checkpoint``; NumPy: ``f(*ops)``."""
    k = _kind(m)
    if k == "np":
        return f(*ops)
    return (_jax().checkpoint if k == "jax" else _fg().checkpoint)(f)(*ops)


HELPERS = {"cond": cond, "switch": switch, "fori_loop": fori_loop, "while_loop": while_loop, "scan": scan,
           "rnd": rnd, "nn": nn, "conv": conv, "pool": pool, "cfun": cfun, "ckpt": ckpt}


# ----------------------------------------------------------------------------- generators

def family(name, weight=1.0, nest=False):
    def deco(fn):
        FAMILY.append((name, fn, weight))
        if not nest:
            SUB_EXCLUDE.add(name)
        return fn
    return deco


def _sub(g):
    return getattr(g, "in_sub", False)


def _new_sub(g, params):
    """A nested generator over the lambda's parameters (``params``: Val) and the values
    in scope."""
    s = fp.Gen.__new__(fp.Gen)
    s.__dict__.update(g.__dict__)
    s.vals = list(g.vals) + list(params)
    s.lines, s.used, s.consumed, s.inputs = [], [], set(), []
    s.in_sub = True
    s.sub_flags = set()
    s.new_input = _no_input
    return s


def _no_input(*a, **k):
    raise fp.Reject


def _inline(expr, defs):
    return re.sub(r"\bw\d+\b", lambda mt: "(" + defs[mt.group(0)] + ")", expr)


def sub_body(g, params, n_ops):
    """``(expr, values per example, flags)``: an expression of 1..n_ops ops over the
    parameters (inlined into one expression), drawn by the op generators."""
    s = _new_sub(g, params)
    names = sorted(n for n in fp.OPS if n not in SUB_EXCLUDE)
    w = np.array([fp.OPS[n][1] for n in names])
    w = w / w.sum()
    defs, last, flags = {}, None, set()
    tries = 0
    pnames = [p.name for p in params]
    while len(defs) < n_ops and tries < 30 * n_ops:
        tries += 1
        name = names[int(g.rng.choice(len(names), p=w))]
        try:
            with np.errstate(all="ignore"):
                expr, guard, fl = fp.OPS[name][0](s)
        except Exception:  # noqa: BLE001
            continue
        # each op builds on the parameters or the op before it (so the body uses its parameters)
        if not any(fp._mentions(expr, n) for n in pnames + list(defs)):
            continue
        res = fp._try(s, expr, guard)
        if res is None:
            continue
        wn = f"w{len(defs)}"
        text = _inline(expr, defs)
        if len(text) > 500:
            continue
        defs[wn] = text
        used = [v for v in s.vals if fp._mentions(expr, v.name)]
        s.vals.append(fp.Val(wn, res, diff=any(v.diff for v in used)))
        last = s.vals[-1]
        flags |= fl
    if last is None:
        raise fp.Reject
    text = defs[last.name]
    if not any(re.search(rf"\b{p}\b", text) for p in pnames):
        raise fp.Reject   # a body that ignores its parameters
    g.sub_dtypes = getattr(g, "sub_dtypes", set()) | {v.dtype for v in s.vals}
    return text, last.vals, flags


def _same_type(a, b):
    return all(np.shape(x) == np.shape(y) and np.asarray(x).dtype == np.asarray(y).dtype
               for x, y in zip(a, b, strict=True))


def _operands(g, k):
    ops = []
    for _ in range(k):
        v = g.pick(lambda v: v not in ops)
        ops.append(v)
    return ops


def _params(ops, prefix="c"):
    return [fp.Val(f"{prefix}{'abcd'[j]}", v.vals, v.diff) for j, v in enumerate(ops)]


def _pred(g):
    """A scalar predicate that differs across the examples when it can, away from ties."""
    r = g.rng.random()
    bs = [v for v in g.vals if v.dtype == fp.BOOL]
    if bs and r < 0.3:
        b = g.choice(bs)
        return (f"m.any({b.name})" if g.rng.random() < 0.5 else f"m.all({b.name})"), None
    x = g.pick(lambda v: v.isfloat)
    red = g.choice(["sum", "mean", "max"])
    sums = [float(np.asarray(getattr(np, red)(e), np.float64)) for e in x.vals]
    srt = sorted(sums)
    if g.rng.random() < 0.7 and srt[-1] - srt[0] > 0.05:
        j = int(g.rng.integers(len(srt) - 1))
        thr = round((srt[j] + srt[j + 1]) / 2, 3)
    else:
        thr = round(float(g.rng.uniform(-1, 1)), 2)
    sym = g.choice([">", "<"])

    def guard(env):
        return fp.apart(getattr(np, red)(np.asarray(env[x.name], np.float64)), thr, margin=1e-3)
    return f"m.{red}({x.name}) {sym} {thr}", guard


def _and(*guards):
    gs = [gd for gd in guards if gd is not None]
    return (lambda env: all(gd(env) for gd in gs)) if gs else None


@family("cond", weight=1.0)
def g_cond(g):
    if _sub(g):
        raise fp.Reject
    ops = _operands(g, int(g.rng.integers(1, 3)))
    params = _params(ops)
    pred, guard = _pred(g)
    two = g.rng.random() < 0.25
    t1, tv1, fl1 = sub_body(g, params, int(g.rng.integers(1, 4)))
    for _ in range(6):
        f1, fv1, fl2 = sub_body(g, params, int(g.rng.integers(1, 4)))
        if _same_type(tv1, fv1):
            break
    else:
        raise fp.Reject
    lam = "lambda " + ", ".join(p.name for p in params) + ": "
    args = ", ".join(v.name for v in ops)
    if two:   # a tuple out of both branches; the line keeps one of them
        j = int(g.rng.integers(2))
        tb, fb = (f"({t1}, {f1})", f"({f1}, {t1})")
        return f"cond(m, {pred}, {lam}{tb}, {lam}{fb}, {args})[{j}]", guard, fl1 | fl2
    return f"cond(m, {pred}, {lam}{t1}, {lam}{f1}, {args})", guard, fl1 | fl2


@family("switch", weight=0.6)
def g_switch(g):
    if _sub(g):
        raise fp.Reject
    ops = _operands(g, int(g.rng.integers(1, 3)))
    params = _params(ops)
    n = int(g.rng.integers(2, 4))
    ints = [v for v in g.vals if v.dtype.kind == "i"]
    guard = None
    if ints and g.rng.random() < 0.7:
        iv = g.choice(ints)
        idx = f"m.sum({iv.name}) % {n}"
    else:
        x = g.pick(lambda v: v.isfloat and v.ndim >= 1 and v.shape[-1] >= 2)
        idx = f"m.argmax({x.name})"
        guard = lambda env: fp.distinct_along(env[x.name], None)  # noqa: E731
    branches, flags = [], set()
    t0, v0, fl = sub_body(g, params, int(g.rng.integers(1, 3)))
    branches.append(t0)
    flags |= fl
    for _ in range(n - 1):
        for _ in range(6):
            t, v, fl = sub_body(g, params, int(g.rng.integers(1, 3)))
            if _same_type(v0, v):
                break
        else:
            raise fp.Reject
        branches.append(t)
        flags |= fl
    lam = "lambda " + ", ".join(p.name for p in params) + ": "
    args = ", ".join(v.name for v in ops)
    return f"switch(m, {idx}, [{', '.join(lam + b for b in branches)}], {args})", guard, flags


def _safe_step(g, t, shape, dtype, others=(), k=None):
    """A smooth map of the carry text ``t`` (shape, dtype) that keeps its shape and dtype,
    maybe with a closure over a value in scope, the other carries (through their mean)
    and the loop index ``k``."""
    a = round(float(g.rng.uniform(0.3, 1.1)) * float(g.choice([-1, 1])), 2)
    cl = [v for v in g.vals if v.dtype == dtype and fp._broadcasts_to(v.shape, shape)
          and np.max(np.abs(np.asarray(v.vals, np.float64)), initial=0) < 20]
    extra = ""
    if cl and g.rng.random() < 0.6:
        extra += f" + {g.choice(cl).name} * {round(float(g.rng.uniform(0.2, 0.8)), 2)}"
    if others and g.rng.random() < 0.5:
        extra += f" + 0.3 * m.mean({g.choice(list(others))})"
    if k is not None and dtype == fp.F64 and g.rng.random() < 0.5:
        extra += f" + {k} * 0.1"
    form = g.choice(["tanh", "sin", "arctan", "affine", "cos"])
    if form == "affine":
        return f"{t} * {a}{extra}"
    if form == "cos":
        return f"{t} * {a} + m.cos({t}){extra}"
    return f"m.{form}({t} * {a}{extra})"


def _carry(g, what):
    """1 or 2 float values for a loop carry: ``(vals, parts, form, init, sel)`` -- the
    values, the source of each carry part inside the body (``what``, ``what[0]`` or
    ``what['a']``), the form (single, tuple or dict), the initial value's source and the
    selection of one part from the loop's result."""
    first = g.pick(lambda v: v.isfloat)
    vals = [first]
    if g.rng.random() < 0.5:
        others = [v for v in g.vals if v.isfloat and v is not first]
        if others:
            vals.append(g.choice(others))
    form = "single" if len(vals) == 1 else g.choice(["tuple", "dict"])
    if form == "single":
        return vals, [what], form, vals[0].name, ""
    if form == "tuple":
        j = int(g.rng.integers(len(vals)))
        return vals, [f"{what}[{j}]" for j in range(len(vals))], form, \
            "(" + ", ".join(v.name for v in vals) + ")", f"[{j}]"
    keys = ["a", "b"][:len(vals)]
    init = "{" + ", ".join(f"{k!r}: {v.name}" for k, v in zip(keys, vals)) + "}"
    return vals, [f"{what}[{k!r}]" for k in keys], form, init, f"[{g.choice(keys)!r}]"


def _others(parts, vals, p, v):
    """The other carry parts of ``v``'s dtype (a mean of one keeps the dtype)."""
    return [q for q, u in zip(parts, vals) if q != p and u.dtype == v.dtype]


def _pack(form, parts):
    if form == "single":
        return parts[0]
    if form == "dict":
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip("ab", parts)) + "}"
    return "(" + ", ".join(parts) + ")"


def _bound(g):
    """A traced trip count in 1..3 from an integer value, or None."""
    ints = [v for v in g.vals if v.dtype.kind == "i"]
    if not ints:
        return None
    return f"m.sum({g.choice(ints).name}) % 3 + 1"


@family("fori_loop", weight=0.8)
def g_fori(g):
    if _sub(g):
        raise fp.Reject
    vals, parts, form, init, sel = _carry(g, "c")
    new = [_safe_step(g, p, v.shape, v.dtype, _others(parts, vals, p, v), k="k")
           for p, v in zip(parts, vals)]
    flags = set()
    lo = int(g.rng.integers(0, 2))
    hi = str(lo + int(g.rng.integers(1, 4)))
    if g.rng.random() < 0.3:
        b = _bound(g)
        if b is not None:
            hi, lo = b, 0
            flags.add("fwd_only")   # a traced bound makes it a while loop (as in JAX)
    body = f"lambda k, c: {_pack(form, new)}"
    return f"fori_loop(m, {lo}, {hi}, {body}, {init}){sel}", None, flags


@family("while_loop", weight=0.4)
def g_while(g):
    if _sub(g):
        raise fp.Reject
    vals, parts, form, init, sel = _carry(g, "s[1]")
    new = [_safe_step(g, p, v.shape, v.dtype, _others(parts, vals, p, v)) for p, v in zip(parts, vals)]
    n = _bound(g) if g.rng.random() < 0.6 else None
    n = n or str(int(g.rng.integers(1, 4)))
    body = f"lambda s: (s[0] + 1, {_pack(form, new)})"
    return f"while_loop(m, lambda s: s[0] < {n}, {body}, (0, {init}))[1]{sel}", None, {"fwd_only"}


@family("scan", weight=1.0)
def g_scan(g):
    if _sub(g):
        raise fp.Reject
    vals, parts, form, init, sel = _carry(g, "c")
    xs = g.pick(lambda v: v.ndim >= 1 and v.dtype != fp.BOOL)
    xs2 = None
    if g.rng.random() < 0.3:
        cands = [v for v in g.vals if v.ndim >= 1 and v.shape[0] == xs.shape[0] and v is not xs
                 and v.dtype != fp.BOOL]
        xs2 = g.choice(cands) if cands else None
    xt = ["x[0]", "x[1]"] if xs2 is not None else ["x"]
    slice_shape = xs.shape[1:]
    new = []
    for p, v in zip(parts, vals):
        step = _safe_step(g, p, v.shape, v.dtype, _others(parts, vals, p, v))
        if fp._broadcasts_to(slice_shape, v.shape) and xs.dtype == v.dtype and g.rng.random() < 0.5:
            term = f"{xt[0]} * 0.5"
        else:
            term = f"(m.sum({xt[-1]}) * 0.3).astype({p}.dtype)"
        new.append(f"{step} + {term}" if g.rng.random() < 0.5 else f"m.tanh({step} + {term})")
    # mean of an integer slice: in NumPy's dtype (jax's mean of int32 is float32 even in
    # 64-bit mode, which the oracle would then compare at 1e-8; seed 4086)
    xm = xt[0] if np.dtype(xs.dtype).kind == "f" else f"{xt[0]}.astype({parts[0]}.dtype)"
    y = g.choice([f"m.sin({parts[0]}) * 0.5", f"{parts[0]} * m.mean({xm})", f"m.sum({parts[-1]}) + {xt[-1]}"])
    carry_new = _pack(form, new)
    rev = ", reverse=True" if g.rng.random() < 0.3 else ""
    unroll = ", unroll=2" if g.rng.random() < 0.2 else ""
    xs_text = f"({xs.name}, {xs2.name})" if xs2 is not None else xs.name
    out = int(g.rng.integers(2))
    return (f"scan(m, lambda c, x: ({carry_new}, {y}), {init}, {xs_text}{rev}{unroll})[{out}]"
            + (sel if out == 0 else "")), None, set()


def _key_input(g):
    keys = [v for v in g.vals if v.dtype == np.dtype(np.uint32)]
    if keys and g.rng.random() < 0.6:
        return g.choice(keys)
    v = g.new_input((2,), np.dtype(np.uint32))
    for ex in v.vals:
        ex[...] = [0, int(g.rng.integers(0, 2**31))] if g.rng.random() < 0.7 else g.rng.integers(0, 2**32, 2)
    return v


@family("random", weight=1.0)
def g_random(g):
    if _sub(g):
        raise fp.Reject
    fdt = "m.float64" if g.diff or g.rng.random() < 0.3 else "m.float32"
    kind = g.choice(["normal", "uniform", "uniform_param", "bernoulli", "randint", "gumbel", "truncated_normal",
                     "categorical", "permutation", "bits_ints"])
    shape = g.rand_shape(int(g.rng.integers(0, 3)))
    guard = None
    if kind == "uniform_param":   # differentiable in its bounds
        x = g.pick(lambda v: v.dtype == (fp.F64 if fdt == "m.float64" else fp.F32) and v.ndim <= 2)
        call = f"'uniform', {x.shape!r}, {fdt}, minval={x.name}, maxval={x.name} + 1.5"
    elif kind == "normal":
        call = f"'normal', {shape!r}, {fdt}"
    elif kind == "uniform":
        call = f"'uniform', {shape!r}" + (f", {fdt}, minval=-1.0, maxval=2.0" if g.rng.random() < 0.5 else f", {fdt}")
    elif kind == "bernoulli":
        call = f"'bernoulli', {round(float(g.rng.uniform(0.2, 0.8)), 2)}, {shape!r}"
    elif kind == "randint":
        call = f"'randint', {shape!r}, -3, {int(g.rng.integers(1, 6))}"
    elif kind == "gumbel":
        call = f"'gumbel', {shape!r}, {fdt}"
    elif kind == "truncated_normal":
        call = f"'truncated_normal', -1.5, 1.0, {shape!r}, {fdt}"
    elif kind == "categorical":
        x = g.pick(lambda v: v.isfloat and v.ndim >= 1)
        call = f"'categorical', {x.name}"
    elif kind == "permutation":
        x = g.pick(lambda v: v.ndim >= 1)
        call = f"'permutation', {x.name}"
    else:
        call = f"'randint', {shape!r}, 0, 7, m.int64" if g.rng.random() < 0.5 and not g.diff else \
            f"'randint', {shape!r}, 0, 7"
    key = _key_input(g)
    how = g.choice(["", "", "split0", "split1", "split2", f"fold{int(g.rng.integers(0, 9))}"])
    return f"rnd(m, {key.name}, '{how}', {call})", guard, set()


NN_KINK = {"relu": (0.0,), "relu6": (0.0, 6.0), "elu": (0.0,), "leaky_relu": (0.0,)}


@family("nn", weight=1.2, nest=True)
def g_nn(g):
    name = g.choice(["relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "silu", "gelu", "elu", "leaky_relu",
                     "softmax", "log_softmax", "logsumexp", "standardize", "one_hot"])
    if name == "one_hot":
        x = g.pick(lambda v: v.dtype.kind == "i" and v.ndim <= 2)
        n = int(g.rng.integers(2, 5))
        dt = ", dtype=m.float64" if g.diff or g.rng.random() < 0.5 else ""
        return f"nn(m, 'one_hot', {x.name}, {n}{dt})", None, set()
    x = g.pick(lambda v: v.isfloat)
    kw = ""
    guard = None
    if name in NN_KINK:
        pts = NN_KINK[name]
        guard = lambda env: all(fp.apart(env[x.name], p, margin=1e-2) for p in pts)  # noqa: E731
    if name == "gelu":
        kw = g.choice(["", ", approximate=False", ", approximate=True"])
    elif name == "elu":
        kw = g.choice(["", ", alpha=0.5"])
    elif name == "leaky_relu":
        kw = g.choice(["", ", negative_slope=0.2"])
    elif name in ("softmax", "log_softmax", "logsumexp", "standardize"):
        if x.ndim == 0 and name != "logsumexp":
            raise fp.Reject
        ax = fp._axis_arg(g, x.ndim) if name in ("softmax", "log_softmax", "logsumexp") else -1
        if name in ("softmax", "log_softmax") and ax is None:
            ax = -1
        kw = "" if ax is None else f", axis={ax!r}"
        if name == "standardize":
            guard = lambda env: np.all(np.var(np.asarray(env[x.name], np.float64), axis=-1) > 1e-2)  # noqa: E731
        if name == "logsumexp" and ax is None:
            kw = ""
    return f"nn(m, '{name}', {x.name}{kw})", guard, set()


@family("conv", weight=0.8)
def g_conv(g):
    if _sub(g):
        raise fp.Reject
    x = g.pick(lambda v: v.isfloat and 2 <= v.ndim <= 4)
    layout = g.choice(["NCHW", "NHWC"])
    s = x.shape
    full = (1,) * (4 - x.ndim) + s
    if layout == "NCHW":
        n, c, h, w = full
    else:
        n, h, w, c = full
    lhs = x.name if x.ndim == 4 else f"m.reshape({x.name}, {full!r})"
    groups = c if c > 1 and g.rng.random() < 0.25 else 1
    o = groups * int(g.rng.integers(1, 3)) if groups > 1 else int(g.rng.integers(1, 4))
    kh, kw_ = int(g.rng.integers(1, min(h, 3) + 1)), int(g.rng.integers(1, min(w, 3) + 1))
    wshape = (o, c // groups, kh, kw_) if layout == "NCHW" else (kh, kw_, c // groups, o)
    wv = g.new_input(wshape, x.dtype)
    strides = (int(g.choice([1, 1, 2])), int(g.choice([1, 2])))
    padding = g.choice(["'SAME'", "'VALID'", "((0, 1), (1, 0))", "((1, 1), (0, 0))"])
    kw = ""
    if layout == "NHWC":
        kw += ", dimension_numbers=('NHWC', 'HWIO', 'NHWC')"
    if g.rng.random() < 0.2:
        kw += ", rhs_dilation=(1, 2)"
    if g.rng.random() < 0.1:
        kw += ", lhs_dilation=(2, 1)"
    if groups > 1:
        kw += f", feature_group_count={groups}"
    return f"conv(m, {lhs}, {wv.name}, {strides!r}, {padding}{kw})", None, set()


@family("pool", weight=0.6)
def g_pool(g):
    if _sub(g):
        raise fp.Reject
    x = g.pick(lambda v: v.isfloat and v.ndim >= 1)
    which = g.choice(["max", "sum"])
    window = tuple(int(g.rng.integers(1, min(d, 3) + 1)) for d in x.shape)
    strides = tuple(int(g.choice([1, 1, 2])) for _ in x.shape)
    padding = g.choice(["'VALID'", "'SAME'"])
    guard = (lambda env: fp.distinct_along(env[x.name], None)) if which == "max" else None
    return f"pool(m, '{which}', {x.name}, {window!r}, {strides!r}, {padding})", guard, set()


@family("custom", weight=1.0, nest=True)
def g_custom(g):
    name = g.choice(["csinx", "csoftplus", "cscale", "cmul", "cexp"])
    x = g.pick(lambda v: v.isfloat)
    if name in ("csinx", "csoftplus"):
        return f"cfun(m, '{name}', {x.name})", None, set()
    if name == "cscale":
        return f"cfun(m, 'cscale', {x.name}, {round(float(g.rng.uniform(0.3, 1.5)), 2)})", None, set()
    if name == "cexp":
        a = round(float(g.rng.uniform(0.3, 1.2)), 2)
        return (f"cfun(m, 'cexp', {x.name}, {a})", lambda env: np.all(np.abs(a * np.asarray(env[x.name])) < 3),
                {"rev_only"})
    y = g.pick(lambda v: v.isfloat and v.shape == x.shape and v.dtype == x.dtype)
    return f"cfun(m, 'cmul', {x.name}, {y.name})", None, {"rev_only"}


@family("checkpoint", weight=0.8)
def g_checkpoint(g):
    if _sub(g):
        raise fp.Reject
    ops = _operands(g, int(g.rng.integers(1, 3)))
    params = _params(ops, prefix="p")
    body, _, fl = sub_body(g, params, int(g.rng.integers(1, 4)))
    lam = "lambda " + ", ".join(p.name for p in params) + ": "
    return f"ckpt(m, {lam}{body}, {', '.join(v.name for v in ops)})", None, fl


def register(mod):
    """Add the helpers and generators to ``tests/fuzz_programs.py``'s tables."""
    global fp
    fp = mod
    mod.HELPERS.update(HELPERS)
    for name, fn, weight in FAMILY:
        mod.OPS[name] = (fn, weight, True, True)
