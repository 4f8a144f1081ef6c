"""vmap: per-example gradients of a small MLP, funcgrad against jax, side by side.

- eager: ``vmap(grad(loss))`` against a Python loop of ``grad`` (funcgrad) and against
  ``jax.vmap(jax.grad(loss))`` without jit;
- jitted: ``jit(vmap(grad(loss)))`` against ``jax.jit(jax.vmap(jax.grad(loss)))``.
Run: python benchmarks/bench_vmap.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine, table  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402


def setup(seed=0, batch=64, sizes=(64, 128, 10)):
    rng = np.random.default_rng(seed)
    params = [((rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32), np.zeros(n, np.float32))
              for m, n in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    return params, x, y


def make_loss(m):
    def loss(params, x, y):  # one example: x (d,), y (classes,)
        h = x
        for w, b in params[:-1]:
            h = m.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        logits = logits - m.max(logits)
        return -m.sum(y * (logits - m.log(m.sum(m.exp(logits)))))
    return loss


def main():
    params, x, y = setup()
    fg_pe = fg.vmap(fg.grad(make_loss(fnp)), in_axes=(None, 0, 0))
    jx_pe = jax.vmap(jax.grad(make_loss(jnp)), in_axes=(None, 0, 0))
    fg_loop = fg.grad(make_loss(fnp))
    a, b = fg_pe(params, x, y), jx_pe(params, x, y)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert np.allclose(u, v, atol=1e-5)
    eager = bench({
        "funcgrad vmap (eager)": lambda: fg_pe(params, x, y),
        "funcgrad Python loop": lambda: [fg_loop(params, xi, yi) for xi, yi in zip(x, y)],
        "jax vmap (no jit)": lambda: jax.block_until_ready(jx_pe(params, x, y)),
    }, repeat=7)
    fg_j, jx_j = fg.jit(fg_pe), jax.jit(jx_pe)
    jparams, jxx, jyy = jax.device_put(params), jax.device_put(x), jax.device_put(y)
    for u, v in zip(jax.tree_util.tree_leaves(fg_j(jparams, jxx, jyy)),
                    jax.tree_util.tree_leaves(jx_j(jparams, jxx, jyy))):
        assert u.dtype == v.dtype and np.allclose(u, v, atol=1e-5)
    jitted = bench({
        "jax.jit(vmap(grad))": lambda: jax.block_until_ready(jx_j(jparams, jxx, jyy)),
        "funcgrad.jit(vmap(grad))": lambda: jax.block_until_ready(fg_j(jparams, jxx, jyy)),
    }, repeat=15)
    print(f"machine: {machine()}; jax {jax.__version__}")
    print("\nPer-example gradients, MLP 64-128-10, batch 64, float32 (eager):")
    print(table(eager, "funcgrad vmap (eager)"))
    print("\nThe same, jitted:")
    print(table(jitted, "jax.jit(vmap(grad))", 1e-6, "us"))
    return eager, jitted


if __name__ == "__main__":
    main()
