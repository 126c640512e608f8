# %% [markdown]
# # 02 — The EDM sampler, step by step
#
# Policy-guided diffusion samples with EDM (Karras et al., 2022; the paper's
# **Sec. 2.2**, **Eq. 2**, **Appendix A.2**). Before any network is involved, this
# tutorial runs the sampler with an *exact* denoiser, so that every number can be
# checked by hand:
#
# 1. the noise schedule σ_0 > … > σ_{N−1}, σ_N = 0 (Karras et al., Eq. 5; **Table 4**),
# 2. the probability-flow ODE of **Eq. 2** and what a denoiser has to do with it,
# 3. Heun's method with and without "churn" (**Algorithm 1**, l. 5–7 and 12–15),
# 4. how many steps are enough (the paper: "diminishing improvement beyond 256").
#
# Run it with `python tutorials/02_edm_sampler.py` (seconds), `--fast` for CI.

# %%
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minipgd.analysis.stats import gaussian_kl  # noqa: E402
from minipgd.diffusion.exact_denoiser import gaussian_denoiser  # noqa: E402
from minipgd.diffusion import edm, guided_heun_sample  # noqa: E402
from run_options import run_options  # noqa: E402

FAST, FIGURES = run_options()
N_SAMPLES = 2_000 if FAST else 20_000
started = time.perf_counter()

# %% [markdown]
# ## 1. The noise schedule (Table 4)
#
# EDM spaces the noise levels evenly in σ^(1/ρ) with ρ = 7, which puts most steps
# at small σ, where the fine detail of the data is decided. σ_max = 80 is far
# larger than the data (standardized to unit variance), so the first sample is
# pure noise; σ_min = 0.002 is far below any detail that matters.

# %%
sigmas = edm.karras_sigmas(16)
print("σ for N = 16:", np.array2string(sigmas, precision=3, max_line_width=100))
print(f"Table 4: σ_max {edm.SIGMA_MAX}, σ_min {edm.SIGMA_MIN}, S_churn {edm.S_CHURN}, "
      f"S_tmin {edm.S_TMIN}, S_tmax {edm.S_TMAX}, S_noise {edm.S_NOISE}")

# %% [markdown]
# ## 2. Eq. 2 needs only a denoiser
#
# Eq. 2, dx = −σ̇ σ ∇ log p(x; σ) dσ, follows the score of the data blurred with
# noise of size σ. Tweedie's formula turns a denoiser into that score:
# ∇ log p(x; σ) = (D(x; σ) − x) / σ², so the ODE step direction is
# d = (x − D(x; σ)) / σ (Alg. 1, l. 9). For Gaussian data N(μ, Σ) the ideal
# denoiser is known exactly: D(x; σ) = μ + Σ (Σ + σ² I)⁻¹ (x − μ).
# We use a 2-D correlated Gaussian, shaped as (B, C = 2, H = 1) "trajectories".

# %%
mu = np.array([1.0, -0.5])
cov = np.array([[1.0, 0.8], [0.8, 1.0]])
denoise = gaussian_denoiser(mu, cov)
x = np.array([[[3.0], [3.0]]])
for sigma in (80.0, 1.0, 0.01):
    print(f"D(x = (3, 3); σ = {sigma:>5}) = {denoise(x, sigma).ravel().round(3)}")
# at σ = 80 the denoiser returns (almost) the mean, at σ = 0.01 (almost) x itself

# %% [markdown]
# ## 3. Heun with and without churn (Algorithm 1)
#
# Each step first adds a little fresh noise (l. 5–7: "churn", γ = min(S_churn/N, √2 − 1)
# inside [S_tmin, S_tmax]), then takes an Euler step (l. 12) and corrects it with
# the average of the two slopes (l. 13–15, Heun's method). Churn makes the
# sampler stochastic and forgiving of errors in the denoiser. With the exact
# denoiser both must reproduce N(μ, Σ); we measure the KL divergence of a
# Gaussian fitted to the samples.

# %%
results = {}
for churn in (0.0, edm.S_CHURN):
    for n_steps in (4, 8, 16, 32, 64):
        samples = guided_heun_sample(denoise, (N_SAMPLES, 2, 1), np.random.default_rng(0), n_steps=n_steps,
                                     s_churn=churn).reshape(-1, 2)
        kl = gaussian_kl(samples.mean(axis=0), np.cov(samples.T), mu, cov)
        results[churn, n_steps] = (samples, kl)
        print(f"S_churn {churn:>4}, N = {n_steps:>2}: mean {samples.mean(axis=0).round(3)}, "
              f"KL(samples || data) = {kl:.4f}")

# %% [markdown]
# With 4 steps both are far off (the jump from σ = 80 is too coarse). Without
# churn the deterministic Heun solver reaches KL ≈ 0.009 at N = 16 and the
# sampling-error floor (≈ 1e-4 for 20,000 samples) at N = 64; with churn each step
# adds noise that later steps must remove, so it needs about twice the steps for
# the same accuracy (0.005 at N = 32, 0.001 at N = 64). The paper still churns
# (Table 4) because a learned denoiser is never exact, and uses N = 256.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
axes[0].semilogy(range(len(sigmas) - 1), sigmas[:-1], "o-")
axes[0].set_xlabel("step n")
axes[0].set_ylabel("σ_n")
axes[0].set_title("Karras schedule, N = 16 (ρ = 7)")
for churn, marker in ((0.0, "o-"), (edm.S_CHURN, "s-")):
    steps = [n for (c, n) in results if c == churn]
    axes[1].loglog(steps, [max(results[churn, n][1], 1e-5) for n in steps], marker, label=f"S_churn = {churn:g}")
axes[1].set_xscale("log", base=2)
axes[1].set_xticks(steps, [str(n) for n in steps])
axes[1].minorticks_off()
axes[1].set_xlabel("sampler steps N")
axes[1].set_ylabel("KL(samples ‖ data)")
axes[1].set_title("accuracy against the number of steps")
axes[1].legend()
samples = results[edm.S_CHURN, 64][0]
axes[2].scatter(samples[:1000, 0], samples[:1000, 1], s=2, alpha=0.4)
axes[2].set_title("N = 64 with churn; data 1σ, 2σ")
angles = np.linspace(0, 2 * np.pi, 100)
chol = np.linalg.cholesky(cov)
for radius in (1, 2):
    ellipse = mu[:, None] + radius * chol @ np.stack([np.cos(angles), np.sin(angles)])
    axes[2].plot(*ellipse, "k")
axes[2].set_aspect("equal")
fig.tight_layout()
fig.savefig(FIGURES / "tutorial02_edm_sampler.png", dpi=120)
print(f"\nfigure written to {FIGURES / 'tutorial02_edm_sampler.png'}; total time {time.perf_counter() - started:.0f} s")
