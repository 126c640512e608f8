"""The temporal U-Net: size, shapes, dtypes, and clear errors on bad input."""
import numpy as np
import pytest

from minipgd.nn import TemporalUNet, UNetConfig
from minipgd.nn.backend import use_backend


def small_unet(rng, dtype=np.float32, **overrides):
    return TemporalUNet(UNetConfig(**{"in_channels": 5, "horizon": 8, "features": 16, **overrides}), rng, dtype)


def test_default_size_matches_the_authors_architecture(rng):
    # F = 32, 3 levels, 25 channels (HalfCheetah: 17 obs + 6 act + reward + done); docs/authors_code.md
    assert TemporalUNet(UNetConfig(in_channels=25), rng).num_parameters() == 179_129
    assert TemporalUNet(UNetConfig(in_channels=25, features=64), rng).num_parameters() == 704_857  # F = 64: the Section 5.3 model


def test_residual_blocks_add_one_pointwise_convolution_per_block(rng):
    plain, residual = (TemporalUNet(UNetConfig(in_channels=25, residual=flag), rng) for flag in (False, True))
    # encoder 25->32, 32->64, 64->128 and decoder 2*64->64, 2*32->32: weights c_in*c_out plus c_out biases
    extra = sum(c_in * c_out + c_out for c_in, c_out in [(25, 32), (32, 64), (64, 128), (128, 64), (64, 32)])
    assert residual.num_parameters() == plain.num_parameters() + extra
    assert not [name for name, _, _ in plain.named_parameters() if "residual" in name]

def test_paper_size_is_constructible(rng):
    model = TemporalUNet(UNetConfig.paper(in_channels=25), rng)
    assert 170e6 < model.num_parameters() < 180e6  # "≈ 178 M parameters" (docs/authors_code.md)


def test_forward_shape_and_dtype(rng):
    for dtype in (np.float32, np.float64):
        model = small_unet(rng, dtype)
        y = model.forward(rng.standard_normal((4, 5, 8)), np.zeros(4))
        assert y.shape == (4, 5, 8) and y.dtype == dtype
        assert model.backward(np.ones_like(y)).shape == (4, 5, 8)


def test_float32_and_float64_compute_the_same_function(rng):
    m32 = small_unet(np.random.default_rng(1))
    m64 = small_unet(np.random.default_rng(1), np.float64)
    m64.load_state_dict(m32.state_dict())
    x, s = rng.standard_normal((3, 5, 8)), rng.standard_normal(3)
    np.testing.assert_allclose(m32.forward(x, s), m64.forward(x, s), rtol=1e-4, atol=1e-4)


def test_numpy_twins_give_the_same_network(rng):
    model = small_unet(rng, activation="mish")
    x, s = rng.standard_normal((3, 5, 8)), rng.standard_normal(3)
    dy = rng.standard_normal((3, 5, 8))
    outputs = []
    for name in ("numba", "numpy"):
        with use_backend(name):
            model.zero_grad()
            y = model.forward(x, s)
            outputs.append((y, model.backward(dy), model.state_dict(), [g.copy() for _, _, g in model.named_parameters()]))
    (y1, dx1, _, g1), (y2, dx2, _, g2) = outputs
    np.testing.assert_allclose(y1, y2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-4, atol=1e-5)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_noise_level_changes_the_output(rng):
    model = small_unet(rng)
    x = rng.standard_normal((1, 5, 8))
    assert not np.allclose(model.forward(x, [0.0]), model.forward(x, [2.0]))


def test_batch_items_are_independent(rng):
    model = small_unet(rng)
    x, s = rng.standard_normal((4, 5, 8)), rng.standard_normal(4)
    np.testing.assert_allclose(model.forward(x, s)[2:3], model.forward(x[2:3], s[2:3]), rtol=1e-5, atol=1e-6)


def test_batch_workers_give_the_serial_result(rng):
    """A batch split over 2 threads (replicas sharing the parameters) gives the serial output and gradients."""
    from minipgd.nn.unet import MIN_ROWS_PER_WORKER

    model = small_unet(rng, dtype=np.float64)
    batch = 2 * MIN_ROWS_PER_WORKER + 3
    x, s, dy = rng.standard_normal((batch, 5, 8)), rng.standard_normal(batch), rng.standard_normal((batch, 5, 8))
    results = []
    for workers in (1, 2):
        model.batch_workers = workers
        model.zero_grad()
        y = model.forward(x, s)
        results.append((y, model.backward(dy), model.parameter_buffers()[1].copy()))
    for serial, split in zip(*results):
        np.testing.assert_allclose(split, serial, rtol=1e-10, atol=1e-12)
    model.parameter_buffers()[0][:] += 0.1  # replicas see parameter updates (they share the arrays)
    model.batch_workers = 2
    split = model.forward(x, s)
    model.batch_workers = 1
    np.testing.assert_allclose(split, model.forward(x, s), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("workers", [1, 2])
def test_predict_gives_forwards_output_and_keeps_nothing_for_backward(rng, workers):
    """Inference takes each worker's part in blocks of ROWS_PER_BLOCK trajectories: the same output."""
    from minipgd.nn.unet import MIN_ROWS_PER_WORKER, ROWS_PER_BLOCK

    model = small_unet(rng, dtype=np.float64)
    model.batch_workers = workers
    batch = max(2 * ROWS_PER_BLOCK, MIN_ROWS_PER_WORKER) * workers + 5  # more than one block per part, a short last
    x, s = rng.standard_normal((batch, 5, 8)), rng.standard_normal(batch)
    expected = model.forward(x, s)
    np.testing.assert_allclose(model.predict(x, s), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match="predict"):
        model.backward(expected)
    model.forward(x[:3], s[:3])  # a forward pass makes backward possible again
    assert model.backward(np.ones((3, 5, 8))).shape == (3, 5, 8)


@pytest.mark.parametrize(
    "x_shape, sigma_shape, message",
    [
        ((5, 8), (5,), r"shape \(B, C, H\)"),
        ((2, 7, 8), (2,), "7 channels, the model expects 5"),
        ((2, 5, 12), (2,), "length 12, the model was built for horizon 8"),
        ((2, 5, 8), (3,), "one value per trajectory"),
    ],
)
def test_bad_shapes_are_rejected(rng, x_shape, sigma_shape, message):
    with pytest.raises(ValueError, match=message):
        small_unet(rng).forward(np.zeros(x_shape), np.zeros(sigma_shape))


def test_nan_input_is_rejected(rng):
    x = np.zeros((2, 5, 8))
    x[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small_unet(rng).forward(x, np.zeros(2))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"features": 12}, "multiple of 8"),
        ({"horizon": 3}, "too short"),
        ({"activation": "tanh"}, "activation must be one of"),
        ({"groups": 3}, "GroupNorm groups"),
    ],
)
def test_bad_configs_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        UNetConfig(**{"in_channels": 5, "horizon": 8, "features": 16, **overrides})
