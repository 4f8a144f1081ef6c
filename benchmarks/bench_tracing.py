"""Tracing and lowering: funcgrad against jax, side by side in one run.

For programs of about 100, 1,000 and 10,000 equations:

- ``fg.make_ir(f)(*args)`` against ``jax.make_jaxpr(f)(*args)`` (staging only);
- ``fg.jit(f).lower(*args)`` against ``jax.jit(f).lower(*args)`` (trace + lower, no compile);
- the first call of a fresh jitted function (trace + lower + compile + run).

Floors (rows "floor ..."; the funcgrad column then holds the floor): what any design that
lowers by binding jax primitives inside a ``jax.jit`` trace costs at least, against the same
``jax.jit(f).lower`` of the jax.numpy program:

- ``floor (lax replay)``: the jax primitives funcgrad's lowering binds for the program (recorded
  once with ``jax.make_jaxpr``), bound one after another with no Python in between;
- ``floor (lax chain)`` (the chain only): ``lax.add(lax.mul(lax.sin(x), np.float32(1.01)),
  np.float32(0.5))`` written directly, each scalar a literal of its own, as jax.numpy writes them.

Programs: ``value_and_grad`` of the loss of a deep, narrow MLP (tanh layers, 16 wide, batch 8),
and a plain elementwise chain (``x = sin(x) * 1.01 + 0.5`` repeated).  Each is timed in this
process, then (``--heap``, the default runs both) after allocating a few million small Python
objects that stay alive, where every full garbage collection has to walk them.

Run: python benchmarks/bench_tracing.py [--quick] [--heap-only | --no-heap]
"""
import argparse
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import machine  # noqa: E402

import jax  # noqa: E402
import jax.extend  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402

WIDTH, BATCH = 16, 8


def mlp_loss(np_mod):
    def loss(params, x):
        h = x
        for w, b in params:
            h = np_mod.tanh(h @ w + b)
        return np_mod.sum(h * h)
    return loss


def mlp_args(depth, seed=0):
    rng = np.random.default_rng(seed)
    params = [((rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32),
               np.zeros(WIDTH, np.float32)) for _ in range(depth)]
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    return params, x


def chain(np_mod, n):
    def f(x):
        for _ in range(n):
            x = np_mod.sin(x) * 1.01 + 0.5
        return x
    return f


def lax_chain(n):
    """The chain bound with ``jax.lax`` directly: the floor of lowering it through jax's tracing."""
    a, b = np.float32(1.01), np.float32(0.5)

    def f(x):
        for _ in range(n):
            x = lax.add(lax.mul(lax.sin(x), a), b)
        return x
    return f


def lax_replay(fg_fun, args):
    """A jax function binding exactly the jax primitives funcgrad's lowering of ``fg_fun`` binds
    (recorded once), with nothing between the binds but reading operands from a list."""
    closed = jax.make_jaxpr(fg.jit(fg_fun)._trace)(*args)
    jaxpr = closed.jaxpr
    slot = {v: i for i, v in enumerate(list(jaxpr.constvars) + list(jaxpr.invars))}
    for e in jaxpr.eqns:
        for v in e.outvars:
            slot[v] = len(slot)

    def ref(v):  # (True, slot) or (False, literal value)
        return (False, v.val) if isinstance(v, jax.extend.core.Literal) else (True, slot[v])
    prog = [(e.primitive.bind, e.params, [ref(v) for v in e.invars], [slot[v] for v in e.outvars],
             e.primitive.multiple_results) for e in jaxpr.eqns]
    outs = [ref(v) for v in jaxpr.outvars]
    consts = list(closed.consts)

    def f(*a):
        env = consts + jax.tree_util.tree_leaves(a) + [None] * len(jaxpr.eqns)
        for bind, params, ins, outv, multi in prog:
            r = bind(*[env[i] if is_var else i for is_var, i in ins], **params)
            if multi:
                for k, o in zip(outv, r, strict=True):
                    env[k] = o
            else:
                env[outv[0]] = r
        return [env[i] if is_var else i for is_var, i in outs]
    return f


def workloads(sizes):
    """(name, funcgrad function, jax function, args) per size; depths chosen for the equation counts."""
    out = []
    for target in sizes:
        # value_and_grad of the MLP: ~10 funcgrad equations per layer
        depth = max(1, round(target / 10))
        params, x = mlp_args(depth)
        out.append((f"MLP value_and_grad, depth {depth}", fg.value_and_grad(mlp_loss(fnp)),
                    jax.value_and_grad(mlp_loss(jnp)), (params, x), None))
        # elementwise chain: 3 equations per step
        n = max(1, round(target / 3))
        xs = np.linspace(-1, 1, 64, dtype=np.float32)
        out.append((f"elementwise chain, {n} steps", chain(fnp, n), chain(jnp, n), (xs,), lax_chain(n)))
    return out


def _median_time(fn, reps, min_reps=1, budget=None):
    ts = []
    t_start = time.perf_counter()
    for i in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        if budget is not None and i + 1 >= min_reps and time.perf_counter() - t_start > budget:
            break
    return float(np.median(ts))


class FullGCs:
    """Counts full (generation-2) garbage collections and the time they take."""

    def __init__(self):
        self.n, self.seconds, self._t0 = 0, 0.0, None
        gc.callbacks.append(self._cb)

    def _cb(self, phase, info):
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        elif self._t0 is not None:
            self.n += 1
            self.seconds += time.perf_counter() - self._t0
            self._t0 = None

    def snapshot(self):
        return self.n, self.seconds


GCS = FullGCs()


def fresh(fun):
    """A new function object calling ``fun`` (so no cache keyed on the function hits)."""
    def f(*args):
        return fun(*args)
    return f


