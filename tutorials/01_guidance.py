# %% [markdown]
# # 01 — Policy-guided diffusion in a 2-D world
#
# Jackson et al. (2024), *Policy-Guided Diffusion*, in one script. We
#
# 1. build the illustrative 2-D world of **Fig. 2** and a behavior dataset,
# 2. train a trajectory diffusion model on it (**Sec. 4**, **Appendix A**),
# 3. sample trajectories without and with policy guidance (**Algorithm 1**),
# 4. roll the target policy out in a truncated world model (**Sec. 3.1**, Eq. 5–6),
#    the autoregressive alternative,
# 5. draw the Fig. 2 analog and the target-policy likelihood against λ (**Fig. 5**),
# 6. compare guided samples with the behavior-regularized target of **Eq. 13** on a
#    Gaussian toy where everything is known exactly (**Fig. 3**).
#
# Run it with `python tutorials/01_guidance.py` (about a minute on 2 cores), or
# `python tutorials/01_guidance.py --fast` (or `MINIPGD_FAST=1`) for a smoke run.
# Figures are written to `figures/`; a `--fast` run writes them to a temporary folder
# (or `MINIPGD_FIGURES`) and prints where.

# %%
import time

import matplotlib

matplotlib.use("Agg")  # write files, never open windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minipgd.analysis.behavior_regularized import LinearGaussianPolicy, behavior_regularized_target  # noqa: E402
from minipgd.analysis.stats import gaussian_kl  # noqa: E402
from minipgd.diffusion.exact_denoiser import gaussian_denoiser  # noqa: E402
from minipgd.rl.policy import target_log_likelihood  # noqa: E402
from minipgd.diffusion import (  # noqa: E402
    DiffusionTrainConfig,
    TrajectoryLayout,
    TrajectoryNormalizer,
    guided_heun_sample,
    score_guided_denoiser,
    train_diffusion,
)
from minipgd.diffusion.windows import windows_to_transitions  # noqa: E402
from minipgd.envs import PointWorld2D  # noqa: E402
from minipgd.experiments.toy2d import (  # noqa: E402
    LAYOUT,
    behavior_trajectories,
    one_step_error,
    policy_trajectories,
    target_policy,
)
from minipgd.nn import UNetConfig  # noqa: E402
from minipgd.world_models import EnsembleConfig, train_ensemble, truncated_rollouts  # noqa: E402
from run_options import run_options  # noqa: E402

