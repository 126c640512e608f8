"""Truncated model rollouts (Sec. 3.1, Eq. 5–6): the autoregressive way to make on-policy data.

Start states are drawn from the offline data, s_t ~ p_off (Eq. 5), and the target
policy is rolled out in the learned model for k steps (Eq. 6):

    a_{t+j} ~ π_target(·|s_{t+j}),   s_{t+j+1}, r_{t+j} ~ T(·|s_{t+j}, a_{t+j}; θ),   j = 0 .. k−1.

The result has the diffusion model's trajectory format (n, C, k) so the same
Sec. 5.3 metrics apply to both. No rollout is cut short by a termination rule
(HalfCheetah and the 2-D world never terminate); the done channel is 0.
"""
import numpy as np


def truncated_rollouts(model, policy, start_states, k, rng, layout, action_bounds=(-1.0, 1.0)):
    """k-step rollouts of `policy` in `model` (anything with `step(obs, actions, rng)`) -> raw (n, C, k).

    Actions are clipped to `action_bounds`, the environment's action space, as an
    agent acting in the environment would be.
    """
    if k < 1:
        raise ValueError(f"rollout length k must be positive, got {k}")
    state = np.asarray(start_states, dtype=np.float64)
    if state.ndim != 2 or state.shape[1] != layout.obs_dim:
        raise ValueError(f"start states must be (n, {layout.obs_dim}), got {state.shape}")
    states, actions, rewards = [], [], []
    for _ in range(k):
        action = np.clip(policy.sample(state, rng), *action_bounds)  # a ~ π_target(·|s)
        next_state, reward = model.step(state, action, rng)  # s', r ~ T(·|s, a; θ)
        states.append(state), actions.append(action), rewards.append(reward)
        state = np.asarray(next_state, dtype=np.float64)
    rewards = np.stack(rewards, 1)
    return layout.stack(np.stack(states, 1), np.stack(actions, 1), rewards, np.zeros_like(rewards))
