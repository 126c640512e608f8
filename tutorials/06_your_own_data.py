# %% [markdown]
# # 06 — Your own data: from plain arrays to a guided agent
#
# Everything in the other tutorials starts from minipgd's dataset recipes. Your
# data comes from somewhere else: a robot log, a simulator minipgd has never
# heard of. This tutorial takes an environment minipgd does not know
# (gymnasium's `Pendulum-v1`), logs a controller in it as plain NumPy arrays, and
# runs the paper's pipeline on them:
#
# 1. arrays -> an `OfflineDataset` (the format `collect` writes);
# 2. a trajectory diffusion model of it (Sec. 4, Appendix A);
# 3. TD3+BC on the real data and on policy-guided synthetic data (Algorithm 2),
#    scored in your own environment;
# 4. the guided synthetic data written as a dataset file, for any other library.
#
# Run it with `python tutorials/06_your_own_data.py` (about 5 minutes on 2 cores),
# or `--fast` for a smoke run.

# %%
import tempfile
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minipgd.diffusion import DiffusionTrainConfig, TrajectoryLayout, train_diffusion  # noqa: E402
from minipgd.diffusion.windows import trajectory_windows  # noqa: E402
from minipgd.envs.dataset import OfflineDataset, load_dataset, origin, save_dataset, summary  # noqa: E402
from minipgd.nn import UNetConfig  # noqa: E402
from minipgd.recipes.synthetic import synthetic_dataset  # noqa: E402
from minipgd.rl import TD3, TD3Config  # noqa: E402
from minipgd.rl.evaluation import evaluate  # noqa: E402
from minipgd.rl.replay import as_float32  # noqa: E402
from minipgd.rl.state_norm import StateNormalizer  # noqa: E402
from minipgd.rl.synthetic import Algorithm2Config, train_agent  # noqa: E402
from run_options import run_options  # noqa: E402

FAST, FIGURES = run_options()
SEED = 0
EPISODES = 10 if FAST else 200  # of 200 steps each
DIFFUSION_TRAIN_STEPS = 50 if FAST else 8_000
EPOCHS, STEPS_PER_EPOCH = (2, 20) if FAST else (3, 3_000)
TRAJECTORIES, SAMPLER_STEPS = (16, 4) if FAST else (512, 32)
EVAL_EPISODES = 2 if FAST else 10
MAX_TORQUE = 2.0  # Pendulum-v1's action box is [-2, 2]
FILES = Path(tempfile.gettempdir()) / "minipgd-tutorial06"  # the dataset files this tutorial writes
FILES.mkdir(exist_ok=True)

# %% [markdown]
# ## 1. Your data, as arrays
#
# A noisy swing-up controller: pump energy by pushing along the motion, balance
# with a PD law near the top. minipgd's model squashes actions through tanh, so
# they must lie in [-1, 1]: store torque / 2 and multiply by 2 when acting
# (`TrajectoryNormalizer.fit` refuses actions outside the box).

# %%
env = gym.make("Pendulum-v1")
rng = np.random.default_rng(SEED)


def controller(obs):
    cos, sin, speed = obs
    angle = np.arctan2(sin, cos)  # 0 = upright
    torque = -8.0 * angle - 1.5 * speed if cos > 0.8 else MAX_TORQUE * np.sign(speed)
    return np.clip(torque / MAX_TORQUE + rng.normal(0.0, 0.3), -1.0, 1.0)  # scaled into [-1, 1]


columns = {name: [] for name in ("observations", "actions", "rewards", "next_observations", "terminations",
                                 "truncations")}
for episode in range(EPISODES):
    obs, _ = env.reset(seed=SEED + episode)
    done = False
    while not done:
        action = controller(obs)
        next_obs, reward, terminated, truncated, _ = env.step([MAX_TORQUE * action])
        for name, value in zip(columns, (obs, [action], reward, next_obs, terminated, truncated)):
            columns[name].append(value)
        obs, done = next_obs, terminated or truncated

# %% [markdown]
# Six arrays and a metadata dict make a dataset: terminations (the MDP ended) and
# truncations (a time-out) are separate flags, as in gymnasium. No reference
# returns: scores are then plain returns. `save_dataset` writes the same `.npz`
# file that `python -m minipgd collect` writes, so every command takes it.