FAST, FIGURES = run_options()
SEED = 0
# Scaled for a CPU (the paper: F = 1024, 250 dataset epochs, 256 sampling steps).
EPISODES = 300 if FAST else 4000
TRAIN_STEPS = 200 if FAST else 8000
FEATURES = 16 if FAST else 32
SAMPLER_STEPS = 12 if FAST else 64  # the paper finds little gain beyond 256 (App. A.2)
N_SAMPLES = 64 if FAST else 256
LAMBDAS = [0.0, 0.1, 0.3, 1.0] if FAST else [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
SHOWN_LAMBDAS = (0.3, 1.0)  # the guided panels of Fig. 2
ROLLOUT_K = 5  # truncated world-model rollouts: "typically k ≤ 5" (Sec. 3.1)
WORLD_MODEL_STEPS = 100 if FAST else 2000
started = time.perf_counter()

# %% [markdown]
# ## 1. The world and its behavior dataset (Sec. 5.1, Fig. 2)
#
# A point starts at the origin and moves by `s' = s + 0.1 a`. The *behavior*
# policy steers, noisily, to a goal above the x-axis; the *target* policy we want
# data for steers to a goal below it. Offline RL only sees the behavior data.

# %%
world = PointWorld2D()
rng = np.random.default_rng(SEED)
behavior = behavior_trajectories(world, EPISODES, rng)  # (N, C, H): x, y, a_x, a_y, reward, done
target = target_policy(world)
target_rollouts = policy_trajectories(world, target, N_SAMPLES, rng)
print(f"behavior dataset: {behavior.shape[0]} trajectories of H = {behavior.shape[2]}, {LAYOUT.describe()}")

# %% [markdown]
# ## 2. Train the trajectory diffusion model (Sec. 4, Appendix A)
#
# Whole trajectories are stacked as channels (obs, action, reward, done) and a
# 1-D U-Net learns EDM's denoiser D_θ(τ; σ) on them. Training prints progress.

# %%
config = DiffusionTrainConfig(
    steps=TRAIN_STEPS,
    batch_size=64,
    log_every=max(TRAIN_STEPS // 4, 1),
    seed=SEED,
    unet=UNetConfig(in_channels=LAYOUT.channels, horizon=world.horizon, features=FEATURES),
)
model = train_diffusion(behavior, LAYOUT, config)

# %% [markdown]
# ## 3. Sample with and without policy guidance (Algorithm 1)
#
# At every denoising step the sampler takes the target policy's closed-form
# gradient ∇_a log π(a|s) at the *denoised* estimate (l. 10), scales it to a unit
# vector per trajectory (l. 11) and nudges the *noised* actions by λ_n times that,
# with λ_n the cosine schedule of Eq. 14. λ = 0 is plain EDM sampling (SynthER).

# %%
def sample(scale):
    return model.sample(N_SAMPLES, np.random.default_rng(SEED + 1), policy=target, scale=scale, n_steps=SAMPLER_STEPS)


samples = {scale: sample(scale) for scale in sorted(set(LAMBDAS) | set(SHOWN_LAMBDAS))}

# %% [markdown]
# ## 4. The autoregressive alternative: a truncated world model (Sec. 3.1)
#
# Model-based methods learn a one-step model T(s'|s, a; θ) from the same data (here
# a PETS ensemble: 7 probabilistic MLPs, 5 elites), start from states of the
# offline data (Eq. 5) and roll the target policy out for only k steps (Eq. 6),
# because errors compound. The rollouts can follow the target policy, but they stay
# anchored to where the behavior policy went.

# %%
world_model = train_ensemble(
    windows_to_transitions(behavior, LAYOUT),
    EnsembleConfig(hidden=(64, 64), steps=WORLD_MODEL_STEPS, eval_every=max(WORLD_MODEL_STEPS // 4, 1), seed=SEED),
)
model_rng = np.random.default_rng(SEED + 2)
anchors = behavior[model_rng.integers(0, len(behavior), N_SAMPLES), :, model_rng.integers(0, world.horizon, N_SAMPLES)]
rollouts = truncated_rollouts(world_model, target, anchors[:, LAYOUT.obs], ROLLOUT_K, model_rng, LAYOUT)

# %% [markdown]
# ## 5. Fig. 2 analog
#
# Left to right: target-policy rollouts in the real world, the behavior data,
# truncated world-model rollouts (short pieces that start on the behavior data),
# unguided diffusion (more samples of the same distribution), and policy-guided
# diffusion at two strengths, pulled towards the target goal (red ×).

# %%
def draw(ax, trajectories, title, color):
    for tau in trajectories[:80]:
        ax.plot(tau[0], tau[1], color=color, alpha=0.25, lw=0.8)
    ax.plot(*world.start, "ko", ms=6)
    ax.plot(*world.behavior_goal, "x", color="tab:blue", ms=10, mew=3)
    ax.plot(*world.target_goal, "x", color="tab:red", ms=10, mew=3)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.4, 1.8)
    ax.set_ylim(-1.2, 1.6)
    ax.set_aspect("equal")


panels = 4 + len(SHOWN_LAMBDAS)
fig, axes = plt.subplots(1, panels, figsize=(3.5 * panels, 3.8))
draw(axes[0], target_rollouts, "target policy (real rollouts)", "tab:red")
draw(axes[1], behavior, "offline data (behavior policy)", "tab:blue")
draw(axes[2], rollouts, f"truncated world model (k = {ROLLOUT_K})", "tab:orange")
draw(axes[3], samples[0.0], "unguided diffusion (λ = 0)", "tab:gray")
for ax, scale in zip(axes[4:], SHOWN_LAMBDAS):
    draw(ax, samples[scale], f"policy-guided diffusion (λ = {scale})", "tab:purple")
fig.tight_layout()
fig.savefig(FIGURES / "fig2_trajectories.png", dpi=120)

# %% [markdown]
# ## 6. Fig. 5 analog: target-policy likelihood against λ
#
# Sec. 5.3 measures the mean log-likelihood log π(a_t|s_t) of synthetic actions
# under the target policy. Here we also have the true dynamics, so we can report
# the one-step error ||s_{t+1} − (s_t + 0.1 a_t)|| of every synthetic transition
# (an L2 norm; Sec. 5.3's "dynamics error" on MuJoCo is an open-loop MSE).

# %%
rows = [(scale, target_log_likelihood(s, target, LAYOUT), one_step_error(world, s)) for scale, s in samples.items()]
print("\n   λ    log π(a|s)   one-step error   (mean over transitions)")
for scale, ll, err in rows:
    print(f"{scale:5.2f}   {ll:10.3f}   {err:12.4f}")
references = {
    "behavior data": target_log_likelihood(behavior, target, LAYOUT),
    "target rollouts": target_log_likelihood(target_rollouts, target, LAYOUT),
    "world model": target_log_likelihood(rollouts, target, LAYOUT),
}
for name, value in references.items():
    print(f"{name:>15}: log π(a|s) = {value:.3f}")
print(f"    world model: one-step error {one_step_error(world, rollouts):.4f} (k = {ROLLOUT_K} steps)")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
scales = [r[0] for r in rows]
left.plot(scales, [r[1] for r in rows], "o-", color="tab:purple", label="policy-guided diffusion")
left.axhline(references["target rollouts"], color="tab:red", ls="--", label="target rollouts")
left.axhline(references["behavior data"], color="tab:blue", ls="--", label="behavior data")
left.axhline(references["world model"], color="tab:orange", ls=":", label=f"world model (k = {ROLLOUT_K})")
left.set_xscale("symlog", linthresh=0.05)
left.set_xlim(left=0)
left.set_xlabel("guidance coefficient λ")
left.set_ylabel("mean log π_target(a|s)")
left.legend(fontsize=8)
right.plot(scales, [r[2] for r in rows], "o-", color="tab:purple")
right.axhline(one_step_error(world, rollouts), color="tab:orange", ls=":")
right.set_xscale("symlog", linthresh=0.05)
right.set_xlim(left=0)
right.set_xlabel("guidance coefficient λ")
right.set_ylabel("one-step error ||s' − (s + 0.1 a)||")
fig.tight_layout()
fig.savefig(FIGURES / "tutorial01_likelihood.png", dpi=120)

# %% [markdown]
# ## 7. Fig. 3 analog: how close is guided sampling to Eq. 13?
#
# Sec. 4.1 argues that guided sampling approaches the behavior-regularized target
# F(τ|π; λ) ∝ p_off(τ) · q_target(τ)^λ (Eq. 13). On a Gaussian toy we can check:
# a one-step "trajectory" (s, a) with p_off Gaussian and a linear-Gaussian target
# policy makes F Gaussian with a closed form, and the denoiser of p_off is exact,
# so every discrepancy below is due to the guidance approximation itself. We use
# the exact-score mode (Eq. 12, λ ∇ log q added to the score without normalization;
# noise-aware so that large σ stay stable) for two target policies: one whose mean
# ignores the state (K = 0) and one that depends on it (K = 0.8), where Eq. 11's
# choice to drop the state gradient matters.

# %%
toy_layout = TrajectoryLayout(obs_dim=1, act_dim=1)  # channels: s, a, reward, done; H = 1
mu = np.array([0.0, 0.5, 0.0, 0.0])
cov = np.eye(4)
cov[0, 1] = cov[1, 0] = 0.6
identity = TrajectoryNormalizer(toy_layout, np.zeros(4), np.ones(4), squash_actions=False)
toy_scales = [0.25, 1.0, 4.0]
toy_samples = 2000 if FAST else 20000
toy_steps = 64  # the exact denoiser is cheap: always sample the toy finely
print("\nEq. 13 toy: guided samples (exact-score mode) vs the analytic F(τ|π; λ), over (s, a)")
print("  K     λ    mean s (F / samples)   mean a (F / samples)   std a (F / samples)   KL(samples || F)")
fig, axes = plt.subplots(2, 3, figsize=(11, 7), sharex=True, sharey=True)
grid = np.linspace(-3.5, 3.5, 120)
S, A = np.meshgrid(grid, grid)
for row, gain in enumerate([0.0, 0.8]):
    policy = LinearGaussianPolicy([[gain]], offset=-1.0, std=0.5)
    for col, scale in enumerate(toy_scales):
        mean_f, cov_f = behavior_regularized_target(mu, cov, policy, toy_layout, 1, scale)
        denoise = score_guided_denoiser(gaussian_denoiser(mu, cov), policy, identity, scale)
        x = guided_heun_sample(denoise, (toy_samples, 4, 1), np.random.default_rng(SEED), n_steps=toy_steps)
        sa = x.reshape(-1, 4)[:, :2]
        mean_s, cov_s = sa.mean(axis=0), np.cov(sa.T)
        kl = gaussian_kl(mean_s, cov_s, mean_f[:2], cov_f[:2, :2])
        print(
            f"{gain:4.1f} {scale:5.2f}   {mean_f[0]:7.3f} / {mean_s[0]:7.3f}      {mean_f[1]:7.3f} / {mean_s[1]:7.3f}"
            f"      {np.sqrt(cov_f[1, 1]):6.3f} / {np.sqrt(cov_s[1, 1]):6.3f}      {kl:8.4f}"
        )
        ax = axes[row, col]
        points = np.stack([S, A], axis=-1) - mean_f[:2]
        inv = np.linalg.inv(cov_f[:2, :2])
        density = np.exp(-0.5 * np.einsum("...i,ij,...j->...", points, inv, points))
        off = np.stack([S, A], axis=-1) - mu[:2]
        density_off = np.exp(-0.5 * np.einsum("...i,ij,...j->...", off, np.linalg.inv(cov[:2, :2]), off))
        ax.contour(S, A, density_off, levels=[0.1, 0.5], colors="tab:blue", linewidths=1)
        ax.plot(grid, gain * grid - 1.0, color="tab:red", lw=1, ls="--")
        ax.scatter(sa[:400, 0], sa[:400, 1], s=3, color="tab:purple", alpha=0.4)
        ax.contour(S, A, density, levels=[0.1, 0.5], colors="black", linewidths=1.2)
        ax.set_title(f"K = {gain}, λ = {scale}, KL = {kl:.3f}", fontsize=9)
        ax.set_xlabel("state s")
        ax.set_ylabel("action a")
fig.suptitle("blue: p_off   red dashes: target mean a = K s − 1   black: Eq. 13 F(τ|π; λ)   dots: guided samples", fontsize=9)
fig.tight_layout()
fig.savefig(FIGURES / "fig3_behavior_regularized.png", dpi=120)

# %% [markdown]
# ## What to take away
#
# * Guidance raises the target policy's likelihood of the synthetic actions
#   smoothly with λ, from the behavior data's level past that of real target
#   rollouts (the guided actions sit at the policy mean, real rollouts are noisy).
# * The price is dynamics error: beyond small λ the actions move faster than the
#   states that should follow them. Small λ is the useful regime, which is why
#   Eq. 13's regularization towards the behavior data matters.
# * On the Gaussian toy, guided samples move the *actions* as Eq. 13 says but
#   under-move the *states* correlated with them, and a state-dependent target
#   policy makes it worse, since Eq. 11 drops the state part of the gradient.
#   The KL column measures that gap; it grows with λ.

# %%
print(f"\nfigures written to {FIGURES}/ (fig2_trajectories.png, tutorial01_likelihood.png, fig3_behavior_regularized.png)")
print(f"total time {time.perf_counter() - started:.0f} s")
