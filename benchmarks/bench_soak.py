"""Soak: long runs keep memory flat, and funcgrad's caches stay at their bounds.

- ``eager``: 100k eager training steps of a small MLP (4-32-32-1, tanh, batch 32, float32)
  with ``fg.value_and_grad`` and ``fg.optim.adam``;
- ``jit``: 1M calls of the same training step under ``fg.jit`` (tiny inputs, so the
  calls are dispatch-bound: 19 arrays in, 20 out);
- ``jit_tiny``: 1M calls of a jitted ``x * 2 + 1`` on a float32 scalar (dispatch only);
- ``shapes``: one jitted function called with many distinct input shapes (more than
  ``config.jit_cache_size``), eagerly-differentiated through ``grad(jit(f))`` as well;
- ``shapes_jax``: the peer of ``shapes``: the same loop with ``jax.jit`` and ``jax.grad``
  alone, its executables emptied after every 64 compiles (the bound funcgrad's ``jit``
  keeps by default), so what remains is jax's own per-signature caches and the heap;
- ``closures``: many short-lived jit-wrapped closures, each called once, and many eager
  ``grad`` of loops over fresh closures (the caches of eager control flow and of
  canonical programs).

The resident set size (RSS, ``/proc/self/statm``) is sampled every so many steps.
Reported: RSS after warm-up, in the middle and at the end; the least-squares slope of
RSS over the samples after warm-up (MB per 10k steps or calls; flat means within a
fraction of a MB); the sizes of funcgrad's caches and of jax's executable cache for
the function.  Each part runs in its own subprocess, so one part's heap does not
colour the next.

Run: nice -n 5 python benchmarks/bench_soak.py               (all parts, full length)
     python benchmarks/bench_soak.py --quick                  (1/20 of the length)
     python benchmarks/bench_soak.py eager [--quick]          (one part, JSON)
"""
import json
import os
import subprocess
import sys
import time

PARTS = ("eager", "jit", "jit_tiny", "shapes", "shapes_jax", "closures")
FULL = {"eager": 100_000, "jit": 1_000_000, "jit_tiny": 1_000_000, "shapes": 2_000, "shapes_jax": 2_000,
        "closures": 3_000}
SAMPLES = 20
WARMUP = 0.1  # the first 10% of a run is warm-up: not in the slope


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _model():
    import numpy as np
    rng = np.random.default_rng(0)
    params = {"w1": (rng.standard_normal((4, 32)) * 0.5).astype(np.float32), "b1": np.zeros(32, np.float32),
              "w2": (rng.standard_normal((32, 32)) * 0.2).astype(np.float32), "b2": np.zeros(32, np.float32),
              "w3": (rng.standard_normal((32, 1)) * 0.2).astype(np.float32), "b3": np.zeros(1, np.float32)}
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = np.sin(x.sum(axis=1, keepdims=True)).astype(np.float32)
    return params, x, y


