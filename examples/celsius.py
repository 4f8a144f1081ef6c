"""Fahrenheit to Celsius: fit ``C = w * F + b`` by plain gradient descent, the whole
run one compiled loop.

Eleven temperature readings in both scales, a one-variable linear model, the mean
squared error, learning rate 1e-4 and 330,000 epochs from ``w, b = 1.0, 0.01`` in
float32.  The loss is printed every 30,000 epochs, as it was computed before that
epoch's update:

    Epoch 30000, Loss 12.095913
    Epoch 60000, Loss 6.133893
    ...
    Epoch 300000, Loss 2.928471
    Epoch 330000, Loss 2.927905
    Params: [  0.5358 -17.2503]

(PyTorch's float32 run of the same fit prints 2.927906 at the end: float32 sums
rounded in another order differ in the last printed digit.)

Written as a Python loop, each of the 330,000 steps would be a round of small NumPy
calls.  Here ``train`` is one ``funcgrad.jit``-compiled program: a ``lax.scan`` over
the eleven reports, each a ``lax.fori_loop`` of 30,000 gradient steps, printing from
inside the compiled loop with ``funcgrad.debug_print``.  The program has the same size
whatever the number of epochs.

    python examples/celsius.py
"""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax

# Celsius (Y) and Fahrenheit (X) readings of the same eleven temperatures.
Y = np.array([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0], np.float32)
X = np.array([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4], np.float32)

N_EPOCHS = 330_000
EVERY = 30_000
LEARNING_RATE = 1e-4
PARAMS0 = np.array([1.0, 0.01], np.float32)


def model(x, w, b):
    return w * x + b


def loss_fn(params, x, y):
    """Mean squared error of the model's predictions."""
    w, b = params[0], params[1]
    return fnp.mean((model(x, w, b) - y) ** 2)


@fg.jit
def train(params, x, y):
    """Gradient descent for ``N_EPOCHS``; returns the final params and the loss of every
    ``EVERY``-th epoch (computed before that epoch's update)."""
    loss_and_grad = fg.value_and_grad(loss_fn)

    def epoch(i, carry):
        params, _ = carry
        loss, grad = loss_and_grad(params, x, y)
        return params - LEARNING_RATE * grad, loss

    def report(params, k):
        params, loss = lax.fori_loop(0, EVERY, epoch, (params, fnp.float32(0.0)))
        fg.debug_print("Epoch {}, Loss {:f}", (k + 1) * EVERY, loss)
        return params, loss

    return lax.scan(report, params, fnp.arange(N_EPOCHS // EVERY))


def main():
    params, losses = train(PARAMS0, X, Y)
    params = np.asarray(params)
    print("Params:", np.round(params, 4))
    return params, np.asarray(losses)


if __name__ == "__main__":
    main()
