"""Three classic optimizer tutorials (OneFlow, PyTorch, CSDN) as reproduced by
examples/linear_regression_sgd.py, sin_cubic_fit.py and sigmoid_sgd_adam.py."""
import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seed_000():
    return load_example("linear_regression_sgd").main(verbose=False)


def test_seed_000_loss_printed_at_iteration_50_is_the_tutorials(seed_000):
    # the tutorial prints "50/500 loss:0.0034512376878410578", computed before that iteration's update
    assert round(seed_000["losses"][50], 7) == 0.0034512
    assert sorted(seed_000["losses"]) == list(range(50, 501, 50))


def test_seed_000_w_ends_at_2_3(seed_000):
    np.testing.assert_allclose(seed_000["w"], [[2.0], [3.0]], atol=1e-5)
    assert seed_000["w"].dtype == np.float32


def test_seed_000_funcgrad_follows_the_tutorials_numpy_loop(seed_000):
    for it, loss in seed_000["tutorial_losses"].items():
        assert seed_000["losses"][it] == pytest.approx(loss, rel=1e-4, abs=1e-9)
    np.testing.assert_allclose(seed_000["w"], seed_000["tutorial_w"], rtol=1e-6)


@pytest.fixture(scope="module")
def seed_001():
    return load_example("sin_cubic_fit").main(verbose=False)


def test_seed_001_sgd_trajectory_equals_the_hand_derived_one(seed_001):
    assert seed_001["sgd_max_rel_diff"] <= 1e-5
    np.testing.assert_allclose(seed_001["sgd"], seed_001["sgd_hand"], rtol=1e-5)


def test_seed_001_rmsprop_steps_equal_the_hand_derived_ones(seed_001):
    assert seed_001["rmsprop_grad_max_rel_diff"] <= 1e-5
    assert seed_001["rmsprop_step_max_rel_diff"] <= 1e-5


def test_seed_001_result_is_close_to_the_least_squares_cubic(seed_001):
    lstsq = seed_001["lstsq"]
    np.testing.assert_allclose(lstsq[[1, 3]], [0.8567, -0.0933], atol=1e-4)
    np.testing.assert_allclose(seed_001["sgd"], lstsq, atol=0.02)        # SGD at lr 1e-6 is still approaching
    np.testing.assert_allclose(seed_001["rmsprop"], lstsq, atol=2e-3)    # RMSprop hovers within ~lr of it


def test_seed_001_in_the_tutorials_float32_sgd_still_equals_the_hand_derived_trajectory():
    module = load_example("sin_cubic_fit")
    ours, hand, worst = module.sgd_part(np.float32)
    assert ours.dtype == np.float32
    assert worst <= 1e-5


@pytest.fixture(scope="module")
def seed_002():
    return load_example("sigmoid_sgd_adam").main(verbose=False)


def test_seed_002_gradient_equals_calculate_grad(seed_002):
    np.testing.assert_allclose(seed_002["funcgrad"]["grad"], seed_002["tutorial"]["grad"], rtol=1e-5, atol=1e-7)
    assert seed_002["funcgrad"]["loss"] == pytest.approx(seed_002["tutorial"]["loss"], rel=1e-6)


def test_seed_002_one_sgd_step_equals_diy_sgd(seed_002):
    assert seed_002["funcgrad"]["sgd"].dtype == np.float32
    np.testing.assert_allclose(seed_002["funcgrad"]["sgd"], seed_002["tutorial"]["sgd"], rtol=1e-6, atol=1e-7)
    assert not np.allclose(seed_002["funcgrad"]["sgd"], seed_002["weight"])


def test_seed_002_one_adam_step_equals_diy_adam(seed_002):
    np.testing.assert_allclose(seed_002["funcgrad"]["adam"], seed_002["tutorial"]["adam"], rtol=1e-6, atol=1e-7)
    # the first Adam step moves every weight by ~lr = 1e-3 against its gradient's sign
    step = seed_002["funcgrad"]["adam"] - seed_002["weight"]
    np.testing.assert_allclose(np.abs(step), 1e-3, rtol=1e-3)
    assert np.all(np.sign(step) == -np.sign(seed_002["funcgrad"]["grad"]))