def measure(fg_fun, jx_fun, args, reps, budget, lax_fun=None):
    """Seconds for each side of each measurement (interleaved runs)."""
    n_fg = sum(1 for _ in fg.make_ir(fg_fun)(*args).eqns)
    n_jx = len(jax.make_jaxpr(jx_fun)(*args).eqns)
    res = {}

    def pair(label, f_fg, f_jx):
        f_fg(), f_jx()  # warm: imports, caches of jax's own
        a, b = [], []
        gcs = {"fg": [0, 0.0], "jax": [0, 0.0]}

        def timed(fn, side):
            n0, s0 = GCS.snapshot()
            t = _median_time(fn, 1)
            n1, s1 = GCS.snapshot()
            gcs[side][0] += n1 - n0
            gcs[side][1] += s1 - s0
            return t
        t_start = time.perf_counter()
        for i in range(reps):
            a.append(timed(f_fg, "fg"))
            b.append(timed(f_jx, "jax"))
            if i >= 2 and time.perf_counter() - t_start > budget:
                break
        # median and mean (full collections are rare and long: the mean shows them)
        res[label] = (float(np.median(a)), float(np.median(b)), float(np.mean(a)), float(np.mean(b)),
                      len(a), gcs)

    # jax caches traces and executables per function object: every run gets a fresh one
    pair("make_ir / make_jaxpr", lambda: fg.make_ir(fresh(fg_fun))(*args),
         lambda: jax.make_jaxpr(fresh(jx_fun))(*args))
    pair("jit(f).lower", lambda: fg.jit(fresh(fg_fun)).lower(*args), lambda: jax.jit(fresh(jx_fun)).lower(*args))
    replay = lax_replay(fg_fun, args)
    pair("floor (lax replay)", lambda: jax.jit(fresh(replay)).lower(*args),
         lambda: jax.jit(fresh(jx_fun)).lower(*args))
    if lax_fun is not None:
        pair("floor (lax chain)", lambda: jax.jit(fresh(lax_fun)).lower(*args),
             lambda: jax.jit(fresh(jx_fun)).lower(*args))

    def first_fg():
        jax.block_until_ready(fg.jit(fresh(fg_fun))(*args))

    def first_jx():
        jax.block_until_ready(jax.jit(fresh(jx_fun))(*args))

    pair("first call", first_fg, first_jx)
    return n_fg, n_jx, res


def check(fg_fun, jx_fun, args):
    a = jax.tree_util.tree_leaves(fg.jit(fg_fun)(*args))
    b = jax.tree_util.tree_leaves(jax.jit(jx_fun)(*args))
    for u, v in zip(a, b, strict=True):
        assert u.dtype == v.dtype, (u.dtype, v.dtype)
        assert np.allclose(u, v, rtol=2e-4, atol=1e-5), float(np.max(np.abs(np.asarray(u) - np.asarray(v))))


def run(sizes, reps, budget, label):
    rows = []
    for name, f_fg, f_jx, args, f_lax in workloads(sizes):
        check(f_fg, f_jx, args)
        n_fg, n_jx, res = measure(f_fg, f_jx, args, reps, budget, f_lax)
        for what, (a, b, ma, mb, n, gcs) in res.items():
            rows.append((name, n_fg, n_jx, what, a, b, ma, mb, n, gcs))
            print(f"  [{label}] {name:<34} {what:<22} funcgrad {a * 1e3:9.2f} ms  jax {b * 1e3:9.2f} ms  "
                  f"ratio {a / b:5.2f}  (means {ma / mb:5.2f}; full gcs in {n} runs: fg {gcs['fg'][0]} "
                  f"{gcs['fg'][1] * 1e3:.0f} ms, jax {gcs['jax'][0]} {gcs['jax'][1] * 1e3:.0f} ms)", flush=True)
    return rows


def print_table(rows, title):
    print(f"\n{title}\n")
    print("| program | eqns (fg / jax) | measurement | funcgrad ms | jax ms | ratio (median) | ratio (mean) "
          "| full GCs fg / jax (runs) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n_fg, n_jx, what, a, b, ma, mb, n, gcs in rows:
        print(f"| {name} | {n_fg} / {n_jx} | {what} | {a * 1e3:.2f} | {b * 1e3:.2f} | **{a / b:.2f}** "
              f"| {ma / mb:.2f} | {gcs['fg'][0]} / {gcs['jax'][0]} ({n}) |")


def grow_heap(n):
    """Keep ``n`` small container objects alive (tracked by the garbage collector)."""
    return [[i] for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 1,000 only, fewer repeats")
    ap.add_argument("--no-heap", action="store_true")
    ap.add_argument("--heap-only", action="store_true")
    ap.add_argument("--heap-objects", type=int, default=3_000_000)
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated equation counts")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else ([100, 1000] if a.quick else [100, 1000, 10000])
    reps, budget = (3, 2.0) if a.quick else (7, 6.0)
    print(f"machine: {machine()}; jax {jax.__version__}, device {jax.devices()[0].platform}; "
          f"gc thresholds {gc.get_threshold()}")
    if not a.heap_only:
        print_table(run(sizes, reps, budget, "plain"), "Plain process:")
    if not a.no_heap:
        heap = grow_heap(a.heap_objects)
        gc.collect()
        t0 = time.perf_counter()
        gc.collect()
        full = time.perf_counter() - t0
        print(f"\nheap: {a.heap_objects:,} extra objects; one full collection takes {full * 1e3:.0f} ms")
        print_table(run(sizes, reps, budget, "heap"), f"Process holding {a.heap_objects:,} more objects:")
        del heap


if __name__ == "__main__":
    main()
