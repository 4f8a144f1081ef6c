"""examples/dp_sgd.py: DP-SGD on a small CNN over the digits: per-example gradients, their
clipping, the noise, and a short run of both the private and the plain training."""
import importlib.util
import pathlib

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import random

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def ex():
    spec = importlib.util.spec_from_file_location("dp_sgd", EXAMPLES / "dp_sgd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def batch(ex):
    """Initial params and one batch of training images (of the size the example trains with,
    so the compiled steps are shared with the short run below)."""
    k_data, k_init = random.split(random.key(1))
    (images, labels), _ = ex.load_data(k_data)
    return ex.init_params(k_init), images[:ex.BATCH_SIZE], labels[:ex.BATCH_SIZE]


def flat(tree):
    """Each example's gradient as one vector: (batch, n_params)."""
    leaves = fg.tree.leaves(tree)
    return np.concatenate([np.asarray(g).reshape(len(g), -1) for g in leaves], axis=1)


def test_per_example_gradients_are_a_loop_of_single_example_gradients(ex, batch):
    params, images, labels = batch
    got = ex.per_example_grads(params, images, labels)
    want = [fg.grad(ex.loss_one)(params, images[i], labels[i]) for i in range(len(labels))]
    want = fg.tree.map(lambda *gs: np.stack(gs), *want)
    assert fg.tree.structure(got) == fg.tree.structure(params)
    for g, w, p in zip(fg.tree.leaves(got), fg.tree.leaves(want), fg.tree.leaves(params)):
        assert g.shape == w.shape == (len(labels),) + p.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_the_mean_of_per_example_gradients_is_the_gradient_of_the_mean_loss(ex, batch):
    params, images, labels = batch
    mean = fg.tree.map(lambda g: np.mean(g, axis=0), ex.per_example_grads(params, images, labels))
    want = fg.grad(ex.loss)(params, images, labels)
    for m, w in zip(fg.tree.leaves(mean), fg.tree.leaves(want)):
        np.testing.assert_allclose(m, w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("clip_norm", [1.0, 11.0, 100.0])
def test_clipped_per_example_gradients_have_norm_at_most_c(ex, batch, clip_norm):
    params, images, labels = batch
    raw = flat(ex.per_example_grads(params, images, labels))
    clipped = flat(ex.clipped_per_example_grads(params, images, labels, clip_norm))
    raw_norms, norms = np.linalg.norm(raw, axis=1), np.linalg.norm(clipped, axis=1)
    assert np.all(norms <= clip_norm * (1 + 1e-5))
    big = raw_norms > clip_norm
    # At the initial params the examples' gradient norms lie between 9.5 and 13.5.
    assert big.all() if clip_norm == 1.0 else (~big).all() if clip_norm == 100.0 else 0 < big.sum() < len(big)
    np.testing.assert_allclose(norms[big], clip_norm, rtol=1e-5)
    # Clipping only rescales: same direction, and small gradients stay as they were.
    np.testing.assert_allclose(clipped[big], raw[big] * (clip_norm / raw_norms[big])[:, None], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(clipped[~big], raw[~big], rtol=1e-6, atol=1e-8)


def test_no_noise_and_no_clipping_gives_the_plain_averaged_gradient(ex, batch):
    params, images, labels = batch
    key = random.key(7)
    want = fg.grad(ex.loss)(params, images, labels)
    got = ex.private_grad(params, images, labels, key, 1e9, 0.0)
    for g, w in zip(fg.tree.leaves(got), fg.tree.leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)
    private = ex.dp_sgd_step(params, images, labels, key, 0.5, 1e9, 0.0)
    plain = ex.sgd_step(params, images, labels, 0.5)
    for p, q in zip(fg.tree.leaves(private), fg.tree.leaves(plain)):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-7)


def test_the_noise_is_sigma_c_normal_with_one_key_per_parameter_array(ex, batch):
    params, images, labels = batch
    key, clip_norm, sigma = random.key(3), 0.5, 2.0
    noisy = ex.private_grad(params, images, labels, key, clip_norm, sigma)
    clean = ex.private_grad(params, images, labels, key, clip_norm, 0.0)
    # Without noise: the mean of the clipped per-example gradients.
    clipped = ex.clipped_per_example_grads(params, images, labels, clip_norm)
    for c, g in zip(fg.tree.leaves(clean), fg.tree.leaves(clipped)):
        np.testing.assert_allclose(c, np.mean(g, axis=0), rtol=1e-5, atol=1e-8)
    leaves = fg.tree.leaves(params)
    keys = random.split(key, len(leaves))
    noises = []
    for n, c, p, k in zip(fg.tree.leaves(noisy), fg.tree.leaves(clean), leaves, keys):
        noise = (np.asarray(n) - np.asarray(c)) * len(labels)
        np.testing.assert_allclose(noise, sigma * clip_norm * np.asarray(random.normal(k, p.shape)),
                                   rtol=1e-3, atol=2e-4)
        noises.append(noise.ravel())
    assert len({round(float(n[0]), 4) for n in noises}) == len(noises)     # every array has its own numbers
    # Another key, other noise.
    other = ex.private_grad(params, images, labels, random.key(4), clip_norm, sigma)
    assert not np.allclose(fg.tree.leaves(other)[-1], fg.tree.leaves(noisy)[-1])
    # The compiled step draws the same noise.
    step = ex.dp_sgd_step(params, images, labels, key, 0.5, clip_norm, sigma)
    for s, p, g in zip(fg.tree.leaves(step), leaves, fg.tree.leaves(noisy)):
        np.testing.assert_allclose(s, p - 0.5 * g, rtol=1e-4, atol=1e-5)


def test_the_private_step_is_one_compiled_program(ex, batch):
    params, images, labels = batch
    ir = fg.make_ir(ex.dp_sgd_step)(params, images, labels, random.key(0), 0.5, 1.0, 1.0)
    assert [e.prim.name for e in ir.eqns] == ["jit_call"]


def test_a_short_run_learns_with_and_without_privacy(ex, capsys):
    traces = ex.dp_sgd_step.trace_count, ex.sgd_step.trace_count
    results = ex.main(epochs=5)
    # Measured: DP-SGD 0.842, SGD 0.936 after 5 epochs (0.79-0.91 and 0.93-0.97 over ten other keys).
    assert results["DP-SGD"][0] > 0.75
    assert results["SGD"][0] > 0.90
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["epoch", "DP-SGD", "test", "acc", "SGD", "test", "acc"]
    assert out[1].split()[0] == "5" and out[-2].startswith("DP-SGD") and out[-1].startswith("SGD")
    # Each step was compiled at most once (the tests above may have compiled it already), then reused.
    assert ex.dp_sgd_step.trace_count - traces[0] <= 1 and ex.sgd_step.trace_count - traces[1] <= 1
