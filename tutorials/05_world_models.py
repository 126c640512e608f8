# %% [markdown]
# # 05 — Autoregressive world models against policy-guided diffusion (Sec. 3, Sec. 5.3)
#
# Two ways to make on-policy synthetic data from an offline dataset:
#
# * **autoregressive** (Sec. 3.1): learn a one-step model T(s'|s, a; θ) — here a PETS
#   ensemble of probabilistic MLPs — start from dataset states (Eq. 5) and roll the
#   target policy out for a few steps (Eq. 6);
# * **direct** (Sec. 3.2, Sec. 4): model whole trajectories with diffusion and guide
#   their actions towards the target policy (Algorithm 1).
#
# Sec. 5.3 compares them with two proxies, both computed here on halfcheetah-medium:
# the mean log-likelihood of the synthetic actions under the target policy (Fig. 5)
# and the *dynamics error*, the squared difference between the synthetic states and
# the states the real simulator reaches from the same first state with the same
# actions (Fig. 6).
#
# The target policy is minipgd's committed "expert" HalfCheetah actor (a TD3 run,
# out of distribution for the medium data), as a Gaussian N(π(s), 0.1²).
# `python -m minipgd experiment section53` runs the paper's full version (IQL targets,
# several seeds); this tutorial is one seed of it, explained.
#
# Run it with `python tutorials/05_world_models.py` (a few minutes on 2 cores), or
# `--fast` for a smoke run.

# %%
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minipgd.analysis.dynamics_error import dynamics_error  # noqa: E402
from minipgd.rl.policy import target_log_likelihood  # noqa: E402
from minipgd.diffusion import DiffusionTrainConfig, TrajectoryLayout, train_diffusion  # noqa: E402
from minipgd.recipes.behavior import POLICY_DIR  # noqa: E402
from minipgd.recipes.collect import collect_dataset  # noqa: E402
from minipgd.envs.registry import make_env  # noqa: E402
from minipgd.diffusion.windows import trajectory_windows  # noqa: E402
from minipgd.nn import UNetConfig  # noqa: E402
from minipgd.rl import DeterministicGaussianPolicy  # noqa: E402
from minipgd.rl.td3 import load_actor  # noqa: E402
from minipgd.world_models import EnsembleConfig, train_ensemble, truncated_rollouts  # noqa: E402
from run_options import run_options  # noqa: E402

FAST, FIGURES = run_options()
SEED = 0
H = 16  # trajectory length: 16 states, as in Fig. 6
TRANSITIONS = 5_000 if FAST else 100_000
DIFFUSION_TRAIN_STEPS = 50 if FAST else 20_000
FEATURES = 16 if FAST else 64  # U-Net width: F = 32 has ~4x the dynamics error (results/diffusion_fidelity.md)
WORLD_MODEL_STEPS = 50 if FAST else 3_000
N_TRAJECTORIES = 16 if FAST else 256
SAMPLER_STEPS = 8 if FAST else 64
LAMBDAS = (0.0, 1.0) if FAST else (0.0, 0.3, 1.0, 3.0)
started = time.perf_counter()

# %% [markdown]
# ## 1. Data, target policy, and the two generative models
#
# Both models see the same 100k transitions of halfcheetah-medium. The PETS
# ensemble has 7 members (4 × 200 swish units) that predict a Gaussian over
# [s' − s, r] with a learned, softly bounded variance; the 5 with the lowest
# held-out error are the *elites*. The diffusion model is the U-Net of Appendix A
# at width F = 64: how faithful a diffusion model is to the dynamics depends
# steeply on its size (`python -m minipgd experiment fidelity`).

# %%
dataset = collect_dataset("halfcheetah-medium", TRANSITIONS, seed=SEED, log=lambda _: None)
layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
expert = load_actor(POLICY_DIR / "halfcheetah-expert.npz")
target = DeterministicGaussianPolicy(expert.act, dataset.obs_dim, dataset.act_dim, std=0.1)

