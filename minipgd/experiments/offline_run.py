"""One offline-RL run end to end: an agent, its state normalization, Algorithm 2 and normalized scores.

Shared by `python -m minipgd train-agent` and the Table 2 experiment, so that both
train and score an agent the same way.
"""

import numpy as np

from ..envs.dataset import normalized_score
from ..envs.registry import evaluation_reset_options, make_env
from ..rl.evaluation import evaluate
from ..rl.iql import IQL, IQLConfig
from ..rl.replay import as_float32
from ..rl.state_norm import StateNormalizer
from ..rl.synthetic import train_agent
from ..rl.td3 import TD3, TD3Config

ALGORITHMS = ("td3bc", "iql")


def make_agent(algo, real, rng, total_steps):
    """TD3+BC (α = 2.5) or IQL (actor lr decaying over `total_steps`), states normalized with the data's statistics."""
    obs_dim, act_dim = real["observations"].shape[1], real["actions"].shape[1]
    state_norm = StateNormalizer.fit(real["observations"])  # TD3+BC / CORL IQL: normalized states
    if algo == "iql":
        return IQL(obs_dim, act_dim, rng, IQLConfig(max_steps=total_steps), state_norm=state_norm)
    if algo == "td3bc":
        return TD3(obs_dim, act_dim, rng, TD3Config(alpha=2.5), state_norm=state_norm)
    raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algo!r}")


def scorer(agent, metadata, n_episodes, rng):
    """evaluate() -> the D4RL normalized score of the agent's deterministic policy (raw return without references)."""
    env = make_env(metadata["env_id"])
    refs = metadata["ref_min_return"], metadata["ref_max_return"]
    options = evaluation_reset_options(metadata["env_id"])

    def score():
        returns = evaluate(env, lambda obs: agent.act(obs[None])[0], n_episodes, rng, options)
        return normalized_score(returns.mean(), *refs) if refs[0] is not None else returns.mean()

    return score


def run_offline_agent(dataset, algo, config, seed, model=None, checkpoint=None, log=print, timings=None,
                      generations=None, pool=None, provenance=None, inspect=None):
    """Train `algo` on `dataset` with Algorithm 2 (`config`: an Algorithm2Config) -> agent, [(step, score)].

    Every evaluation runs `config.eval_episodes` episodes. A `checkpoint` records the algorithm, seed and
    environment too, and `provenance` (anything else the run depends on). `timings`: a dict filled with
    where the time went, `generations`: a list filled with the run's generations, `pool`: unguided
    generations sampled beforehand, `inspect`: measurements of each generation (see `train_agent`).
    """
    rng = np.random.default_rng(seed)
    real = as_float32(dataset.arrays())
    agent = make_agent(algo, real, rng, config.n_epochs * config.steps_per_epoch)
    score = scorer(agent, dataset.metadata, config.eval_episodes, rng)
    provenance = {"algorithm": algo, "seed": seed, "env_id": dataset.metadata["env_id"], **(provenance or {})}
    return agent, train_agent(agent, real, config, rng, model=model, evaluate=score, log=log, checkpoint=checkpoint,
                              provenance=provenance, timings=timings, generations=generations, pool=pool,
                              inspect=inspect)
