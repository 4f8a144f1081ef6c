"""Eager convolution and pooling: funcgrad (NumPy: one padded copy, a strided window view,
one BLAS matmul) against ``jax.jit``-compiled ``jax.lax`` for reference.

Workloads (NHWC / HWIO, float32, SAME padding, stride 1), the two conv layers of a small
MNIST convnet: (64, 28, 28, 1) * (3, 3, 1, 16) and (64, 14, 14, 16) * (3, 3, 16, 32);
forward, and the VJP in both arguments.  Then 2x2 max / average pooling of
(64, 28, 28, 16).  On a machine with few cores, ``OPENBLAS_NUM_THREADS=1`` steadies the
eager numbers (NumPy's BLAS threads otherwise compete with everything else).
Run: python benchmarks/bench_conv.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine, table  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.nn as nn  # noqa: E402

DN = ("NHWC", "HWIO", "NHWC")


def _jconv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN)


def conv_case(xs, ws, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    g = rng.standard_normal(xs[:3] + ws[3:]).astype(np.float32)
    jx, jw, jg = jnp.asarray(x), jnp.asarray(w), jnp.asarray(g)
    jfwd = jax.jit(_jconv)
    jvjp = jax.jit(lambda x, w, g: jax.vjp(_jconv, x, w)[1](g))
    return {
        "funcgrad eager conv": lambda: nn.conv(x, w),
        "jax.jit conv": lambda: jfwd(jx, jw).block_until_ready(),
        "funcgrad eager vjp (x, w)": lambda: fg.vjp(nn.conv, x, w)[1](g),
        "jax.jit vjp (x, w)": lambda: jax.block_until_ready(jvjp(jx, jw, jg)),
    }


def pool_case(seed=0):
    x = np.random.default_rng(seed).standard_normal((64, 28, 28, 16)).astype(np.float32)
    g = np.ones((64, 14, 14, 16), np.float32)
    jx = jnp.asarray(x)
    jmax = jax.jit(lambda x: jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"))
    return {
        "funcgrad eager max_pool": lambda: nn.max_pool(x, (2, 2), (2, 2)),
        "funcgrad eager max_pool vjp": lambda: fg.vjp(lambda a: nn.max_pool(a, (2, 2), (2, 2)), x)[1](g),
        "funcgrad eager avg_pool": lambda: nn.avg_pool(x, (2, 2), (2, 2)),
        "jax.jit max_pool": lambda: jmax(jx).block_until_ready(),
    }


def main():
    print(f"machine: {machine()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")
    for xs, ws in [((64, 28, 28, 1), (3, 3, 1, 16)), ((64, 14, 14, 16), (3, 3, 16, 32))]:
        print(f"conv {xs} * {ws}, SAME")
        print(table(bench(conv_case(xs, ws)), "funcgrad eager conv"), "\n")
    print("pooling (64, 28, 28, 16), 2x2 windows, stride 2")
    print(table(bench(pool_case()), "funcgrad eager max_pool"))


if __name__ == "__main__":
    main()
