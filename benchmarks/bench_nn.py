"""A small convnet's training step: funcgrad against PyTorch (eager) and jax (compiled).

The network (NHWC, float32): 3x3 conv 1->16, relu, 2x2 max pool; 3x3 conv 16->32, relu,
2x2 max pool; dense 1568->10; mean cross-entropy.  Inputs 28x28x1, batch 64.

- eager ``value_and_grad`` of the loss: funcgrad (NumPy) against ``torch.autograd.grad`` on
  the same network written with ``torch.nn.functional`` (NCHW, its native layout);
- ``jit(value_and_grad)``: funcgrad lowered to XLA against ``jax.jit`` of the same network
  written with ``jax.lax``;
- per-example gradients, ``jit(vmap(grad))`` over the batch, against jax's;
- ``funcgrad.random.normal`` of 10^6 float32 values (eager) against
  ``numpy.random.Generator.standard_normal``.

Each side runs with one BLAS / OpenMP thread (PyTorch's spinning OpenMP threads otherwise
starve OpenBLAS).  All values are checked against each other before timing.
Run: pip install -e ".[bench]" (PyTorch, CPU) and python benchmarks/bench_nn.py
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine, table  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.nn as nn  # noqa: E402

torch.set_num_threads(1)
BATCH = 64
DN = ("NHWC", "HWIO", "NHWC")


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    k = fg.random.split(fg.random.key(seed), 3)
    params = {"w1": nn.he_normal(k[0], (3, 3, 1, 16)), "b1": np.zeros(16, np.float32),
              "w2": nn.he_normal(k[1], (3, 3, 16, 32)), "b2": np.zeros(32, np.float32),
              "w3": nn.glorot_normal(k[2], (7 * 7 * 32, 10)), "b3": np.zeros(10, np.float32)}
    params = {name: np.asarray(v) for name, v in params.items()}
    x = rng.standard_normal((BATCH, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    return params, x, y


# ----------------------------------------------------------------------------- the network, three times

def loss_fg(p, x, y):
    h = nn.max_pool(nn.relu(nn.conv(x, p["w1"]) + p["b1"]), (2, 2), (2, 2))
    h = nn.max_pool(nn.relu(nn.conv(h, p["w2"]) + p["b2"]), (2, 2), (2, 2))
    logits = h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"]
    return nn.cross_entropy(logits, y)


def loss_jax(p, x, y):
    def conv(h, w):
        return jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=DN)

    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    h = pool(jax.nn.relu(conv(x, p["w1"]) + p["b1"]))
    h = pool(jax.nn.relu(conv(h, p["w2"]) + p["b2"]))
    logits = h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def torch_step(tp, tx, ty):
    """Forward and backward in PyTorch; the dense layer sees the features in NHWC order."""
    h = F.max_pool2d(F.relu(F.conv2d(tx, tp["w1"], tp["b1"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, tp["w2"], tp["b2"], padding=1)), 2)
    logits = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1) @ tp["w3"] + tp["b3"]
    loss = F.cross_entropy(logits, ty)
    return loss.detach(), torch.autograd.grad(loss, list(tp.values()))


def to_torch(params):
    """HWIO kernels to torch's OIHW."""
    return {k: torch.tensor(v.transpose(3, 2, 0, 1).copy() if v.ndim == 4 else v, requires_grad=True)
            for k, v in params.items()}


def from_torch(name, g):
    g = g.numpy()
    return g.transpose(2, 3, 1, 0) if g.ndim == 4 else g


def _close(a, b, what, tol=2e-4):
    a, b = np.asarray(a), np.asarray(b)
    err = float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30))
    assert err < tol, f"{what}: relative difference {err:.2e}"


# ----------------------------------------------------------------------------- the cases

def eager_case(params, x, y):
    vg = fg.value_and_grad(loss_fg)
    tp, tx, ty = to_torch(params), torch.tensor(x.transpose(0, 3, 1, 2).copy()), torch.tensor(y)
    (lv, g), (tl, tg) = vg(params, x, y), torch_step(tp, tx, ty)
    _close(lv, tl.numpy(), "loss")
    for name, t in zip(tp, tg, strict=True):
        _close(g[name], from_torch(name, t), f"d loss / d {name}")
    return {"funcgrad eager": lambda: vg(params, x, y),
            "torch eager": lambda: torch_step(tp, tx, ty)}


def jit_case(params, x, y):
    step = fg.jit(fg.value_and_grad(loss_fg))
    jstep = jax.jit(jax.value_and_grad(loss_jax))
    jp, jx, jy = jax.device_put((params, x, y))
    (lv, g), (jl, jg) = step(jp, jx, jy), jstep(jp, jx, jy)
    _close(lv, jl, "jit loss")
    for name in params:
        _close(g[name], jg[name], f"jit d loss / d {name}")
    return {"funcgrad jit": lambda: jax.block_until_ready(step(jp, jx, jy)),
            "jax.jit": lambda: jax.block_until_ready(jstep(jp, jx, jy))}


def per_example_case(params, x, y):
    def one(loss):
        return lambda p, xi, yi: loss(p, xi[None], yi[None])

    pe = fg.jit(fg.vmap(fg.grad(one(loss_fg)), in_axes=(None, 0, 0)))
    jpe = jax.jit(jax.vmap(jax.grad(one(loss_jax)), in_axes=(None, 0, 0)))
    jp, jx, jy = jax.device_put((params, x, y))
    g, jg = pe(jp, jx, jy), jpe(jp, jx, jy)
    for name in params:
        assert g[name].shape == (BATCH,) + params[name].shape
        _close(g[name], jg[name], f"per-example d loss / d {name}")
    return {"funcgrad jit(vmap(grad))": lambda: jax.block_until_ready(pe(jp, jx, jy)),
            "jax jit(vmap(grad))": lambda: jax.block_until_ready(jpe(jp, jx, jy))}


def normal_case(n=10 ** 6):
    key = fg.random.key(0)
    rng = np.random.default_rng(0)
    z = np.asarray(fg.random.normal(key, (n,)))
    assert z.dtype == np.float32 and np.allclose(z, np.asarray(jax.random.normal(jax.random.PRNGKey(0), (n,))),
                                                 rtol=1e-5, atol=1e-5)
    return {"funcgrad random.normal": lambda: fg.random.normal(key, (n,)),
            "numpy standard_normal f32": lambda: rng.standard_normal(n, dtype=np.float32),
            "numpy normal (f64)": lambda: rng.normal(size=n)}


def main():
    print(f"machine: {machine()}; one BLAS/OpenMP thread per library\n")
    params, x, y = make_data()
    for title, case, base in [("eager value_and_grad, batch 64", eager_case(params, x, y), "torch eager"),
                              ("jit(value_and_grad), batch 64", jit_case(params, x, y), "jax.jit"),
                              ("per-example gradients, batch 64", per_example_case(params, x, y),
                               "jax jit(vmap(grad))")]:
        print(title)
        print(table(bench(case, repeat=9), base), "\n")
    print("random normal, 10^6 float32")
    print(table(bench(normal_case(), repeat=9), "numpy standard_normal f32"))


if __name__ == "__main__":
    main()
