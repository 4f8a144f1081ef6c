"""funcgrad in one screen: train a small MLP to tell two interleaved spirals apart.

Everything is a pure function: ``funcgrad.random`` draws data and weights from explicit keys,
``loss`` is plain ``funcgrad.numpy`` / ``funcgrad.nn`` code, ``fg.value_and_grad`` differentiates
it, ``fg.optim.adam`` is an ``(init, update)`` pair, ``fg.jit`` compiles the training step.
"""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn

SIZES = (2, 64, 64, 2)  # 2-d points in, one logit per class out
STEPS = 500


def make_spirals(key, n, noise=0.1):
    """``n`` points on each of two spirals wound around each other (two turns each); labels 0 and 1."""
    k_t, k_noise = fg.random.split(key)
    t = fg.random.uniform(k_t, (2, n), minval=0.1, maxval=1.0)  # how far along its spiral each point lies
    angle = 4 * np.pi * t + fnp.array([[0.0], [np.pi]])         # spiral 1 is spiral 0 turned by 180 degrees
    x = 2 * t[..., None] * fnp.stack([fnp.cos(angle), fnp.sin(angle)], axis=-1)
    x = x.reshape(2 * n, 2) + noise * fg.random.normal(k_noise, (2 * n, 2))
    return x, np.repeat(np.int32([0, 1]), n)


def init_params(key):
    keys = fg.random.split(key, len(SIZES) - 1)
    return [{"w": nn.he_normal(k, (m, n)), "b": fnp.zeros(n)} for k, m, n in zip(keys, SIZES[:-1], SIZES[1:])]


def predict(params, x):
    """The MLP's logits: ReLU hidden layers, then a linear output layer."""
    for layer in params[:-1]:
        x = nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss(params, x, labels):
    return nn.cross_entropy(predict(params, x), labels)


@fg.jit
def accuracy(params, x, labels):
    return fnp.mean(fnp.argmax(predict(params, x), axis=-1) == labels)


opt = fg.optim.adam(1e-2)


@fg.jit  # traced once; every later call runs the compiled program
def train_step(params, opt_state, x, labels):
    value, grads = fg.value_and_grad(loss)(params, x, labels)
    updates, opt_state = opt.update(grads, opt_state, params)
    return fg.optim.apply_updates(params, updates), opt_state, value


def main(steps=STEPS, print_every=100):
    train_key, test_key, init_key = fg.random.split(fg.random.key(0), 3)
    x, labels = make_spirals(train_key, 200)
    x_test, labels_test = make_spirals(test_key, 500)
    params = init_params(init_key)
    opt_state = opt.init(params)

    print("The program funcgrad traced from `predict`, for 4 points:")
    print(fg.make_ir(predict)(params, x[:4]))

    losses = []
    for step in range(1, steps + 1):
        params, opt_state, value = train_step(params, opt_state, x, labels)
        losses.append(float(value))  # the loss before this step's update
        if step == 1 or step % print_every == 0:
            print(f"step {step:4d}  loss {losses[-1]:.4f}  train accuracy {float(accuracy(params, x, labels)):.3f}")
    test_accuracy = float(accuracy(params, x_test, labels_test))
    print(f"test accuracy on {len(labels_test)} new points: {test_accuracy:.3f}")
    return {"losses": losses, "test_accuracy": test_accuracy}


if __name__ == "__main__":
    main()
