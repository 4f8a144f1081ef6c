"""Eager mode against PyTorch eager: funcgrad (NumPy underneath) vs torch 2.13.0 CPU.

Workloads, float32, one BLAS / OpenMP thread per side (torch's OpenMP threads spin after
each op and starve OpenBLAS's second thread when both share a process):
- value_and_grad of a 784-512-512-10 ReLU MLP with softmax cross-entropy, batch 8 and 128;
- value_and_grad of a deep narrow ReLU MLP (width 32, 25 and 250 layers, batch 8);
- value_and_grad of a scalar function of 50 elementwise ops;
- small compositions on a (16, 16) array: mean, sum, matmul, reshape (per-op overhead);
- for the MLPs, the step's matrix products alone in NumPy: the floor of an eager library whose
  products are NumPy's, set by NumPy's BLAS (OpenBLAS), not by the library;
- per-example gradients of the 784-512-512-10 MLP at batch 128: funcgrad ``vmap(grad)``
  against a Python loop of eager grads and ``torch.func.vmap(torch.func.grad)``.
Values and gradients of the two sides are checked against each other first.
Run: pip install -e ".[bench]" and python benchmarks/bench_torch_eager.py
"""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine, table  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402
from funcgrad import nn  # noqa: E402

torch.set_num_threads(1)


def mlp_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((m, n)) * np.sqrt(2.0 / m)).astype(np.float32), np.zeros(n, np.float32))
            for m, n in zip(sizes[:-1], sizes[1:])]


def fg_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = nn.relu(h @ w + b)
    w, b = params[-1]
    return nn.cross_entropy(h @ w + b, y)


def torch_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = torch.relu(h @ w + b)
    w, b = params[-1]
    return F.cross_entropy(h @ w + b, y)


def _torch(params):
    return [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in params]


def _check(fg_out, torch_loss_value, torch_grads, rtol=2e-4):
    loss, grads = fg_out
    np.testing.assert_allclose(float(loss), float(torch_loss_value), rtol=rtol)
    for (gw, gb), (tw, tb) in zip(grads, torch_grads, strict=True):
        for a, t in ((gw, tw), (gb, tb)):
            t = t.numpy()
            assert np.max(np.abs(np.asarray(a) - t)) <= rtol * (np.max(np.abs(t)) + 1e-6)


