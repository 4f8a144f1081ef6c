"""Memory regressions of reverse mode, counted in bytes the tape keeps (not RSS or time).

A relu MLP's tape must keep about one activation per layer (the input of each matrix
product, which is also what relu's rule reads; ``where`` keeps its mask as bits), free
its residuals as a once-only backward pass consumes them, and keep them for a ``vjp``
closure that may be called again.
``benchmarks/bench_memory.py`` measures the peak against PyTorch.
"""
import tracemalloc

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.transforms import reverse

DEPTH, WIDTH, BATCH = 4, 64, 1024
ACT = WIDTH * BATCH * 4  # bytes of one float32 activation (256 KiB)


def _setup():
    rng = np.random.default_rng(0)
    params = [((rng.standard_normal((WIDTH, WIDTH)) / 8).astype(np.float32), np.full(WIDTH, 0.1, np.float32))
              for _ in range(DEPTH)]
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    y = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    return params, x, y


def _loss(params, x, y, box=None):
    h = x
    for w, b in params[:-1]:
        h = fg.nn.relu(h @ w + b)
    w, b = params[-1]
    d = h @ w + b - y
    out = fnp.mean(d * d)
    if box is not None:
        box.append(out)
    return out


def _tape(out_tracer):
    return list(out_tracer._trace.tape)


def _kept_bytes(nodes, exclude):
    """Bytes of the distinct arrays the nodes keep, other than those in ``exclude``."""
    seen, total = {id(a) for a in exclude}, 0
    for n in nodes:
        vals = list(n.inputs or ()) + (list(n.out) if isinstance(n.out, list) else [n.out])
        for v in vals:
            if type(v) is reverse._Bits:
                v = v.bits
            if type(v) is np.ndarray and id(v) not in seen:
                seen.add(id(v))
                total += v.nbytes
    return total


def _numpy_loss_and_grads(params, x, y):
    hs, h = [x], x
    for w, b in params[:-1]:
        h = np.maximum(h @ w + b, 0)
        hs.append(h)
    w, b = params[-1]
    d = h @ w + b - y
    g = 2 * d / d.size
    grads = []
    for i in range(DEPTH - 1, -1, -1):
        w, b = params[i]
        grads.append((hs[i].T @ g, g.sum(0)))
        if i:
            g = (g @ w.T) * (hs[i] > 0)
    return np.mean(d * d), grads[::-1]


def test_tape_keeps_one_activation_per_layer():
    params, x, y = _setup()
    box = []
    flat = [t for wb in params for t in wb]
    outs, back = reverse.vjp_flat(lambda *p: [_loss(list(zip(p[::2], p[1::2])), x, y, box)], flat)
    kept = _kept_bytes(_tape(box[0]), flat + [x, y])
    # the inputs of the last 3 products (relu's outputs), the difference d (read by d * d)
    want = DEPTH * ACT
    assert kept <= want + 1024, (kept / ACT, want / ACT)
    del outs, back


def test_nothing_else_keeps_the_forward_values_alive():
    """The tape links nodes, not tracers (a tracer holds its value): after the forward
    pass, what is still allocated is the tape's residuals and little else."""
    params, x, y = _setup()
    flat = [t for wb in params for t in wb]
    f = lambda *p: _loss(list(zip(p[::2], p[1::2])), x, y)  # noqa: E731
    fg.vjp(f, *flat)  # warm caches
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out, vjp_fn = fg.vjp(f, *flat)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= DEPTH * ACT + 64 * 1024, held / ACT
    del out, vjp_fn


def test_value_and_grad_frees_the_tape_and_vjp_keeps_it():
    params, x, y = _setup()
    flat = [t for wb in params for t in wb]
    want_v, want_g = _numpy_loss_and_grads(params, x, y)

    box = []
    outs, back = reverse.vjp_flat(lambda *p: [_loss(list(zip(p[::2], p[1::2])), x, y, box)], flat)
    nodes = _tape(box[0])
    cts = back([np.ones((), np.float32)], free=True)
    assert all(n.inputs is None and n.out is None for n in nodes), "residuals not freed"
    with pytest.raises(RuntimeError, match="freed its tape"):
        back([np.ones((), np.float32)])
    for (gw, gb), cw, cb in zip(want_g, cts[::2], cts[1::2], strict=True):
        np.testing.assert_allclose(cw, gw, rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(cb, gb, rtol=2e-4, atol=1e-6)

    # a vjp closure may be called again: same answers, residuals kept
    out, vjp_fn = fg.vjp(lambda p: _loss(p, x, y), params)
    g1 = vjp_fn(np.ones((), np.float32))
    g2 = vjp_fn(np.ones((), np.float32))
    for a, b in zip(fg.tree.leaves(g1), fg.tree.leaves(g2), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(out, want_v, rtol=1e-5)
    v, g = fg.value_and_grad(lambda p: _loss(p, x, y))(params)
    np.testing.assert_allclose(v, want_v, rtol=1e-5)
    for (gw, gb), (cw, cb) in zip(want_g, g, strict=True):
        np.testing.assert_allclose(cw, gw, rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(cb, gb, rtol=2e-4, atol=1e-6)


def test_relu_keeps_only_its_output():
    """relu's rule reads its output: in a network that is the next product's input, so
    the tape holds nothing more for it."""
    x = np.random.default_rng(1).standard_normal((BATCH, WIDTH)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, np.nan]
    box = []
    _, back = reverse.vjp_flat(lambda v: [box.append(fg.nn.relu(v)) or box[-1]], [x])
    node = box[0].node
    assert node.prim.name == "relu" and node.out is box[0].primal
    assert all(type(v) is not np.ndarray for v in node.inputs)
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    ct, = back([g])
    np.testing.assert_array_equal(ct, np.where(x > 0, g, 0))  # 0 at the kink and at NaN, as jax.nn.relu


def test_masks_are_kept_as_bits_and_unpacked_exactly():
    x = np.random.default_rng(1).standard_normal((BATCH, WIDTH)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, np.nan]
    box = []
    _, back = reverse.vjp_flat(lambda v: [box.append(fnp.where(v <= 0, 0, v)) or box[-1]], [x])
    sel = box[0].node
    assert sel.prim.name == "select" and type(sel.inputs[0]) is reverse._Bits
    assert sel.inputs[0].bits.nbytes == x.size // 8
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    ct, = back([g])
    np.testing.assert_array_equal(ct, np.where(x <= 0, 0, g))  # NaN passes its cotangent (as its value)


def test_eval_ir_drops_values_after_their_last_use():
    """``checkpoint``'s backward program runs through eval_ir: a chain of elementwise
    ops must not keep every intermediate."""
    from funcgrad.core.ir import eval_ir

    def chain(v):
        for _ in range(10):
            v = fnp.sin(v) * 1.5
        return v

    x = np.ones((512, 512), np.float32)  # 1 MiB
    ir = fg.make_ir(chain)(x)
    eval_ir(ir, x)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = eval_ir(ir, x)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= 3.2 * x.nbytes, peak / x.nbytes
    np.testing.assert_allclose(out[0], chain(x), rtol=1e-6)
