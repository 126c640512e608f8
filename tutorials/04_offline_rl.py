# %% [markdown]
# # 04 — Offline RL on real, unguided and policy-guided data (Algorithm 2)
#
# The paper's headline use of policy-guided diffusion (**Sec. 5.2**, **Table 2**): an
# offline agent (here TD3+BC) is trained on synthetic trajectories that are
# regenerated as the agent improves, each generation guided towards the agent's
# current policy (**Algorithm 2**). We compare three sources of training data on
# maze2d-umaze:
#
# * **real**: the offline dataset itself (plain TD3+BC),
# * **unguided**: samples of a trajectory diffusion model trained on it (λ = 0, SynthER),
# * **guided**: the same model, guided by the current policy with λ = 1.
#
# One seed of each, at a small scale: the curves show the mechanics, not a
# significant difference; `python -m minipgd experiment table2` runs the 4-seed
# comparison (results/table2.md).
#
# Run it with `python tutorials/04_offline_rl.py` (a few minutes on 2 cores), or
# `--fast` for a smoke run.

# %%
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minipgd.rl.policy import target_log_likelihood  # noqa: E402
from minipgd.diffusion import DiffusionTrainConfig, TrajectoryLayout, train_diffusion  # noqa: E402
from minipgd.recipes.collect import collect_dataset  # noqa: E402
from minipgd.envs.dataset import summary  # noqa: E402
from minipgd.envs.registry import make_env  # noqa: E402
from minipgd.diffusion.windows import trajectory_windows  # noqa: E402
from minipgd.nn import UNetConfig  # noqa: E402
from minipgd.experiments.offline_run import run_offline_agent  # noqa: E402
from minipgd.rl.synthetic import Algorithm2Config  # noqa: E402
from run_options import run_options  # noqa: E402

FAST, FIGURES = run_options()
SEED = 0
DATASET = "maze2d-umaze"
TRANSITIONS = 10_000 if FAST else 100_000
DIFFUSION_TRAIN_STEPS = 50 if FAST else 10_000
EPOCHS, STEPS_PER_EPOCH = (2, 50) if FAST else (4, 2_500)  # N_epochs × N_policy (the paper: 4 × 250,000)
TRAJECTORIES = 16 if FAST else 512  # per generation (the paper: 16,384)
SAMPLER_STEPS = 8 if FAST else 64  # the paper: 256
EVAL_EPISODES = 2 if FAST else 10
started = time.perf_counter()

# %% [markdown]
# ## 1. The offline dataset
#
# A waypoint controller drives the point mass between random cells of the U-shaped
# maze (D4RL's recipe); rewards are relabelled to D4RL's fixed evaluation goal.
# Scores are D4RL-normalized: 0 is a random policy, 100 D4RL's expert.

# %%
dataset = collect_dataset(DATASET, TRANSITIONS, seed=SEED, log=lambda _: None)
info = summary(dataset)
print(f"{DATASET}: {info['transitions']} transitions, {info['episodes']} episodes, "
      f"behavior score {info['normalized_score']:.1f}")

# %% [markdown]
# ## 2. The trajectory diffusion model (Sec. 4, Appendix A)
#
# Windows of H = 16 steps (obs, action, reward, done as channels) train the EDM
# denoiser; both synthetic sources share this one model.

# %%
layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
windows = trajectory_windows(dataset, horizon=16)
model = train_diffusion(windows, layout, DiffusionTrainConfig(
    steps=DIFFUSION_TRAIN_STEPS, seed=SEED, log_every=max(DIFFUSION_TRAIN_STEPS // 4, 1),
    unet=UNetConfig(in_channels=layout.channels, horizon=16, features=16 if FAST else 32)))

# %% [markdown]
# ## 3. Algorithm 2 with three sources of data
#
# Every epoch (l. 4) a new synthetic dataset is generated (l. 5): unguided for the
# first epoch (there is no trained policy yet), guided by the current policy after
# that. Each mini-batch holds 240 synthetic and 16 real transitions (l. 7), as in
# the authors' code. The *real* run uses the same number of updates on the
# dataset alone.

# %%
curves, agents = {}, {}
for source in ("real", "unguided", "guided"):
    config = Algorithm2Config(source=source, guidance_scale=1.0, n_epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
                              n_trajectories=TRAJECTORIES, sampler_steps=SAMPLER_STEPS, eval_every=STEPS_PER_EPOCH,
                              eval_episodes=EVAL_EPISODES)
    print(f"\nTD3+BC on {source} data")
    agents[source], curves[source] = run_offline_agent(dataset, "td3bc", config, SEED, model)

fig, ax = plt.subplots(figsize=(5, 3.6))
colors = {"real": "tab:blue", "unguided": "tab:gray", "guided": "tab:purple"}
for source, history in curves.items():
    steps, scores = zip(*history)
    ax.plot(steps, scores, "o-", color=colors[source], label=source)
ax.axhline(info["normalized_score"], color="k", ls=":", label="behavior data")
ax.set_xlabel("agent updates")
ax.set_ylabel("D4RL normalized score")
ax.set_title(f"TD3+BC on {DATASET}, one seed", fontsize=10)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "tutorial04_learning_curves.png", dpi=120)

# %% [markdown]
# ## 4. What guidance does to the data
#
# With the guided agent's final policy π (TD3+BC's action, guided as N(π(s), 1),
# Sec. 5.1), generate one batch without and one with guidance and compare the mean
# log-likelihood of their actions under π. Drawn over the maze: the guided
# trajectories are the same kind of motion, re-weighted towards what π would do.

# %%
policy = agents["guided"].policy()
samples = {scale: model.sample(TRAJECTORIES, np.random.default_rng(SEED + 1), policy, scale, n_steps=SAMPLER_STEPS)
           for scale in (0.0, 1.0)}
for scale, raw in samples.items():
    print(f"λ = {scale}: mean log π(a|s) of the synthetic actions = {target_log_likelihood(raw, policy, layout):.3f}")
print(f"real windows: {target_log_likelihood(windows, policy, layout):.3f}")

maze = make_env(DATASET).unwrapped.maze
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (scale, raw) in zip(axes, samples.items()):
    for row, cells in enumerate(maze.maze_map):
        for col, wall in enumerate(cells):
            if wall == 1:
                x, y = maze.cell_rowcol_to_xy(np.array([row, col]))
                ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color="0.8"))
    for tau in raw[:60]:
        ax.plot(tau[0], tau[1], color=colors["guided" if scale else "unguided"], alpha=0.5, lw=0.8)
    ax.set_title(f"synthetic trajectories, λ = {scale}", fontsize=10)
    ax.set_aspect("equal")
    ax.set_xlim(-2.6, 2.6)
    ax.set_ylim(-2.6, 2.6)
fig.tight_layout()
fig.savefig(FIGURES / "tutorial04_synthetic_maze.png", dpi=120)

# %% [markdown]
# ## What to take away
#
# * Algorithm 2 is a drop-in change of the *data*: the agent and its update are
#   the ones trained on real data.
# * Guidance raises the likelihood of the synthetic actions under the agent's own
#   policy, while the states still follow the maze's dynamics as the diffusion
#   model learned them.
# * One seed is an anecdote: compare the curves with Table 2's error bars.

# %%
final = {source: history[-1][1] for source, history in curves.items()}
print("\nfinal scores: " + ", ".join(f"{s} {v:.1f}" for s, v in final.items()))
print(f"figures written to {FIGURES}/ (tutorial04_learning_curves.png, tutorial04_synthetic_maze.png)")
print(f"total time {time.perf_counter() - started:.0f} s")