def mlp_case(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    params = mlp_params(sizes, seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    tp, tx, ty = _torch(params), torch.tensor(x), torch.tensor(y)
    flat = [t for pair in tp for t in pair]
    vg = fg.value_and_grad(fg_loss)

    def torch_step():
        loss = torch_loss(tp, tx, ty)
        return loss.detach(), torch.autograd.grad(loss, flat)

    tl, tg = torch_step()
    _check(vg(params, x, y), tl, list(zip(tg[::2], tg[1::2])))
    return {"funcgrad eager": lambda: vg(params, x, y), "torch eager": torch_step,
            "NumPy: its matmuls alone": _matmuls_alone(params, x)}


def _matmuls_alone(params, x):
    """The matrix products of one step (forward h @ w; backward g @ w.T and h.T @ g, no
    g @ w.T into the input), in NumPy with nothing else: the floor of any eager library
    whose products are NumPy's (its BLAS, OpenBLAS here, against the one torch ships).
    Each product runs in the faster of the layouts funcgrad picks between: for a few rows,
    (w.T @ h.T).T forward and (w @ g.T).T backward, which OpenBLAS runs faster."""
    few = x.shape[0] < 64

    def fwd(h, w):
        return (w.T @ h.T).T if few and w.size >= 65536 else h @ w

    def back(g, w):
        return (w @ g.T).T if few else g @ w.T

    hs, h = [], x
    for w, _ in params:
        hs.append(h)
        h = fwd(h, w)
    gs = [np.ones((x.shape[0], w.shape[1]), np.float32) for w, _ in params]

    def run():
        with np.errstate(all="ignore"):  # the values do not matter, only the products' time
            h = x
            for w, _ in params:
                h = fwd(h, w)
            for i in range(len(params) - 1, -1, -1):
                hs[i].T @ gs[i]
                if i:
                    back(gs[i], params[i][0])

    return run


def scalar_case():
    def f(x, m):
        for _ in range(10):
            x = m.sin(x) * 1.01 + m.cos(x) * 0.5 - x * x * 0.1
        return x

    g = fg.value_and_grad(lambda x: f(x, fnp))
    t0 = torch.tensor(0.3, requires_grad=True)

    def torch_step():
        out = f(t0, torch)
        return out.detach(), torch.autograd.grad(out, t0)

    v, d = g(np.float32(0.3))
    tv, (td,) = torch_step()
    np.testing.assert_allclose([v, d], [tv.item(), td.item()], rtol=1e-4)
    return {"funcgrad eager": lambda: g(np.float32(0.3)), "torch eager": torch_step}


def small_ops_cases():
    a = np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32)
    ta = torch.tensor(a)
    return {
        "mean": {"funcgrad": lambda: fnp.mean(a), "numpy": lambda: np.mean(a), "torch": lambda: torch.mean(ta)},
        "sum axis 0": {"funcgrad": lambda: fnp.sum(a, axis=0), "numpy": lambda: np.sum(a, axis=0),
                       "torch": lambda: torch.sum(ta, dim=0)},
        "matmul": {"funcgrad": lambda: fnp.matmul(a, a), "numpy": lambda: np.matmul(a, a),
                   "torch": lambda: torch.matmul(ta, ta)},
        "reshape": {"funcgrad": lambda: fnp.reshape(a, (256,)), "numpy": lambda: np.reshape(a, (256,)),
                    "torch": lambda: torch.reshape(ta, (256,))},
    }


def per_example_case(batch=128, seed=0):
    rng = np.random.default_rng(seed)
    params = mlp_params((784, 512, 512, 10), seed)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)

    def one(p, xi, yi):
        return fg_loss(p, xi[None], yi[None])

    pe = fg.vmap(fg.grad(one), in_axes=(None, 0, 0))
    g1 = fg.grad(one)
    tp = [(torch.tensor(w), torch.tensor(b)) for w, b in params]

    def tone(p, xi, yi):
        return torch_loss(p, xi[None], yi[None])

    tpe = torch.func.vmap(torch.func.grad(tone), in_dims=(None, 0, 0))
    tx, ty = torch.tensor(x), torch.tensor(y)
    got, want = pe(params, x, y), tpe(tp, tx, ty)
    for (gw, gb), (tw, tb) in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(gw), tw.numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(np.asarray(gb), tb.numpy(), rtol=1e-3, atol=1e-5)
    return {"funcgrad vmap(grad)": lambda: pe(params, x, y),
            "funcgrad loop of grad": lambda: [g1(params, x[i], y[i]) for i in range(batch)],
            "torch.func vmap(grad)": lambda: tpe(tp, tx, ty)}


def main():
    print(f"machine: {machine()}; torch {torch.__version__}; one BLAS/OpenMP thread per library\n")
    for title, case in [("MLP 784-512-512-10, batch 8", mlp_case((784, 512, 512, 10), 8)),
                        ("MLP 784-512-512-10, batch 128", mlp_case((784, 512, 512, 10), 128)),
                        ("deep narrow MLP, width 32, 25 layers, batch 8", mlp_case((32,) * 26, 8)),
                        ("deep narrow MLP, width 32, 250 layers, batch 8", mlp_case((32,) * 251, 8)),
                        ("scalar function of 50 ops", scalar_case())]:
        print(title)
        print(table(bench(case), "torch eager"), "\n")
    for name, case in small_ops_cases().items():
        print(f"{name} of a (16, 16) float32 array")
        print(table(bench(case), "torch", unit=1e-6, unit_name="us"), "\n")
    print("per-example gradients, MLP 784-512-512-10, batch 128")
    print(table(bench(per_example_case(), repeat=5), "torch.func vmap(grad)"))


if __name__ == "__main__":
    main()
