"""Every hand-written backward pass against float64 central differences (rel. error < 1e-6)."""
import numpy as np
import pytest

from minipgd.nn import TemporalUNet, UNetConfig
from minipgd.nn.gradcheck import check_gradients
from minipgd.nn.layers import (
    Conv1d,
    GroupNorm,
    Linear,
    MaxPool1d,
    Mish,
    NearestUpsample1d,
    NoiseLevelEmbedding,
    ReLU,
    SiLU,
    SinusoidalEmbedding,
)
from minipgd.nn.unet import DecoderBlock, EncoderBlock

TOLERANCE = 1e-6
F64 = np.float64


def assert_gradients_match(module, inputs, rng):
    errors = check_gradients(module, inputs, rng)
    assert errors, "nothing was checked"
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{worst}: relative error {errors[worst]:.2e}"


def test_linear(rng, backend):
    assert_gradients_match(Linear(7, 5, rng, F64), [rng.standard_normal((4, 3, 7))], rng)


@pytest.mark.parametrize("kernel_size, padding",
                         [(3, "same"), (2, "same"), (1, 0), (3, 1), (4, (2, 0)), (5, 0), (3, 4)])
def test_conv1d(rng, backend, kernel_size, padding):
    """Time-major input (L = 9, B = 3, C = 4); (3, 4): padding wider than the kernel, taps that miss some rows."""
    conv = Conv1d(4, 6, kernel_size, rng, padding=padding, dtype=F64)
    assert_gradients_match(conv, [rng.standard_normal((9, 3, 4))], rng)


def test_group_norm(rng, backend):
    norm = GroupNorm(2, 6, dtype=F64)
    norm.params["weight"][:] = rng.standard_normal(6)  # away from the identity initialisation
    norm.params["bias"][:] = rng.standard_normal(6)
    assert_gradients_match(norm, [rng.standard_normal((5, 3, 6))], rng)  # (L, B, C)


def test_group_norm_with_fused_relu(rng, backend):
    norm = GroupNorm(2, 6, dtype=F64, relu=True)
    norm.params["weight"][:] = rng.standard_normal(6)
    norm.params["bias"][:] = rng.standard_normal(6)
    assert_gradients_match(norm, [rng.standard_normal((5, 3, 6))], rng)


@pytest.mark.parametrize("activation", [ReLU, SiLU, Mish])
def test_activations(rng, backend, activation):
    x = 3 * rng.standard_normal((4, 5, 6))
    assert_gradients_match(activation(), [x], rng)


def test_relu_in_place_is_relu_on_its_own_input(rng):
    """The MLPs' ReLU(inplace=True) (its gradient is checked through the MLPs, tests/test_td3.py)."""
    x, dy = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    plain, in_place = ReLU(), ReLU(inplace=True)
    expected, given = plain.forward(x), x.copy()
    assert in_place.forward(given) is given and np.array_equal(given, expected)
    assert np.array_equal(in_place.backward(dy), plain.backward(dy))


def test_mish_far_tails(rng, backend):
    assert_gradients_match(Mish(), [np.array([[-60.0, -25.0, 19.0, 21.0, 40.0]])], rng)


def test_max_pool_with_odd_length(rng):
    assert_gradients_match(MaxPool1d(), [rng.standard_normal((7, 2, 3))], rng)  # (L, B, C)


class _UpsampleTo:
    """NearestUpsample1d with its target length fixed, so it has one input."""

    def __init__(self, length):
        self.layer, self.length = NearestUpsample1d(), length

    def forward(self, x):
        return self.layer.forward(x, self.length)

    def backward(self, dy):
        return self.layer.backward(dy)

    def zero_grad(self):
        pass

    def named_parameters(self):
        return []


@pytest.mark.parametrize("length_in, length_out", [(4, 8), (3, 7), (5, 5)])
def test_nearest_upsample(rng, length_in, length_out):
    assert_gradients_match(_UpsampleTo(length_out), [rng.standard_normal((length_in, 2, 3))], rng)


def test_sinusoidal_embedding(rng):
    assert_gradients_match(SinusoidalEmbedding(4, F64), [rng.standard_normal(5)], rng)


def test_noise_level_embedding(rng, backend):
    assert_gradients_match(NoiseLevelEmbedding(16, rng, F64), [rng.standard_normal(5)], rng)


BLOCKS = pytest.mark.parametrize("activation, residual", [("relu", False), ("mish", False), ("mish", True)],
                                 ids=["authors", "mish", "residual-mish"])


@BLOCKS
@pytest.mark.parametrize("c_in", [5, 16])  # a width change (Conv(k1) on the residual path) and none (identity)
def test_encoder_block(rng, backend, activation, residual, c_in):
    cfg = UNetConfig(in_channels=5, horizon=8, features=16, activation=activation, residual=residual)
    block = EncoderBlock(c_in, 16, cfg, rng, F64)
    assert_gradients_match(block, [rng.standard_normal((8, 3, c_in)), rng.standard_normal((3, 16))], rng)


@BLOCKS
def test_decoder_block(rng, backend, activation, residual):
    cfg = UNetConfig(in_channels=5, horizon=8, features=16, activation=activation, residual=residual)
    block = DecoderBlock(32, 16, cfg, rng, F64)
    inputs = [rng.standard_normal((4, 3, 32)), rng.standard_normal((8, 3, 16)), rng.standard_normal((3, 16))]
    assert_gradients_match(block, inputs, rng)


@BLOCKS
def test_whole_unet_inputs_and_every_parameter(rng, backend, activation, residual):
    cfg = UNetConfig(in_channels=5, horizon=8, features=16, activation=activation, residual=residual)
    model = TemporalUNet(cfg, rng, dtype=F64)
    errors = check_gradients(model, [rng.standard_normal((3, 5, 8)), rng.standard_normal(3)], rng)
    assert len(errors) == len(model.named_parameters()) + 1  # the input and every parameter array
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{worst}: relative error {errors[worst]:.2e}"


def test_unet_with_odd_horizon(rng):
    model = TemporalUNet(UNetConfig(in_channels=3, horizon=10, features=16), rng, dtype=F64)
    assert_gradients_match(model, [rng.standard_normal((2, 3, 10)), rng.standard_normal(2)], rng)


def test_checker_catches_a_wrong_backward(rng):
    class SlightlyWrongLinear(Linear):
        def backward(self, dy):
            return 1.001 * super().backward(dy)

    errors = check_gradients(SlightlyWrongLinear(3, 2, rng, F64), [rng.standard_normal((4, 3))], rng)
    assert errors["input0"] > 1e-4
