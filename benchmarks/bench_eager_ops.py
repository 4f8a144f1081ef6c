"""Per-op overhead of funcgrad's eager path against calling NumPy directly.

With no transform active, ``fnp.f(x)`` binds a primitive, finds no tracer and calls
the primitive's NumPy rule.  This measures what that costs on small arrays, where
the overhead is visible, and on a large one, where it is not.
Run: python benchmarks/bench_eager_ops.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine  # noqa: E402

import funcgrad.numpy as fnp  # noqa: E402


def cases():
    small = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    big = np.random.default_rng(1).standard_normal((512, 512)).astype(np.float32)
    v = small[0]
    return [
        ("add (8x8)", lambda: fnp.add(small, small), lambda: np.add(small, small)),
        ("x * 2.0 (8x8)", lambda: fnp.multiply(small, 2.0), lambda: np.multiply(small, 2.0)),
        ("exp (8x8)", lambda: fnp.exp(small), lambda: np.exp(small)),
        ("tanh (8x8)", lambda: fnp.tanh(small), lambda: np.tanh(small)),
        ("sum axis=1 (8x8)", lambda: fnp.sum(small, axis=1), lambda: np.sum(small, axis=1)),
        ("matmul (8x8 @ 8)", lambda: fnp.matmul(small, v), lambda: np.matmul(small, v)),
        ("matmul (8x8 @ 8x8)", lambda: fnp.matmul(small, small), lambda: np.matmul(small, small)),
        ("reshape (8x8 -> 64)", lambda: fnp.reshape(small, (64,)), lambda: np.reshape(small, (64,))),
        ("maximum(x, 0.0) (512x512)", lambda: fnp.maximum(big, 0.0), lambda: np.maximum(big, 0.0)),
    ]


def main():
    print(f"machine: {machine()}; numpy {np.__version__}")
    print(f"| {'op':<28} | {'numpy us':>9} | {'funcgrad us':>11} | {'overhead us':>11} | ratio |")
    print(f"|{'-' * 30}|{'-' * 11}|{'-' * 13}|{'-' * 13}|-------|")
    rows = []
    for name, f_fg, f_np in cases():
        r = bench({"np": f_np, "fg": f_fg}, repeat=7)
        rows.append((name, r["np"], r["fg"]))
        print(f"| {name:<28} | {r['np'] * 1e6:9.2f} | {r['fg'] * 1e6:11.2f} | {(r['fg'] - r['np']) * 1e6:11.2f} | "
              f"{r['fg'] / r['np']:5.2f} |")
    return rows


if __name__ == "__main__":
    main()