# %%
arrays = {name: np.asarray(values) for name, values in columns.items()}
arrays["terminations"], arrays["truncations"] = arrays["terminations"].astype(bool), arrays["truncations"].astype(bool)
dataset = OfflineDataset(**arrays, metadata={"env_id": "Pendulum-v1", "recipe": "swing-up controller", "seed": SEED,
                                             "n_episodes": EPISODES, "ref_min_return": None, "ref_max_return": None})
save_dataset(FILES / "pendulum.npz", dataset, force=True)
dataset = load_dataset(FILES / "pendulum.npz")
info = summary(dataset)
print(f"{info['transitions']} transitions in {info['episodes']} episodes, behavior return {info['mean_return']:.0f}")

# %% [markdown]
# ## 2. The trajectory diffusion model
#
# `origin(dataset)` records where the data came from in the model, which is what
# lets `synthetic_dataset` (and `python -m minipgd sample`) write its samples as a
# dataset of the same environment.

# %%
layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
windows = trajectory_windows(dataset, horizon=16)
model = train_diffusion(windows, layout, DiffusionTrainConfig(
    steps=DIFFUSION_TRAIN_STEPS, seed=SEED, log_every=max(DIFFUSION_TRAIN_STEPS // 4, 1),
    unet=UNetConfig(in_channels=layout.channels, horizon=16, features=16 if FAST else 32)))
model.data = origin(dataset)

# %% [markdown]
# ## 3. TD3+BC on real and on guided synthetic data (Algorithm 2)
#
# `train_agent` needs only an `evaluate()` callable: here the agent's
# deterministic action, times 2, in your own environment.

# %%
real = as_float32(dataset.arrays())
curves, agents = {}, {}
for source in ("real", "guided"):
    agent_rng = np.random.default_rng(SEED)
    agent = TD3(dataset.obs_dim, dataset.act_dim, agent_rng, TD3Config(alpha=2.5),
                state_norm=StateNormalizer.fit(real["observations"]))
    score = lambda: evaluate(env, lambda obs: MAX_TORQUE * agent.act(obs[None])[0], EVAL_EPISODES,  # noqa: E731
                             agent_rng).mean()
    config = Algorithm2Config(source=source, n_epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
                              n_trajectories=TRAJECTORIES, sampler_steps=SAMPLER_STEPS, eval_every=STEPS_PER_EPOCH,
                              eval_episodes=EVAL_EPISODES)
    print(f"\nTD3+BC on {source} data")
    curves[source] = train_agent(agent, real, config, agent_rng, model=model, evaluate=score)
    agents[source] = agent

# %% [markdown]
# ## 4. Synthetic data for any library
#
# `synthetic_dataset` samples trajectories guided by a policy (λ = 1 here) and
# returns them as an `OfflineDataset`: the file holds plain arrays
# (`np.load(path)["observations"]`, ...), which is all another offline-RL
# library needs (docs/usage.md, "Synthetic data for other libraries").

# %%
synthetic = synthetic_dataset(model, TRAJECTORIES, np.random.default_rng(SEED + 1), SEED + 1,
                              policy=agents["guided"].policy(), scale=1.0, sampler_steps=SAMPLER_STEPS)
save_dataset(FILES / "pendulum-synthetic.npz", synthetic, force=True)
print(f"\nsynthetic: {len(synthetic.rewards)} transitions in {synthetic.metadata['n_episodes']} trajectories, "
      f"written to {FILES / 'pendulum-synthetic.npz'}")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
for data, color, label in ((dataset, "tab:blue", "real"), (synthetic, "tab:purple", "synthetic, guided")):
    angle = np.arctan2(data.observations[:, 1], data.observations[:, 0])
    axes[0].scatter(angle, data.observations[:, 2], s=1, alpha=0.3, color=color, label=label)
axes[0].set_xlabel("angle (0 = upright)")
axes[0].set_ylabel("angular velocity")
axes[0].set_title("states: real and synthetic", fontsize=10)
axes[0].legend(fontsize=8, markerscale=8)
for source, history in curves.items():
    steps, scores = zip(*history)
    axes[1].plot(steps, scores, "o-", label=source, color="tab:blue" if source == "real" else "tab:purple")
axes[1].axhline(info["mean_return"], color="k", ls=":", label="behavior data")
axes[1].set_xlabel("agent updates")
axes[1].set_ylabel("return")
axes[1].set_title("TD3+BC on Pendulum-v1, one seed", fontsize=10)
axes[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "tutorial06_your_own_data.png", dpi=120)
print(f"\nfigure in {FIGURES}, dataset files in {FILES}")
for source, history in curves.items():
    print(f"{source}: final return {history[-1][1]:.0f}")
