"""Eager value_and_grad: funcgrad vs hand-written NumPy, HIPS autograd, jax without jit.

Two workloads (issue [autodiff]):
- a 784-512-512-10 ReLU MLP, batch 128, float32, softmax cross-entropy;
- a scalar function of 50 elementwise ops.
Run: python benchmarks/bench_eager.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine, table  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402


def mlp_setup(seed=0):
    rng = np.random.default_rng(seed)
    sizes = (784, 512, 512, 10)
    params = [((rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(np.float32), np.zeros(n, np.float32))
              for m, n in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    return params, x, y


def make_loss(np_mod):
    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = np_mod.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        m = np_mod.max(logits, axis=1, keepdims=True)
        shifted = logits - m
        logp = shifted - np_mod.log(np_mod.sum(np_mod.exp(shifted), axis=1, keepdims=True))
        return -np_mod.sum(logp * y) / x.shape[0]
    return loss


def numpy_value_and_grad(params, x, y):
    """The same gradient derived by hand, as the tutorials in shared/seeds do."""
    acts = [x]
    pre = []
    h = x
    for w, b in params[:-1]:
        z = h @ w + b
        pre.append(z)
        h = np.maximum(z, 0.0)
        acts.append(h)
    w, b = params[-1]
    logits = h @ w + b
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    logp = shifted - np.log(s)
    n = x.shape[0]
    loss = -np.sum(logp * y) / n
    g = (e / s - y) / n
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        gw = acts[i].T @ g
        gb = g.sum(axis=0)
        grads.append((gw, gb))
        if i > 0:
            g = (g @ w.T) * (pre[i - 1] > 0)
    return loss, grads[::-1]


def scalar_fn(np_mod):
    def f(x):
        y = x
        for _ in range(10):
            y = np_mod.sin(y) * 1.1 + np_mod.cos(y) * 0.3
            y = np_mod.tanh(y) - y * 0.01
        return y
    return f  # 10 * 5 ops = 50 ops


def main():
    import autograd
    import autograd.numpy as anp
    import jax
    import jax.numpy as jnp

    params, x, y = mlp_setup()
    fg_vg = fg.value_and_grad(make_loss(fnp))
    ag_vg = autograd.value_and_grad(make_loss(anp))
    jx_vg = jax.value_and_grad(make_loss(jnp))
    jparams = jax.tree_util.tree_map(jnp.asarray, params)
    jx, jy = jnp.asarray(x), jnp.asarray(y)

    # same answer first
    v_np, g_np = numpy_value_and_grad(params, x, y)
    v_fg, g_fg = fg_vg(params, x, y)
    assert np.allclose(v_np, v_fg, rtol=1e-5), (v_np, v_fg)
    for (a, b), (c, d) in zip(g_np, g_fg):
        assert np.allclose(a, c, atol=1e-5) and np.allclose(b, d, atol=1e-5)
    assert g_fg[0][0].dtype == np.float32

    def jax_call():
        v, g = jx_vg(jparams, jx, jy)
        jax.block_until_ready(g)

    mlp = bench({
        "numpy (hand-written)": lambda: numpy_value_and_grad(params, x, y),
        "funcgrad (eager)": lambda: fg_vg(params, x, y),
        "autograd": lambda: ag_vg(params, x, y),
        "jax (no jit)": jax_call,
    }, repeat=9)

    xs = 0.7
    fg_s = fg.value_and_grad(scalar_fn(fnp))
    ag_s = autograd.value_and_grad(scalar_fn(anp))
    jx_s = jax.value_and_grad(scalar_fn(jnp))
    assert np.allclose(fg_s(xs)[1], ag_s(xs)[1], rtol=1e-5)
    scal = bench({
        "funcgrad (eager)": lambda: fg_s(xs),
        "autograd": lambda: ag_s(xs),
        "jax (no jit)": lambda: jax.block_until_ready(jx_s(xs)),
    }, repeat=9)

    from importlib.metadata import version
    print(f"machine: {machine()}; numpy {np.__version__}, jax {jax.__version__}, autograd {version('autograd')}")
    print("\nMLP 784-512-512-10, batch 128, float32, value_and_grad:")
    print(table(mlp, "numpy (hand-written)"))
    print("\n50-op scalar function, value_and_grad:")
    print(table(scal, "funcgrad (eager)", unit=1e-6, unit_name="us"))
    return mlp, scal


if __name__ == "__main__":
    main()
