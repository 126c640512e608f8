"""EDM's stochastic Heun sampler with optional policy guidance: Algorithm 1, line by line.

`denoise(x, sigma)` is any callable returning the denoised estimate D(x; σ) of a
(B, C, H) array, so the sampler can be tested with an exact Gaussian denoiser.
With `guidance=None`, or guidance whose λ is 0, this is exactly the unguided
EDM sampler (Karras et al., 2022, Alg. 2), drawing the same random numbers.

`chunk_size` bounds how many trajectories go through the denoiser at once (its
activations are what fills memory, and smaller batches stay in the CPU's caches).
Each step's noise is still drawn for the whole batch, in the same order, and the
chunks then take that step one after the other, so chunking moves no random number
and changes no trajectory's arithmetic: with a denoiser that computes each
trajectory the same way in any batch, the samples are the same, bit for bit, for
every `chunk_size`. minipgd's U-Net does, up to BLAS: OpenBLAS may round a matrix
product of a few rows differently from the same rows inside a taller one (seen for
batches below ~32 trajectories; 2^14 trajectories in chunks of 512 came out
bit-identical, `benchmarks/sampler.py`).

`denoise` may also be a list of copies of one denoiser that can run at the same
time (each keeps its own state; `TrajectoryDiffusion.denoisers()`): each step's
chunks are then shared among the copies, which take their chunks' whole Heun steps
side by side on worker threads. Every chunk's arithmetic is the same wherever it
runs, so the samples are too.
"""
from functools import partial

import numpy as np

from ..runtime.threads import adapt_threads
from ..runtime.workers import side_by_side
from . import edm

MIN_CHUNK = 64  # trajectories: smaller chunks are cut for the copies of the denoiser only if each keeps this many


def guided_heun_sample(
    denoise,
    shape,
    rng,
    guidance=None,
    n_steps=edm.SAMPLER_STEPS,
    sigma_min=edm.SIGMA_MIN,
    sigma_max=edm.SIGMA_MAX,
    rho=edm.RHO,
    s_churn=edm.S_CHURN,
    s_tmin=edm.S_TMIN,
    s_tmax=edm.S_TMAX,
    s_noise=edm.S_NOISE,
    chunk_size=None,
):
    """Sample trajectories of `shape` (B, C, H); returns τ_N. `chunk_size`: None for the whole batch at once.
    `denoise`: D(x, σ), or a list of copies of it that may run side by side (see above)."""
    denoisers = list(denoise) if isinstance(denoise, (list, tuple)) else [denoise]
    sigmas = edm.karras_sigmas(n_steps, sigma_min, sigma_max, rho)  # σ_0 .. σ_N = 0
    gammas = edm.churn_factors(sigmas, s_churn, s_tmin, s_tmax)  # γ_n (l. 1)
    lambdas = guidance.lambdas(sigmas) if guidance is not None else np.zeros(n_steps)  # λ_n (l. 1)
    chunks = batch_chunks(shape[0], chunk_size, len(denoisers))
    shares = [(copy, chunks[k::len(denoisers)]) for k, copy in enumerate(denoisers)]  # copy k: chunks k, k + K, ..
    shares = [(copy, share) for copy, share in shares if share]
    tau = sigmas[0] * rng.standard_normal(shape)  # l. 3
    for n in range(n_steps):  # l. 4
        eps = s_noise * rng.standard_normal(shape)  # l. 5, for the whole batch
        adapt_threads("sampler", split=True)  # a safe point for the thread policy: the free cores take chunks
        step = partial(heun_step, sigma=sigmas[n], sigma_next=sigmas[n + 1], gamma=gammas[n], lam=lambdas[n],
                       guidance=guidance)
        side_by_side(*(partial(_take_chunks, step, copy, tau, eps, share) for copy, share in shares))
    return tau  # l. 18


def _take_chunks(step, denoise, tau, eps, chunks):
    """l. 6–15 for each of `chunks`, in place in tau, through this copy of the denoiser."""
    for chunk in chunks:
        tau[chunk] = step(denoise, tau[chunk], eps[chunk])


def batch_chunks(batch, chunk_size, copies=1):
    """Slices cutting `batch` trajectories into the fewest chunks of at most `chunk_size` (None: no bound), sized
    alike (±1), their number a multiple of `copies` (of the denoiser, sharing them evenly) where each chunk
    keeps at least MIN_CHUNK trajectories."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be positive or None, got {chunk_size}")
    n_chunks = 1 if chunk_size is None else -(-batch // chunk_size)
    if batch >= copies * MIN_CHUNK:
        n_chunks = -(-n_chunks // copies) * copies
    bounds = [batch * i // n_chunks for i in range(n_chunks + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


def heun_step(denoise, tau, eps, sigma, sigma_next, gamma, lam, guidance):
    """Algorithm 1, l. 6–15: from τ_n at σ_n to τ_{n+1} at σ_{n+1}, given l. 5's noise ε_n."""
    sigma_hat = sigma * (1.0 + gamma)  # l. 6
    tau_hat = tau + np.sqrt(sigma_hat**2 - sigma**2) * eps  # l. 7
    denoised = denoise(tau_hat, sigma_hat)  # l. 8
    d = (tau_hat - denoised) / sigma_hat  # l. 9
    if lam > 0:
        tau_hat = guidance.apply(tau_hat, denoised, lam)  # l. 10–11
    # BEGIN ASSIGNMENT heun-step
    tau_next = tau_hat + (sigma_next - sigma_hat) * d  # l. 12
    if sigma_next != 0:  # l. 13
        d_prime = (tau_next - denoise(tau_next, sigma_next)) / sigma_next  # l. 14
        tau_next = tau_hat + (sigma_next - sigma_hat) * (0.5 * d + 0.5 * d_prime)  # l. 15
    # END ASSIGNMENT
    return tau_next
