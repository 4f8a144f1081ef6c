"""funcgrad.jit against jax.jit, side by side in one run (issue [jit]).

- steady-state time per call of a jitted SGD step of a 784-512-512-10 MLP (batch 128, float32);
- per-call overhead of a jitted tiny function (x + 1 on a scalar; on a pytree of 10 small arrays);
- first call (trace + lower + compile) of the MLP step, with a fresh function each time.
Run: python benchmarks/bench_jit.py
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine, table  # noqa: E402
from bench_eager import make_loss, mlp_setup  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402

LR = 0.01


def fg_step_fn():
    loss = make_loss(fnp)

    def step(params, x, y):
        grads = fg.grad(loss)(params, x, y)
        return fg.tree.map(lambda p, g: p - LR * g, params, grads)
    return step


def jax_step_fn():
    loss = make_loss(jnp)

    def step(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
    return step


def first_call_times(reps=5):
    params, x, y = mlp_setup()
    out = {"jax.jit": [], "funcgrad.jit": []}
    for _ in range(reps):
        for name, make, jit in (("jax.jit", jax_step_fn, jax.jit), ("funcgrad.jit", fg_step_fn, fg.jit)):
            f = jit(make())
            t0 = time.perf_counter()
            jax.block_until_ready(f(params, x, y))
            out[name].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in out.items()}


def main():
    params, x, y = mlp_setup()
    jparams = jax.device_put(params)
    jx, jy = jax.device_put(x), jax.device_put(y)
    fg_step = fg.jit(fg_step_fn())
    jx_step = jax.jit(jax_step_fn())
    a = fg_step(jparams, jx, jy)
    b = jx_step(jparams, jx, jy)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert u.dtype == v.dtype and np.allclose(u, v, atol=1e-5)

    steady = bench({
        "jax.jit": lambda: jax.block_until_ready(jx_step(jparams, jx, jy)),
        "funcgrad.jit": lambda: jax.block_until_ready(fg_step(jparams, jx, jy)),
    }, repeat=15)

    s = 1.0
    fg_inc, jx_inc = fg.jit(lambda v: v + 1), jax.jit(lambda v: v + 1)
    tree = {f"a{i}": np.ones((3,), np.float32) for i in range(10)}
    jtree = jax.device_put(tree)
    fg_tree, jx_tree = fg.jit(lambda t: fg.tree.map(lambda v: v + 1, t)), jax.jit(
        lambda t: jax.tree_util.tree_map(lambda v: v + 1, t))
    tiny = bench({
        "jax.jit": lambda: jx_inc(s),
        "funcgrad.jit": lambda: fg_inc(s),
    }, repeat=15, number=2000)
    tiny_tree = bench({
        "jax.jit": lambda: jx_tree(jtree),
        "funcgrad.jit": lambda: fg_tree(jtree),
    }, repeat=15, number=1000)
    first = first_call_times()

    print(f"machine: {machine()}; jax {jax.__version__}, device {jax.devices()[0].platform}")
    print("\nMLP SGD step, steady state per call:")
    print(table(steady, "jax.jit"))
    print("\nTiny function x + 1 (Python scalar), per call:")
    print(table(tiny, "jax.jit", 1e-6, "us"))
    print("\nTiny function over a pytree of 10 arrays, per call:")
    print(table(tiny_tree, "jax.jit", 1e-6, "us"))
    print("\nMLP SGD step, first call (trace + lower + compile):")
    print(table(first, "jax.jit"))
    return steady, tiny, tiny_tree, first


if __name__ == "__main__":
    main()
