"""Dynamics error of synthetic trajectories against the real simulator (Sec. 5.3, Fig. 6).

For each synthetic trajectory the real environment is put in the trajectory's
first state and its actions are replayed open loop; the error at rollout step j
is the mean over state dimensions of (s_j^synthetic − s_j^real)². Step 0 is 0 by
construction. The same function scores diffusion samples and world-model rollouts.

One transition at a time, the simulator is put in a state s_t and stepped with a_t:
the one-step error compares its next state with s_{t+1} (any transitions, e.g. an
Algorithm 2 generation's), the reward error its reward with r_t. On real data both
errors are 0.
"""
import numpy as np

from ..envs.mujoco import replay_actions, step_each, step_from_observation


def dynamics_error(env, raw, layout):
    """Per-trajectory, per-step squared state error (n, H) of raw trajectories (n, C, H) in env units."""
    parts = _split(raw, layout)
    states = parts["observations"]  # (n, H, obs)
    actions = parts["actions"][:, :-1]  # the H − 1 actions that lead to states 1 .. H−1
    real = np.stack([replay_actions(env, s[0], a) for s, a in zip(states, actions)])
    return np.mean((states - real) ** 2, axis=-1)


def one_step_error(env, observations, actions, next_observations):
    """Per-transition squared state error (n,), mean over state dimensions, of transitions (s, a, s') against
    the simulator put in s and stepped once with a (the first step of the replay above, from every state)."""
    simulated = step_each(env, observations, actions)[0]
    return np.mean((np.asarray(next_observations, dtype=np.float64) - simulated) ** 2, axis=-1)


def reward_error(env, raw, layout):
    """Per-trajectory, per-transition squared reward error (n, H): (r_t − r_sim(s_t, a_t))², r_sim the
    simulator's reward for a_t taken in the synthetic state s_t."""
    parts = _split(raw, layout)
    simulated = np.array([[step_from_observation(env, s, a)[1] for s, a in zip(states, actions)]
                          for states, actions in zip(parts["observations"], parts["actions"])])
    return (parts["rewards"] - simulated) ** 2


def _split(raw, layout):
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 3 or raw.shape[1] != layout.channels:
        raise ValueError(f"expected trajectories (n, {layout.channels}, H) for {layout.describe()}, got {raw.shape}")
    return layout.split(raw)
