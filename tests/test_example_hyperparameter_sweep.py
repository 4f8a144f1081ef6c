"""examples/hyperparameter_sweep.py: jit(vmap(train)) over learning rates, the training loop a scan."""
import importlib.util
import pathlib

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.optim as fo

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def ex():
    spec = importlib.util.spec_from_file_location("hyperparameter_sweep", EXAMPLES / "hyperparameter_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_loop(ex, lr, steps):
    """The same training as a plain eager Python loop."""
    opt = fo.sgd(float(lr), momentum=0.9)
    coeffs, state, losses = ex.COEFFS0, opt.init(ex.COEFFS0), []
    for _ in range(steps):
        value, grads = fg.value_and_grad(ex.loss)(coeffs, ex.X, ex.Y)
        updates, state = opt.update(grads, state, coeffs)
        coeffs = fo.apply_updates(coeffs, updates)
        losses.append(float(value))
    return np.asarray(coeffs), np.array(losses)


def test_every_run_of_the_sweep_equals_its_own_python_loop(ex):
    lrs = ex.LEARNING_RATES[:4]                     # the fifth diverges to nan
    got_c, got_l = fg.jit(fg.vmap(lambda lr: ex.train(lr, 60)))(lrs)
    for k, lr in enumerate(lrs):
        want_c, want_l = python_loop(ex, lr, 60)
        np.testing.assert_allclose(np.asarray(got_l)[k], want_l, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(got_c)[k], want_c, rtol=1e-9, atol=1e-12)


def test_main_finds_the_least_squares_cubic(ex, capsys):
    coeffs, losses = ex.main()
    assert losses.shape == (len(ex.LEARNING_RATES), ex.STEPS)
    lstsq = np.linalg.lstsq(ex.X[:, None] ** np.arange(4), ex.Y, rcond=None)[0]
    np.testing.assert_allclose(coeffs[2], lstsq, atol=1e-4)        # lr 1e-6 converges
    assert np.isnan(losses[-1, -1])                                  # lr 1e-5 diverges
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 + len(ex.LEARNING_RATES) and out[-1].startswith("best: lr ")


def _nested_size(ir):
    return sum(1 + sum(_nested_size(p) for p in e.params.values() if hasattr(p, "eqns"))
               for e in ir.eqns)


def test_the_program_does_not_grow_with_the_number_of_steps(ex):
    def sweep(steps):
        return fg.jit(fg.vmap(lambda lr: ex.train(lr, steps)))

    sizes = {s: _nested_size(fg.make_ir(sweep(s))(ex.LEARNING_RATES)) for s in (20, 2000)}
    assert sizes[20] == sizes[2000] < 200
    text = [len(sweep(s).lower(ex.LEARNING_RATES).as_text()) for s in (20, 2000)]
    assert abs(text[0] - text[1]) < 50              # only the trip count's digits differ
