"""EDM pieces: σ schedule, churn, preconditioning, the denoiser's backward and the loss."""
import numpy as np
import pytest

from minipgd.diffusion import edm
from minipgd.diffusion.denoiser import Denoiser, edm_loss
from minipgd.nn import TemporalUNet, UNetConfig
from minipgd.nn.gradcheck import central_difference, check_gradients
from minipgd.nn.layers import Mish
from minipgd.nn.mlp import MLP
from minipgd.nn.module import Module


def test_karras_schedule_ends_and_appended_zero():
    sigmas = edm.karras_sigmas(256)
    assert sigmas.shape == (257,)
    assert sigmas[0] == pytest.approx(edm.SIGMA_MAX) and sigmas[255] == pytest.approx(edm.SIGMA_MIN)
    assert sigmas[-1] == 0.0 and np.all(np.diff(sigmas) < 0)


def test_karras_schedule_is_linear_in_sigma_to_the_one_over_rho():
    root = edm.karras_sigmas(10)[:-1] ** (1 / edm.RHO)
    np.testing.assert_allclose(np.diff(root), np.diff(root)[0])


def test_churn_only_inside_its_noise_window():
    sigmas = edm.karras_sigmas(256)
    gammas = edm.churn_factors(sigmas)
    inside = (sigmas[:-1] >= edm.S_TMIN) & (sigmas[:-1] <= edm.S_TMAX)
    assert np.all(gammas[inside] == pytest.approx(min(80 / 256, np.sqrt(2) - 1)))
    assert np.all(gammas[~inside] == 0) and inside.any() and (~inside).any()


def test_preconditioning_limits():
    c_skip, c_out, c_in, _ = edm.preconditioning(np.array([1e-4, 1e4]))
    np.testing.assert_allclose(c_skip, [1, 0], atol=1e-7)  # small σ: keep the input; large σ: predict
    np.testing.assert_allclose(c_in * np.array([1e-4, 1e4]), [1e-4, 1], rtol=1e-6)
    assert c_out[0] < 1e-3


def test_preconditioning_matches_table_1():
    sigma = np.array([0.1, 0.5, 2.0, 30.0])
    c_skip, c_out, c_in, c_noise = edm.preconditioning(sigma, sigma_data=0.7)
    np.testing.assert_allclose(c_skip, 0.49 / (sigma**2 + 0.49))
    np.testing.assert_allclose(c_out, 0.7 * sigma / np.sqrt(sigma**2 + 0.49))
    np.testing.assert_allclose(c_in, 1.0 / np.sqrt(sigma**2 + 0.49))
    np.testing.assert_allclose(c_noise, 0.25 * np.log(sigma))


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="at least one step"):
        edm.karras_sigmas(0)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        edm.karras_sigmas(10, sigma_min=1.0, sigma_max=0.5)


class _DenoiserAtFixedSigma:
    """The denoiser as a one-input module for the gradient checker."""

    def __init__(self, denoiser, sigma):
        self.denoiser, self.sigma = denoiser, sigma

    def forward(self, x):
        return self.denoiser.forward(x, self.sigma)

    def backward(self, dy):
        return self.denoiser.backward(dy)

    def zero_grad(self):
        self.denoiser.network.zero_grad()

    def named_parameters(self):
        return self.denoiser.network.named_parameters()


def tiny_denoiser(rng):
    return Denoiser(TemporalUNet(UNetConfig(in_channels=4, horizon=8, features=16), rng, dtype=np.float64))


class _PerStepNetwork(Module):
    """F(z; c_noise) = MLP([z_t, c_noise]) at each time step t: no convolution or GroupNorm, so the
    preconditioning's gradient check does not depend on those layers' assignments."""

    def __init__(self, channels, rng):
        super().__init__()
        self.mlp = MLP((channels + 1, 16, channels), rng, dtype=np.float64, activation=Mish)
        self.dtype = np.float64

    def forward(self, z, c_noise):
        noise = np.broadcast_to(np.reshape(c_noise, (-1, 1, 1)), (z.shape[0], z.shape[2], 1))
        return self.mlp.forward(np.concatenate([z.transpose(0, 2, 1), noise], axis=2)).transpose(0, 2, 1)

    def backward(self, dy):
        return self.mlp.backward(dy.transpose(0, 2, 1))[:, :, :-1].transpose(0, 2, 1)  # drop the c_noise column


def test_denoiser_backward_through_preconditioning(rng):
    module = _DenoiserAtFixedSigma(Denoiser(_PerStepNetwork(4, rng)), np.array([0.05, 1.0, 30.0]))
    errors = check_gradients(module, [rng.standard_normal((3, 4, 8))], rng)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, f"{worst}: {errors[worst]:.2e}"


def test_edm_loss_gradient_matches_finite_differences(rng):
    denoiser = tiny_denoiser(rng)
    x0 = rng.standard_normal((4, 4, 8))
    name, param, grad = denoiser.network.named_parameters()[3]

    def loss():  # the same σ and noise every call
        return edm_loss(denoiser, x0, np.random.default_rng(7))

    denoiser.network.zero_grad()
    loss()
    analytic = grad.copy().ravel()[:10]
    numeric = [central_difference(loss, param, i) for i in range(10)]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_denoiser_rejects_non_positive_sigma(rng):
    with pytest.raises(ValueError, match="sigma > 0"):
        tiny_denoiser(rng)(np.zeros((1, 4, 8)), 0.0)
