"""The Module base: naming, state dicts and packed parameter buffers."""
import numpy as np
import pytest

from minipgd.nn import Module, TemporalUNet, UNetConfig
from minipgd.nn.layers import Linear


def small_unet(rng):
    return TemporalUNet(UNetConfig(in_channels=5, horizon=8, features=16), rng)


def test_names_follow_pytorch_style(rng):
    names = [name for name, _, _ in small_unet(rng).named_parameters()]
    assert "down.0.conv1.weight" in names and "up.1.norm2.bias" in names and "embed.linear2.weight" in names
    assert len(names) == len(set(names))


def test_packing_keeps_every_value_and_the_output(rng):
    model = small_unet(rng)
    x, s = rng.standard_normal((2, 5, 8)), rng.standard_normal(2)
    before, y_before = model.state_dict(), model.forward(x, s)
    params, grads = model.parameter_buffers()
    assert params.size == grads.size == model.num_parameters()
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_array_equal(model.forward(x, s), y_before)


def test_packed_parameters_are_views_of_the_buffers(rng):
    model = small_unet(rng)
    params, grads = model.parameter_buffers()
    params[:] = 0.5
    assert all(np.all(p == 0.5) for _, p, _ in model.named_parameters())
    model.backward(np.ones_like(model.forward(rng.standard_normal((2, 5, 8)), np.zeros(2))))
    assert np.any(grads != 0)
    model.zero_grad()
    assert np.all(grads == 0) and all(np.all(g == 0) for _, _, g in model.named_parameters())


def test_packing_twice_returns_the_same_buffers(rng):
    model = small_unet(rng)
    assert model.parameter_buffers()[0] is model.parameter_buffers()[0]


def test_mixed_dtypes_cannot_be_packed(rng):
    class Pair(Module):
        def __init__(self):
            super().__init__()
            self.a = Linear(2, 2, rng, np.float32)
            self.b = Linear(2, 2, rng, np.float64)

    with pytest.raises(ValueError, match="several dtypes"):
        Pair().parameter_buffers()