world_model = train_ensemble(dataset.arrays(), EnsembleConfig(steps=WORLD_MODEL_STEPS, seed=SEED,
                                                               eval_every=max(WORLD_MODEL_STEPS // 3, 1)))
windows = trajectory_windows(dataset, horizon=H)
diffusion = train_diffusion(windows, layout, DiffusionTrainConfig(
    steps=DIFFUSION_TRAIN_STEPS, seed=SEED, log_every=max(DIFFUSION_TRAIN_STEPS // 3, 1),
    unet=UNetConfig(in_channels=layout.channels, horizon=H, features=FEATURES)))

# %% [markdown]
# ## 2. Synthetic trajectories
#
# PETS: start states drawn from the dataset (Eq. 5), then a ~ π(·|s) and
# s', r ~ T(·|s, a; θ) with a random elite per step (Eq. 6), for H − 1 steps.
# PGD: whole trajectories from Algorithm 1 at several guidance strengths λ.

# %%
rng = np.random.default_rng(SEED + 1)
starts = dataset.observations[rng.integers(0, len(dataset.observations), N_TRAJECTORIES)]
synthetic = {"PETS": truncated_rollouts(world_model, target, starts, H, rng, layout)}
for scale in LAMBDAS:
    synthetic[f"PGD λ = {scale:g}"] = diffusion.sample(N_TRAJECTORIES, np.random.default_rng(SEED + 2), target, scale,
                                                       n_steps=SAMPLER_STEPS)

# %% [markdown]
# ## 3. The two proxies of Sec. 5.3
#
# Likelihood: mean log π(a_t|s_t) over every synthetic transition. Dynamics error:
# `dynamics_error` puts the real MuJoCo simulator in each trajectory's first state
# (`set_state_from_observation`), replays the synthetic actions open loop and
# returns the squared state error per step (step 0 is exact by construction).

# %%
env = make_env("HalfCheetah-v5")
rows = {}
print(f"\n{'data':>12}  log π(a|s)  dynamics MSE (steps 1–{H - 1})")
print(f"{'real data':>12}  {target_log_likelihood(windows, target, layout):10.2f}  {0.0:10.4f}")
for name, raw in synthetic.items():
    error = dynamics_error(env, raw, layout)
    rows[name] = (target_log_likelihood(raw, target, layout), error.mean(axis=0))
    print(f"{name:>12}  {rows[name][0]:10.2f}  {rows[name][1][1:].mean():10.4f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
pgd = [name for name in rows if name.startswith("PGD")]
left.plot([float(n.split("= ")[1]) for n in pgd], [rows[n][0] for n in pgd], "o-", color="tab:purple",
          label="policy-guided diffusion")
left.axhline(rows["PETS"][0], color="tab:orange", ls="--", label="PETS rollouts")
left.set_xscale("symlog", linthresh=0.3)
left.set_xlabel("guidance coefficient λ")
left.set_ylabel("mean log π_target(a|s)")
left.legend(fontsize=8)
for name, (_, error) in rows.items():
    style = dict(color="tab:orange") if name == "PETS" else {}
    right.plot(np.arange(H), error, label=name, **style)
right.set_yscale("log")
right.set_xlabel("rollout step")
right.set_ylabel("dynamics MSE (real simulator)")
right.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "tutorial05_world_models.png", dpi=120)

# %% [markdown]
# ## What to take away
#
# * PETS samples its actions from the target policy itself, so its likelihood is
#   the policy's own; guidance has to *move* the diffusion model's actions there,
#   and λ sets how far (Fig. 5).
# * PETS' error compounds with every step of its own predictions (the curve
#   rises from step 1); a diffusion sample is generated all at once, and its error
#   is decided by how well the model learned the dynamics. At this scale PETS
#   still has the lower error (so does Section 5.3's full run); the paper's claim
#   that PGD's is lower needs a larger diffusion model than a CPU tutorial trains.

# %%
print(f"figure written to {FIGURES}/tutorial05_world_models.png")
print(f"total time {time.perf_counter() - started:.0f} s")
