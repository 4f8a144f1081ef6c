"""Threads: models trained in 8 threads at once give exactly (bit for bit) the results
of training them one after another, eagerly and under ``jit``; a ``jit`` first called
from 8 threads at once traces once; transforms run concurrently in threads never see
each other's traces; funcgrad's caches stay at their bounds."""
import threading

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

N_THREADS = 8


def run_in_threads(fns):
    """Run the callables at once (released together by a barrier); their results in
    order.  An exception in any thread is raised here."""
    barrier = threading.Barrier(len(fns))
    results, errors = [None] * len(fns), []

    def worker(i):
        try:
            barrier.wait()
            results[i] = fns[i]()
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# ----------------------------------------------------------------------------- training

def init_model(seed, width):
    rng = np.random.default_rng(seed)
    params = {"w1": (rng.standard_normal((4, width)) * 0.5).astype(np.float32),
              "b1": np.zeros(width, np.float32),
              "w2": (rng.standard_normal((width, 1)) * 0.5).astype(np.float32),
              "b2": np.zeros(1, np.float32)}
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = np.sin(x.sum(axis=1, keepdims=True)).astype(np.float32)
    return params, x, y


def loss(params, x, y):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return fnp.mean((h @ params["w2"] + params["b2"] - y) ** 2)


OPT = fg.optim.adam(1e-2)


def step(params, state, x, y):
    value, grads = fg.value_and_grad(loss)(params, x, y)
    updates, state = OPT.update(grads, state, params)
    return fg.optim.apply_updates(params, updates), state, value


def train(seed, step_fn, steps=30):
    """Train the model of ``seed`` (widths 6..9: four signatures among eight models)."""
    params, x, y = init_model(seed, 6 + seed % 4)
    state = OPT.init(params)
    losses = []
    for _ in range(steps):
        params, state, value = step_fn(params, state, x, y)
        losses.append(np.asarray(value))
    return {k: np.asarray(v) for k, v in params.items()}, np.array(losses)


def assert_bit_identical(a, b):
    (pa, la), (pb, lb) = a, b
    np.testing.assert_array_equal(la, lb, strict=True)
    assert pa.keys() == pb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], strict=True)


def test_eager_training_in_threads_matches_sequential_bit_for_bit():
    seeds = range(N_THREADS)
    sequential = [train(s, step) for s in seeds]
    threaded = run_in_threads([lambda s=s: train(s, step) for s in seeds])
    for a, b in zip(sequential, threaded, strict=True):
        assert_bit_identical(a, b)
    assert sequential[0][1][-1] < sequential[0][1][0]  # it does train


@pytest.fixture(scope="module")
def jitted_sequential():
    jstep = fg.jit(step)
    return [train(s, jstep) for s in range(N_THREADS)]


@pytest.mark.parametrize("shared", [True, False], ids=["one-shared-jit", "one-jit-per-thread"])
def test_jitted_training_in_threads_matches_sequential_bit_for_bit(shared, jitted_sequential):
    seeds = range(N_THREADS)
    sequential = jitted_sequential
    if shared:  # one jitted step: eight threads trace and look up four signatures at once
        jstep = fg.jit(step)
        threaded = run_in_threads([lambda s=s: train(s, jstep) for s in seeds])
        assert jstep.trace_count == 4
    else:
        threaded = run_in_threads([lambda s=s: train(s, fg.jit(step)) for s in seeds])
    for a, b in zip(sequential, threaded, strict=True):
        assert_bit_identical(a, b)
    eager = train(0, step)
    np.testing.assert_allclose(sequential[0][1], eager[1], rtol=1e-4)


# ----------------------------------------------------------------------------- tracing once

def test_jit_first_called_from_8_threads_at_once_traces_once():
    traces = []

    def f(x, y):
        traces.append(threading.get_ident())  # a Python side effect: runs only while tracing
        return fnp.tanh(x) * y + 1.0

    jf = fg.jit(f)
    x, y = np.linspace(-1, 1, 5, dtype=np.float32), np.float32(3.0)
    outs = run_in_threads([lambda: jf(x, y)] * N_THREADS)
    assert len(traces) == 1
    for out in outs:
        np.testing.assert_array_equal(out, outs[0])
    np.testing.assert_allclose(outs[0], np.tanh(x) * y + 1.0, rtol=1e-6)


def test_warm_jit_called_with_a_new_signature_from_8_threads_traces_it_once():
    traces = []

    def f(x):
        traces.append(x.shape)
        return x * 2.0

    jf = fg.jit(f)
    jf(np.ones(2, np.float32))
    # eight threads, two new shapes: each shape traced once
    outs = run_in_threads([lambda n=n: jf(np.ones(3 + n % 2, np.float32)) for n in range(N_THREADS)])
    assert sorted(traces) == [(2,), (3,), (4,)]
    assert [o.shape for o in outs] == [(3 + n % 2,) for n in range(N_THREADS)]


