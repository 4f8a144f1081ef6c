"""Reproduces the PyTorch tutorial "Pytorch模型开发详解": fit y = sin(x) on [-pi, pi] with a cubic.

The tutorial starts from random coefficients and, over 2000 steps on the summed
squared error of 2000 points, trains

1. ``a + b x + c x^2 + d x^3`` by SGD with learning rate 1e-6, first with hand-derived
   gradients (``grad_a = sum(2 (y_pred - y))``, ``grad_b = sum(2 (y_pred - y) x)``, ...),
   then with autograd;
2. ``nn.Linear(3, 1)`` on the features ``(x, x^2, x^3)`` with ``torch.optim.RMSprop``,
   learning rate 1e-3,

and prints ``Result: y = a + b x + c x^2 + d x^3``.  Here the gradients come from
``funcgrad.grad`` and the steps from ``funcgrad.optim.sgd`` / ``rmsprop``, from a
fixed-seed start, and are checked against the tutorial's hand-derived gradients:

* SGD contracts, so the whole funcgrad trajectory is compared with the hand-derived one.
* RMSprop divides by the gradients' running RMS, so near the optimum it oscillates
  with steps of size ~lr and two runs that differ in the last bit drift apart
  (chaotically, in float64 too).  So each step is compared instead, from the same
  state: funcgrad's gradient against the hand-derived one at the same coefficients,
  and funcgrad's RMSprop step against torch's documented step computed by hand.

The tutorial computes in float32; ``main`` defaults to float64 so that the 1e-5
comparisons measure funcgrad, not float32 cancellation in 2000-term sums
(``main(dtype=np.float32)`` runs the tutorial's precision).
"""
import math

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim as fo

STEPS = 2000
SEED = 0


def data(dtype):
    x = np.linspace(-math.pi, math.pi, 2000).astype(dtype)
    return x, np.sin(x), x[:, None] ** np.array([1, 2, 3], dtype=dtype)   # xx: x.unsqueeze(-1).pow(p)


def initial_coefficients(dtype):
    """a, b, c, d ~ N(0, 1) from a fixed seed (the tutorial's four ``torch.randn(())``)."""
    return np.random.default_rng(SEED).standard_normal(4).astype(dtype)


def polynomial_loss(p, x, y):
    """The tutorial's ``(y_pred - y).pow(2).sum()`` for ``a + b x + c x^2 + d x^3``."""
    y_pred = p["a"] + p["b"] * x + p["c"] * x ** 2 + p["d"] * x ** 3
    return fnp.sum((y_pred - y) ** 2)


def linear_loss(p, xx, y):
    """``nn.Linear(3, 1)`` + ``Flatten(0, 1)`` + ``MSELoss(reduction="sum")``."""
    y_pred = fnp.reshape(fnp.matmul(xx, fnp.transpose(p["weight"])) + p["bias"], (-1,))
    return fnp.sum((y_pred - y) ** 2)


def hand_gradients(coef, x, y):
    """The tutorial's hand-derived gradients of the summed squared error, as [a, b, c, d]."""
    a, b, c, d = coef
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    grad_y_pred = 2.0 * (y_pred - y)
    return np.array([grad_y_pred.sum(), (grad_y_pred * x).sum(), (grad_y_pred * x ** 2).sum(),
                     (grad_y_pred * x ** 3).sum()])


def sgd_part(dtype, lr=1e-6):
    """funcgrad SGD next to the hand-derived loop; returns both final coefficients and the
    largest relative difference of the coefficients over all 2000 steps."""
    x, y, _ = data(dtype)
    coef = initial_coefficients(dtype)
    params = dict(zip("abcd", (np.asarray(v) for v in coef), strict=True))
    grad = fg.grad(polynomial_loss)
    opt = fo.sgd(lr)
    state = opt.init(params)
    hand = coef.copy()
    worst = 0.0
    for _ in range(STEPS):
        updates, state = opt.update(grad(params, x, y), state, params)
        params = fo.apply_updates(params, updates)
        hand = hand - lr * hand_gradients(hand, x, y)
        ours = np.array([params[k] for k in "abcd"])
        worst = max(worst, float(np.max(np.abs(ours - hand) / np.abs(hand))))
    return np.array([params[k] for k in "abcd"]), hand, worst


