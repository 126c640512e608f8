"""Online TD3 in a gymnasium environment: how minipgd trains its own behavior policies.

D4RL's `medium` datasets come from a policy trained online and stopped at about
a third of expert return, `medium-replay` from that run's replay buffer up to
that point, and `expert` from a fully trained policy (Fu et al., 2020); minipgd
makes them the same way, with its own TD3 (Sec. 5.1 uses D4RL's datasets).
"""
import time
from dataclasses import dataclass

import numpy as np

from ..runtime.threads import adapt_threads, under_thread_policy
from .evaluation import episode_seed, evaluate
from .replay import ReplayBuffer
from .td3 import TD3, TD3Config


@dataclass(frozen=True)
class OnlineConfig:
    total_steps: int = 300_000
    start_steps: int = 10_000  # uniform random actions first (TD3 paper: 10k; 25k for HalfCheetah in later code)
    exploration_noise: float = 0.1  # Gaussian noise on the actor's action
    eval_every: int = 5_000
    eval_episodes: int = 5
    seed: int = 0
    td3: TD3Config = TD3Config()

    def __post_init__(self):
        for name, minimum in (("total_steps", 1), ("eval_every", 1), ("eval_episodes", 1), ("start_steps", 0)):
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {getattr(self, name)}")


@under_thread_policy
def train_td3_online(make_env, config=OnlineConfig(), on_eval=None, log=print):
    """Train TD3 with one update per environment step.

    `make_env()` returns a fresh gymnasium env with actions in [-1, 1].
    `on_eval(step, mean_return, agent, replay)` is called after every evaluation
    (to save snapshots); returning True stops training. Returns (agent, replay).
    """
    rng = np.random.default_rng(config.seed)
    env, eval_env = make_env(), make_env()
    low, high = env.action_space.low, env.action_space.high
    if not (np.all(low == -1.0) and np.all(high == 1.0)):
        raise ValueError(f"TD3 here expects actions in [-1, 1], the env has [{low}, {high}]")
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    agent = TD3(obs_dim, act_dim, rng, config.td3)
    replay = ReplayBuffer(obs_dim, act_dim, config.total_steps)
    obs, _ = env.reset(seed=episode_seed(rng))
    tic = time.perf_counter()
    for step in range(1, config.total_steps + 1):
        if step <= config.start_steps:
            action = rng.uniform(-1.0, 1.0, act_dim)
        else:
            action = agent.act(obs[None])[0] + config.exploration_noise * rng.standard_normal(act_dim)
            action = np.clip(action, -1.0, 1.0)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        replay.add(obs, action, reward, next_obs, terminated, truncated)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(seed=episode_seed(rng))
        if step > config.start_steps:
            adapt_threads("online TD3")  # a safe point for the thread policy
            agent.update(replay.sample(rng, config.td3.batch_size), rng)
        if step % config.eval_every == 0:
            returns = evaluate(eval_env, lambda o: agent.act(o[None])[0], config.eval_episodes, rng)
            rate = step / (time.perf_counter() - tic)
            log(f"  step {step:>8}/{config.total_steps}  eval return {returns.mean():9.1f} ± "
                f"{returns.std() / np.sqrt(len(returns)):.1f}  ({rate:.0f} steps/s)")
            if on_eval is not None and on_eval(step, float(returns.mean()), agent, replay):
                break
    return agent, replay