def test_jit_of_grad_inside_transforms_from_threads():
    """``grad(jit(f))`` and ``vmap(jit(f))`` from threads: the jitted function's own
    cache of programs for transforms is shared and traces each signature once."""
    traces = []

    def f(x):
        traces.append(1)
        return fnp.sum(fnp.sin(x) ** 2)

    jf = fg.jit(f)
    x = np.linspace(0, 1, 6, dtype=np.float32)
    grads = run_in_threads([lambda: np.asarray(fg.grad(jf)(x))] * N_THREADS)
    for g in grads:
        np.testing.assert_array_equal(g, grads[0])
    np.testing.assert_allclose(grads[0], 2 * np.sin(x) * np.cos(x), rtol=1e-5)
    assert len(traces) == 1


# ----------------------------------------------------------------------------- transforms at once

def test_grad_vmap_make_ir_in_threads_see_only_their_own_traces():
    """Each thread nests transforms (vmap of grad, make_ir of grad, jacfwd) on its own
    function; results equal a sequential run and programs name only their own inputs."""
    def work(k):
        a = np.float32(k + 1)

        def f(x):
            return fnp.sum(fnp.sin(a * x) * x)

        xs = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4) + np.float32(k)
        out = []
        for _ in range(10):
            out.append(np.asarray(fg.vmap(fg.grad(f))(xs)))
            out.append(np.asarray(fg.jacfwd(fg.grad(f))(xs[0])))
            ir = fg.make_ir(fg.grad(f))(xs[0])
            out.append(np.asarray(fg.eval_ir(ir, xs[0])[0]))
            out.append(str(ir))
        return out

    sequential = [work(k) for k in range(N_THREADS)]
    threaded = run_in_threads([lambda k=k: work(k) for k in range(N_THREADS)])
    for s, t in zip(sequential, threaded, strict=True):
        for a, b in zip(s, t, strict=True):
            if isinstance(a, str):
                assert a == b
            else:
                np.testing.assert_array_equal(a, b, strict=True)
    k, x = 2, np.linspace(-1, 1, 12, dtype=np.float32)[:4] + np.float32(2)
    np.testing.assert_allclose(sequential[k][0][0], 3 * x * np.cos(3 * x) + np.sin(3 * x), rtol=1e-5)


def test_a_tracer_from_another_threads_transform_is_a_constant_there():
    """Levels are per thread: a value a thread's ``grad`` closes over is a constant to
    it, whatever transforms are active in other threads at the same time."""
    started, release = threading.Barrier(2), threading.Event()
    seen = {}

    def outer():
        def f(x):
            started.wait()
            release.wait(5)
            return fnp.sum(x ** 3)
        seen["outer"] = float(fg.grad(f)(np.float32(2.0)))

    def inner():
        started.wait()
        try:
            seen["inner"] = float(fg.grad(lambda y: y * fg.grad(lambda z: z ** 2)(y))(np.float32(3.0)))
        finally:
            release.set()

    run_in_threads([outer, inner])
    assert seen == {"outer": 12.0, "inner": 12.0}


# ----------------------------------------------------------------------------- bounded caches

def test_jit_caches_stay_at_their_bound(monkeypatch):
    """More distinct shapes than ``config.jit_cache_size``: funcgrad keeps that many
    traced programs, and so many compiled ones in jax, least recently used first out;
    every result stays right and a recent signature is not traced again."""
    monkeypatch.setattr(fg.config, "jit_cache_size", 4)
    traces = []

    def f(x):
        traces.append(x.shape)
        return fnp.cos(x) + 1.0

    jf = fg.jit(f)
    for n in range(1, 13):
        np.testing.assert_allclose(jf(np.full(n, 0.5, np.float32)), np.cos(np.full(n, 0.5)) + 1.0, rtol=1e-6)
        assert len(jf._irs) <= 4
        assert jf._jitted._cache_size() <= 4 + 1
    assert len(traces) == 12
    jf(np.full(12, 0.5, np.float32))   # the most recent signature: neither traced nor compiled again
    assert len(traces) == 12
    jf(np.full(1, 0.5, np.float32))    # the oldest was dropped: traced again
    assert len(traces) == 13

    g = fg.jit(lambda x: fnp.sum(x * x))
    for n in range(1, 9):
        np.testing.assert_allclose(fg.grad(g)(np.ones(n, np.float32)), 2 * np.ones(n), rtol=1e-6)
        assert len(g._call_irs) <= 4


def test_eager_caches_are_bounded():
    """The caches that outlive a call (eager control flow's remembered types, the
    canonical programs) hold at most their documented number of entries."""
    from funcgrad.core import ir as ir_module
    from funcgrad.transforms import eager_types

    for n in range(eager_types.CAPACITY + 20):
        fg.lax.fori_loop(0, 2, lambda i, c, n=n: c + n, np.float32(0.0) if n % 2 else np.zeros(n % 7))
    assert len(eager_types._cache) <= eager_types.CAPACITY

    for n in range(ir_module._CANONICAL_SIZE + 20):
        fg.grad(lambda x, n=n: fg.lax.fori_loop(0, 2, lambda i, c: c * (1.0 + n), x))(np.float32(1.0))
    assert len(ir_module._canonical) <= ir_module._CANONICAL_SIZE