def rmsprop_part(dtype, lr=1e-3, alpha=0.99, eps=1e-8):
    """funcgrad RMSprop on the ``nn.Linear`` model; at every step, funcgrad's gradient is
    compared with the hand-derived one and funcgrad's step with torch's documented
    RMSprop step from the same state."""
    x, y, xx = data(dtype)
    coef = initial_coefficients(dtype)
    params = {"weight": coef[None, 1:].copy(), "bias": coef[:1].copy()}
    grad = fg.grad(linear_loss)
    opt = fo.rmsprop(lr, decay=alpha, eps=eps)
    state = opt.init(params)
    worst_grad = worst_step = 0.0
    for _ in range(STEPS):
        g = grad(params, xx, y)
        theta = np.concatenate([params["bias"], params["weight"][0]])
        g_ours = np.concatenate([g["bias"], g["weight"][0]])
        g_hand = hand_gradients(theta, x, y)
        worst_grad = max(worst_grad, float(np.max(np.abs(g_ours - g_hand)) / np.linalg.norm(g_hand)))
        # torch.optim.RMSprop's documented step, by hand, from funcgrad's current state
        square_avg = np.concatenate([state.square_avg["bias"], state.square_avg["weight"][0]])
        square_avg = alpha * square_avg + (1 - alpha) * g_hand * g_hand
        step_hand = -lr * g_hand / (np.sqrt(square_avg) + eps)
        updates, state = opt.update(g, state, params)
        step_ours = np.concatenate([updates["bias"], updates["weight"][0]])
        worst_step = max(worst_step, float(np.max(np.abs(step_ours - step_hand))) / lr)
        params = fo.apply_updates(params, updates)
    return np.concatenate([params["bias"], params["weight"][0]]), worst_grad, worst_step


def least_squares_cubic(dtype):
    """The cubic minimising the summed squared error (solved in float64): what training approaches."""
    x = data(dtype)[0].astype(np.float64)
    design = np.stack([np.ones_like(x), x, x ** 2, x ** 3], axis=1)
    return np.linalg.lstsq(design, np.sin(x), rcond=None)[0]


def result_line(coef):
    a, b, c, d = (float(v) for v in coef)
    return f"Result: y = {a} + {b} x + {c} x^2 + {d} x^3"


def main(dtype=np.float64, verbose=True):
    """Returns the final coefficients [a, b, c, d] of each run and the comparison numbers:
    ``sgd_max_rel_diff`` (trajectory vs hand), ``rmsprop_grad_max_rel_diff`` (per step,
    relative to the gradient's norm), ``rmsprop_step_max_rel_diff`` (per step, relative
    to the learning rate)."""
    sgd, sgd_hand, sgd_diff = sgd_part(dtype)
    rms, grad_diff, step_diff = rmsprop_part(dtype)
    out = {"sgd": sgd, "sgd_hand": sgd_hand, "sgd_max_rel_diff": sgd_diff, "rmsprop": rms,
           "rmsprop_grad_max_rel_diff": grad_diff, "rmsprop_step_max_rel_diff": step_diff,
           "lstsq": least_squares_cubic(dtype)}
    if verbose:
        print("SGD, funcgrad.grad:    ", result_line(sgd))
        print("SGD, hand gradients:   ", result_line(sgd_hand), f"(max rel diff {sgd_diff:.1e})")
        print("RMSprop, funcgrad.grad:", result_line(rms))
        print(f"    per step vs hand: gradients {grad_diff:.1e}, steps {step_diff:.1e}")
        print("least squares:         ", result_line(out["lstsq"]))
    return out


if __name__ == "__main__":
    main()
