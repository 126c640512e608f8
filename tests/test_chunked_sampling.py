"""Sampling in chunks (`chunk_size`) gives the unchunked samples: chunking moves no random number.

Bit for bit as long as the denoiser computes every trajectory the same way whatever
batch it comes in. minipgd's U-Net does up to BLAS: OpenBLAS may round a matrix
product of a few rows differently from the same rows inside a taller one. The first
test therefore runs the U-Net one trajectory at a time (the same BLAS shapes however
the sampler chunks), the second the batched U-Net, equal up to float32 rounding.
"""
import numpy as np
import pytest

from minipgd.diffusion import TrajectoryDiffusion, TrajectoryLayout, TrajectoryNormalizer
from minipgd.diffusion.denoiser import Denoiser
from minipgd.diffusion.sampler import MIN_CHUNK, batch_chunks
from minipgd.nn import TemporalUNet, UNetConfig
from minipgd.rl import GoalReachingPolicy

LAYOUT = TrajectoryLayout(obs_dim=2, act_dim=2)
POLICIES = [None, GoalReachingPolicy(goal=[1.0, -1.0], gain=2.0, std=0.5)]  # unguided, guided
CHUNK_SIZES = (1, 3, 7, 100)


def tiny_model():
    rng = np.random.default_rng(0)
    unet = TemporalUNet(UNetConfig(in_channels=LAYOUT.channels, horizon=4, features=16, dim_mults=(1, 2)), rng)
    normalizer = TrajectoryNormalizer(LAYOUT, rng.standard_normal(LAYOUT.channels), 0.5 + rng.random(LAYOUT.channels),
                                      squash_actions=True)
    return TrajectoryDiffusion(unet, normalizer)


def sample(model, policy, chunk_size):
    return model.sample(7, np.random.default_rng(5), policy=policy, scale=0.5, n_steps=6, chunk_size=chunk_size)


@pytest.mark.parametrize("policy", POLICIES)
def test_chunked_sampling_equals_unchunked_bit_for_bit(policy):
    model = tiny_model()
    batched = model.denoiser
    one_at_a_time = lambda x, sigma: np.concatenate([batched(x[i : i + 1], sigma) for i in range(len(x))])  # noqa: E731
    model.denoisers = lambda: [one_at_a_time]
    unchunked = sample(model, policy, None)
    assert np.all(np.isfinite(unchunked))
    for chunk_size in CHUNK_SIZES:
        np.testing.assert_array_equal(sample(model, policy, chunk_size), unchunked, err_msg=f"chunk_size={chunk_size}")


@pytest.mark.parametrize("policy", POLICIES)
def test_chunked_sampling_with_the_batched_unet_agrees_to_float32_rounding(policy):
    model = tiny_model()
    unchunked = sample(model, policy, None)
    for chunk_size in CHUNK_SIZES:
        np.testing.assert_allclose(sample(model, policy, chunk_size), unchunked, rtol=1e-4, atol=1e-4,
                                   err_msg=f"chunk_size={chunk_size}")


@pytest.mark.parametrize("policy", POLICIES)
def test_copies_of_the_denoiser_share_the_chunks_and_give_the_same_samples(policy):
    """Each step's chunks are shared among copies of the denoiser (side by side on worker threads): copy k takes
    chunks k, k + 2, ...; every chunk's arithmetic is the same as with one denoiser."""
    model = tiny_model()
    seen = {0: [], 1: []}

    def copy(k, denoise):
        def call(x, sigma):
            seen[k].append(len(x))
            return denoise(x, sigma)
        return call

    batch = 2 * MIN_CHUNK + 6
    single = model.sample(batch, np.random.default_rng(5), policy=policy, scale=0.5, n_steps=3, chunk_size=None)
    model.denoisers = lambda: [copy(k, Denoiser(net)) for k, net in enumerate(model.unet.replicas(2))]
    shared = model.sample(batch, np.random.default_rng(5), policy=policy, scale=0.5, n_steps=3, chunk_size=None)
    np.testing.assert_allclose(shared, single, rtol=1e-5, atol=1e-5)
    assert seen[0] == seen[1] == [batch // 2] * 5  # 3 steps, the last without the Heun correction: 5 calls each


@pytest.mark.parametrize("batch, chunk_size, copies, sizes", [
    (10, 4, 1, [3, 3, 4]), (8, 4, 1, [4, 4]), (3, 100, 1, [3]), (520, 512, 1, [260, 260]), (5, None, 1, [5]),
    (1536, 512, 2, [384] * 4),  # 3 chunks of 512 would leave one copy a third idle
    (256, 512, 2, [128, 128]), (200, None, 2, [100, 100]),
    (2 * MIN_CHUNK - 1, None, 2, [2 * MIN_CHUNK - 1]),  # too few to share: one chunk
])
def test_chunks_cover_the_batch_in_order_with_alike_sizes(batch, chunk_size, copies, sizes):
    chunks = batch_chunks(batch, chunk_size, copies)
    assert [c.stop - c.start for c in chunks] == sizes
    assert np.array_equal(np.concatenate([np.arange(batch)[c] for c in chunks]), np.arange(batch))


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size must be positive"):
        tiny_model().sample(2, np.random.default_rng(0), n_steps=2, chunk_size=0)
