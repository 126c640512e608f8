"""The illustrative 2-D world of Fig. 2, in plain NumPy.

A point agent starts near the origin and moves by s' = s + step_size · a with
actions a ∈ [-1, 1]². The behavior policy heads (noisily) to the behavior goal;
the target policy heads to a different goal. Trajectories are the model's
(B, C, H) arrays with channels x, y, a_x, a_y, reward, done (C = 6), where the
reward is the negative distance to the target goal and no step is terminal.
"""
from dataclasses import dataclass

import numpy as np

from ..diffusion.trajectory import TrajectoryLayout
from ..rl.policy import GaussianPolicy


class GoalReachingPolicy(GaussianPolicy):
    """π(a|s) = N(tanh(gain · (goal − s)), std²): steer towards `goal`."""

    obs_dim = act_dim = 2

    def __init__(self, goal, gain, std):
        self.goal, self.gain, self.std = np.asarray(goal, dtype=np.float64), gain, std

    def _mean_std(self, states):
        return np.tanh(self.gain * (self.goal - states)), self.std


@dataclass(frozen=True)
class PointWorld2D:
    start: tuple = (0.0, 0.0)
    behavior_goal: tuple = (1.0, 0.5)
    target_goal: tuple = (1.0, -0.4)
    start_noise: float = 0.05
    step_size: float = 0.1
    horizon: int = 16  # Table 3's trajectory length
    gain: float = 3.0
    behavior_noise: float = 0.5  # std of the behavior policy's pre-tanh action noise
    goal_noise: float = 0.5  # each behavior episode aims at the behavior goal plus this much noise
    target_std: float = 0.3  # std of the Gaussian target policy

    layout = TrajectoryLayout(obs_dim=2, act_dim=2)

    def step(self, state, action):
        """(N, 2), (N, 2) -> next state, reward."""
        next_state = state + self.step_size * np.clip(action, -1.0, 1.0)
        reward = -np.linalg.norm(next_state - np.asarray(self.target_goal), axis=-1)
        return next_state, reward

    def target_policy(self):
        return GoalReachingPolicy(self.target_goal, self.gain, self.target_std)

    def _rollout(self, n, rng, act):
        """Run `act(state, rng)` for H steps from noisy starts -> raw trajectories (n, C, H)."""
        if n < 1:
            raise ValueError(f"number of trajectories must be positive, got {n}")
        state = np.asarray(self.start) + self.start_noise * rng.standard_normal((n, 2))
        states, actions, rewards = [], [], []
        for _ in range(self.horizon):
            action = act(state, rng)
            next_state, reward = self.step(state, action)
            states.append(state), actions.append(action), rewards.append(reward)
            state = next_state
        obs, act_, rew = np.stack(states, 1), np.stack(actions, 1), np.stack(rewards, 1)
        return self.layout.stack(obs, act_, rew, np.zeros_like(rew))

    def behavior_dataset(self, n, rng):
        """Noisy trajectories towards the behavior goal: a = tanh(gain (g_b + δ − s) + noise), δ per episode."""
        goal = np.asarray(self.behavior_goal) + self.goal_noise * rng.standard_normal((n, 2))

        def act(state, rng):
            return np.tanh(self.gain * (goal - state) + self.behavior_noise * rng.standard_normal(state.shape))

        return self._rollout(n, rng, act)

    def target_rollouts(self, n, rng):
        """Real-environment rollouts of the target policy (Fig. 2, left)."""
        policy = self.target_policy()
        return self._rollout(n, rng, lambda state, rng: np.clip(policy.sample(state, rng), -1.0, 1.0))

    def dynamics_error(self, raw):
        """Mean ||s_{t+1} − (s_t + step_size · a_t)|| over a batch of raw trajectories (n, C, H)."""
        layout = self.layout
        predicted, _ = self.step(raw[:, layout.obs, :-1].transpose(0, 2, 1), raw[:, layout.act, :-1].transpose(0, 2, 1))
        return float(np.mean(np.linalg.norm(raw[:, layout.obs, 1:].transpose(0, 2, 1) - predicted, axis=-1)))

