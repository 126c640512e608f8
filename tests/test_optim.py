"""Adam, the cosine schedule and gradient clipping."""
import math

import numpy as np
import pytest

from minipgd.nn.layers import Linear
from minipgd.nn.optim import Adam, clip_grad_norm, cosine_lr


def test_adam_first_step_moves_each_weight_by_lr(rng):
    # With bias correction the first Adam step is lr * g / (|g| + eps) = lr * sign(g).
    layer = Linear(3, 2, rng, np.float64)
    before = layer.params["weight"].copy()
    layer.grads["weight"][:] = rng.standard_normal((2, 3))
    Adam(layer, lr=0.01).step()
    np.testing.assert_allclose(before - layer.params["weight"], 0.01 * np.sign(layer.grads["weight"]), rtol=1e-6)


def test_adam_fits_a_linear_regression(rng):
    layer = Linear(4, 1, rng, np.float64)
    x = rng.standard_normal((256, 4))
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]]) + 0.7
    opt = Adam(layer, lr=0.05)
    for _ in range(500):
        layer.zero_grad()
        layer.backward(2 * (layer.forward(x) - y) / len(x))
        opt.step()
    np.testing.assert_allclose(layer.params["weight"].ravel(), [1.0, -2.0, 0.5, 3.0], atol=1e-3)
    np.testing.assert_allclose(layer.params["bias"], [0.7], atol=1e-3)


def test_cosine_schedule():
    assert cosine_lr(0, 100, 2e-3) == pytest.approx(2e-3)
    assert cosine_lr(50, 100, 2e-3) == pytest.approx(1e-3)
    assert cosine_lr(100, 100, 2e-3) == pytest.approx(0.0)
    assert cosine_lr(500, 100, 2e-3, final_lr=1e-5) == pytest.approx(1e-5)
    warm = [cosine_lr(s, 100, 1.0, warmup_steps=10) for s in range(10)]
    assert warm == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert cosine_lr(10, 100, 1.0, warmup_steps=10) == pytest.approx(1.0)


def test_clip_grad_norm(rng):
    layer = Linear(3, 2, rng, np.float64)
    layer.grads["weight"][:] = 3.0
    layer.grads["bias"][:] = 4.0
    norm = clip_grad_norm(layer, 1.0)
    assert norm == pytest.approx(math.sqrt(6 * 9 + 2 * 16))
    total = math.sqrt(sum(np.sum(g**2) for _, _, g in layer.named_parameters()))
    assert total == pytest.approx(1.0)
    assert clip_grad_norm(layer, 10.0) == pytest.approx(1.0)  # already small: untouched
