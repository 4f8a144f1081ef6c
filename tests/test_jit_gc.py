"""Staging and lowering run without full garbage collections, and leave the collector's
state exactly as they found it (also on errors, nested and from several threads)."""
import gc
import threading

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.staging import no_full_gc


@pytest.fixture
def thresholds():
    saved, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(601, 9, 11)
    yield (601, 9, 11)
    gc.set_threshold(*saved)
    (gc.enable if enabled else gc.disable)()


def test_full_collections_paused_while_tracing_and_restored(thresholds):
    seen = []

    def f(x):
        seen.append(gc.get_threshold())
        return fnp.sin(x) * 2.0

    x = np.ones(3, np.float32)
    np.testing.assert_allclose(fg.jit(f)(x), np.sin(x) * 2.0, rtol=1e-6)
    assert seen and seen[0][:2] == thresholds[:2] and seen[0][2] > thresholds[2]
    assert gc.get_threshold() == thresholds
    fg.jit(f).lower(x)
    fg.make_ir(f)(x)
    assert gc.get_threshold() == thresholds
    assert gc.isenabled()


def test_restored_after_an_error(thresholds):
    def f(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fg.jit(f)(np.ones(2, np.float32))
    assert gc.get_threshold() == thresholds
    with pytest.raises(RuntimeError, match="boom"):
        fg.make_ir(f)(np.ones(2, np.float32))
    assert gc.get_threshold() == thresholds
    assert gc.isenabled()


def test_nested_and_thresholds_set_meanwhile_are_kept(thresholds):
    with no_full_gc():
        with no_full_gc():
            assert gc.get_threshold()[2] > thresholds[2]
        assert gc.get_threshold()[2] > thresholds[2]  # the outer entry still holds
    assert gc.get_threshold() == thresholds

    def f(x):
        gc.set_threshold(123, 4, 5)  # the user's own setting, made while tracing
        return x + 1

    fg.jit(f)(np.ones(2, np.float32))
    assert gc.get_threshold() == (123, 4, 5)


def test_collection_disabled_by_threshold_is_left_alone(thresholds):
    gc.set_threshold(0, 9, 11)

    def f(x):
        assert gc.get_threshold() == (0, 9, 11)
        return x * 3

    fg.jit(f)(np.ones(2, np.float32))
    assert gc.get_threshold() == (0, 9, 11)


def test_threads(thresholds):
    barrier = threading.Barrier(4)
    errors = []

    def f(x):
        return fnp.tanh(x) + 1.0

    def work(i):
        try:
            barrier.wait()
            for k in range(3):
                fg.jit(f)(np.full(i + k + 1, 0.5, np.float32))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert gc.get_threshold() == thresholds


def test_no_full_collection_during_an_eager_grad(thresholds):
    """An eager grad's tape (many small objects that live until the backward pass) would
    otherwise set off full collections, each walking the user's whole heap: the forward and
    backward passes run with full collections paused, and the thresholds come back."""
    seen = []
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((8, 8)).astype(np.float32) * 0.3, np.zeros(8, np.float32)) for _ in range(5)]
    x = rng.standard_normal((4, 8)).astype(np.float32)

    def loss(params):
        seen.append(gc.get_threshold())
        h = x
        for w, b in params:
            h = fnp.tanh(h @ w + b)
        return fnp.sum(h * h)

    value, grads = fg.value_and_grad(loss)(params)
    assert seen[0][:2] == thresholds[:2] and seen[0][2] > thresholds[2]
    assert gc.get_threshold() == thresholds and gc.isenabled()
    w0 = params[0][0]  # and the gradient is right: one weight's against central differences
    e = np.zeros_like(w0)
    e[0, 0] = 1e-2
    num = (loss([(w0 + e, params[0][1])] + params[1:]) - loss([(w0 - e, params[0][1])] + params[1:])) / 2e-2
    np.testing.assert_allclose(grads[0][0][0, 0], num, rtol=2e-2, atol=1e-4)