def _step_fn():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    opt = fg.optim.adam(1e-3)

    def loss(p, x, y):
        h = fnp.tanh(x @ p["w1"] + p["b1"])
        h = fnp.tanh(h @ p["w2"] + p["b2"])
        return fnp.mean((h @ p["w3"] + p["b3"] - y) ** 2)

    def step(params, state, x, y):
        value, grads = fg.value_and_grad(loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return fg.optim.apply_updates(params, updates), state, value

    return opt, step


def _caches(jf=None):
    import funcgrad as fg
    from funcgrad.core import ir as ir_module
    from funcgrad.transforms import eager_types
    out = {"jit_cache_size": fg.config.jit_cache_size, "canonical_programs": len(ir_module._canonical),
           "eager_loop_types": len(eager_types._cache)}
    if jf is not None:
        out["jit_irs"] = len(jf._irs)
        out["jit_call_irs"] = len(jf._call_irs)
        size = getattr(jf._jitted, "_cache_size", None)  # jax's executables for the function
        if size is not None:
            out["jax_executables"] = size()
    return out


def _loop(n, body, every):
    """Run ``body(i)`` for i < n, sampling (i, RSS MB, seconds) every ``every`` steps."""
    samples = [(0, rss_mb(), 0.0)]
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        body(i)
        if i % every == 0:
            samples.append((i, rss_mb(), time.perf_counter() - t0))
    return samples, time.perf_counter() - t0


def _summary(samples, per=10_000):
    import numpy as np
    n = samples[-1][0]
    after = [s for s in samples if s[0] >= WARMUP * n]
    steps, rss = np.array([s[0] for s in after], float), np.array([s[1] for s in after])
    slope = float(np.polyfit(steps, rss, 1)[0] * per) if len(after) > 2 else float("nan")
    mid = min(after, key=lambda s: abs(s[0] - n / 2))
    half = [s for s in samples if s[0] >= n / 2]
    slope2 = float(np.polyfit([s[0] for s in half], [s[1] for s in half], 1)[0] * per) if len(half) > 2 else slope
    return {"rss_warm": after[0][1], "rss_mid": mid[1], "rss_end": after[-1][1],
            "growth_after_warmup": after[-1][1] - after[0][1], "slope_per_10k": slope,
            "slope_second_half": slope2,
            "rss_max": float(rss.max()), "rss_min_after_warmup": float(rss.min())}


def _soak(step, opt, n):
    """Train with ``step`` for ``n`` steps after a warm-up: (RSS samples, seconds, losses)."""
    params, x, y = _model()
    state = [params, opt.init(params)]
    for _ in range(200):  # warm-up: every cache the step touches is filled
        state[0], state[1], _ = step(state[0], state[1], x, y)
    losses = []

    def body(i):
        state[0], state[1], value = step(state[0], state[1], x, y)
        if i % (n // 10) == 0:
            losses.append(float(value))

    samples, t = _loop(n, body, max(n // SAMPLES, 1))
    return samples, t, losses


def part_eager(n):
    opt, step = _step_fn()
    samples, t, losses = _soak(step, opt, n)
    return {"n": n, "seconds": t, "us_per_step": t / n * 1e6, "samples": samples, "losses": losses,
            **_summary(samples), "caches": _caches()}


def part_jit(n):
    import funcgrad as fg
    opt, step = _step_fn()
    jstep = fg.jit(step)
    samples, t, losses = _soak(jstep, opt, n)
    return {"n": n, "seconds": t, "us_per_call": t / n * 1e6, "samples": samples, "losses": losses,
            "trace_count": jstep.trace_count, **_summary(samples, per=100_000), "caches": _caches(jstep)}


def part_jit_tiny(n):
    import numpy as np
    import funcgrad as fg
    f = fg.jit(lambda v: v * 2.0 + 1.0)
    x = np.float32(0.5)
    for _ in range(200):
        f(x)

    def body(i):
        f(x)

    samples, t = _loop(n, body, max(n // SAMPLES, 1))
    return {"n": n, "seconds": t, "us_per_call": t / n * 1e6, "samples": samples, "trace_count": f.trace_count,
            **_summary(samples, per=100_000), "caches": _caches(f)}


def part_shapes(n):
    """``n`` distinct shapes through one jitted function (and through ``grad`` of it),
    cycling 3 hot shapes in between, as a program with a few hot signatures and a long
    tail of rare ones does."""
    import numpy as np
    import funcgrad as fg
    import funcgrad.numpy as fnp

    traces = [0]

    def f(x):
        traces[0] += 1
        return fnp.sum(fnp.tanh(x) * 2.0 + 1.0)

    jf = fg.jit(f)
    hot = [np.ones(k, np.float32) for k in (100_001, 100_002, 100_003)]
    for h in hot:
        jf(h)

    def body(i):
        jf(np.full(i, 0.5, np.float32))
        if i % 4 == 0:
            fg.grad(jf)(np.full(i, 0.5, np.float32))
        jf(hot[i % 3])

    samples, t = _loop(n, body, max(n // SAMPLES, 1))
    return {"n": n, "seconds": t, "samples": samples, "user_traces": traces[0], "trace_count": jf.trace_count,
            **_summary(samples, per=1_000), "caches": _caches(jf)}


def part_shapes_jax(n):
    """``part_shapes`` with jax alone (64-bit mode, as funcgrad's ``jit`` runs jax):
    ``jax.jit`` of the same function, ``jax.grad`` of it on every 4th shape, and the
    function's executables emptied once it compiled more than 64 programs."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    traces = [0]

    def f(x):
        traces[0] += 1
        return jnp.sum(jnp.tanh(x) * 2.0 + 1.0)

    jf = jax.jit(f)
    gf = jax.grad(jf)
    hot = [np.ones(k, np.float32) for k in (100_001, 100_002, 100_003)]
    for h in hot:
        jf(h)
    compiled = [0]

    def body(i):
        jf(np.full(i, 0.5, np.float32))
        compiled[0] += 1
        if i % 4 == 0:
            gf(np.full(i, 0.5, np.float32))
            compiled[0] += 1
        if compiled[0] > 64:
            compiled[0] = 0
            jf.clear_cache()
        jf(hot[i % 3])

    samples, t = _loop(n, body, max(n // SAMPLES, 1))
    return {"n": n, "seconds": t, "samples": samples, "user_traces": traces[0],
            **_summary(samples, per=1_000), "caches": {}}


def part_closures(n):
    """``n`` jit-wrapped closures made, called once and dropped; and ``n`` eager
    ``grad`` of a ``fori_loop`` over a fresh closure."""
    import gc
    import weakref
    import numpy as np
    import funcgrad as fg
    import funcgrad.numpy as fnp

    refs = []
    x = np.ones(3, np.float32)

    def body(i):
        jf = fg.jit(lambda v, i=i: fnp.sum(v * float(i)) + 1.0)
        jf(x)
        refs.append(weakref.ref(jf))
        fg.grad(lambda w, i=i: fg.lax.fori_loop(0, 3, lambda k, c: c * (1.0 + i * 1e-3), w))(np.float32(1.0))

    samples, t = _loop(n, body, max(n // SAMPLES, 1))
    gc.collect()
    alive = sum(r() is not None for r in refs)
    return {"n": n, "seconds": t, "samples": samples, "jit_functions_alive": alive,
            **_summary(samples, per=1_000), "caches": _caches()}


def run_part(name, n):
    out = subprocess.run([sys.executable, __file__, name, str(n)], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout)


def _table(name, r, unit):
    lines = [f"\n### {name}: {r['n']:,} {unit}, {r['seconds']:.1f} s\n", f"| {unit} | RSS (MB) | elapsed (s) |",
             "|---:|---:|---:|"]
    samples = r["samples"]
    rows = sorted(set(range(0, len(samples), max(len(samples) // 10, 1))) | {1, len(samples) - 1})
    for k in rows:
        i, mb, s = samples[k]
        lines.append(f"| {i:,} | {mb:.1f} | {s:.1f} |")
    return "\n".join(lines)


def main():
    quick = "--quick" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--quick"]
    if args and args[0] in PARTS:
        n = int(args[1]) if len(args) > 1 else FULL[args[0]] // (20 if quick else 1)
        print(json.dumps(globals()["part_" + args[0]](n)))
        return
    sys.path.insert(0, os.path.dirname(__file__))
    from _timing import machine
    print(machine())
    units = {"eager": "steps", "jit": "calls", "jit_tiny": "calls", "shapes": "shapes", "shapes_jax": "shapes",
             "closures": "closures"}
    results = {}
    for name in PARTS:
        r = results[name] = run_part(name, FULL[name] // (20 if quick else 1))
        print(_table(name, r, units[name]))
        per = {"eager": "10k steps", "jit": "100k calls", "jit_tiny": "100k calls", "shapes": "1k shapes",
               "shapes_jax": "1k shapes", "closures": "1k closures"}[name]
        print(f"\nRSS after warm-up {r['rss_warm']:.1f} MB, middle {r['rss_mid']:.1f} MB, end {r['rss_end']:.1f} MB; "
              f"slope {r['slope_per_10k']:+.3f} MB per {per} (second half: {r['slope_second_half']:+.3f})")
        extra = {k: r[k] for k in ("us_per_step", "us_per_call", "trace_count", "user_traces",
                                   "jit_functions_alive", "losses") if k in r}
        print("  ", json.dumps(extra), "caches:", json.dumps(r["caches"]))


if __name__ == "__main__":
    main()
