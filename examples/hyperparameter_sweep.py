"""A learning-rate sweep as one compiled program: ``jit(vmap(train))``.

``train(lr)`` fits ``y = sin(x)`` on [-pi, pi] with a cubic ``a + b x + c x^2 + d x^3``
(summed squared error over 2,000 points, SGD with momentum 0.9, 2,000 steps), its
training loop a ``funcgrad.lax.scan`` that also returns the loss of every step.
``vmap`` runs every learning rate of the sweep side by side in that one loop, and
``jit`` compiles it once: the program has the same size for 20 steps or 20,000.

    python examples/hyperparameter_sweep.py

prints, for each learning rate, the loss after 1, 10, 100, 1,000 and 2,000 steps.
Too small a rate barely moves, too large a one diverges, and between them is the
one to pick.
"""
import math

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim as fo
from funcgrad import lax

STEPS = 2000
LEARNING_RATES = np.array([1e-7, 3e-7, 1e-6, 3e-6, 1e-5])

X = np.linspace(-math.pi, math.pi, 2000)
Y = np.sin(X)
COEFFS0 = np.random.default_rng(0).standard_normal(4)


def loss(coeffs, x, y):
    """Summed squared error of the cubic with coefficients ``(a, b, c, d)``."""
    a, b, c, d = coeffs[0], coeffs[1], coeffs[2], coeffs[3]
    return fnp.sum((a + b * x + c * x ** 2 + d * x ** 3 - y) ** 2)


def train(lr, steps=STEPS):
    """Final coefficients and the loss before each step, for one learning rate."""
    opt = fo.sgd(lr, momentum=0.9)
    loss_and_grad = fg.value_and_grad(loss)

    def step(carry, _):
        coeffs, state = carry
        value, grads = loss_and_grad(coeffs, X, Y)
        updates, state = opt.update(grads, state, coeffs)
        return (fo.apply_updates(coeffs, updates), state), value

    (coeffs, _), losses = lax.scan(step, (COEFFS0, opt.init(COEFFS0)), None, length=steps)
    return coeffs, losses


@fg.jit
def sweep(learning_rates):
    """``train`` for every learning rate at once: one compiled program."""
    return fg.vmap(train)(learning_rates)


def main(verbose=True):
    coeffs, losses = sweep(LEARNING_RATES)
    coeffs, losses = np.asarray(coeffs), np.asarray(losses)
    if verbose:
        shown = [0, 9, 99, 999, STEPS - 1]
        print("learning rate " + "".join(f"{f'step {i + 1}':>12}" for i in shown))
        for lr, curve in zip(LEARNING_RATES, losses):
            print(f"{lr:13.0e} " + "".join(f"{curve[i]:12.4g}" for i in shown))
        best = int(np.nanargmin(losses[:, -1]))
        a, b, c, d = coeffs[best]
        print(f"best: lr {LEARNING_RATES[best]:.0e}, y = {a:.4f} {b:+.4f} x {c:+.4f} x^2 {d:+.4f} x^3")
    return coeffs, losses


if __name__ == "__main__":
    main()
