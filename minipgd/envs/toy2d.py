"""The illustrative 2-D world of Fig. 2, in plain NumPy: its dynamics and its behavior data.

A point agent starts near the origin and moves by s' = s + step_size · a with
actions a ∈ [-1, 1]². The behavior policy heads (noisily) to the behavior goal;
the paper's target policy would head to a different goal (`target_goal`, built as
`minipgd.rl.policy.GoalReachingPolicy` by the experiment that needs it). The
reward is the negative distance to the target goal and no step is terminal.
Episodes come back as arrays (n, H, ...) named like a dataset's columns, ready for
`TrajectoryLayout.stack`.
"""
from dataclasses import dataclass

import numpy as np

from ..nn.unet import HORIZON


@dataclass(frozen=True)
class PointWorld2D:
    start: tuple = (0.0, 0.0)
    behavior_goal: tuple = (1.0, 0.5)
    target_goal: tuple = (1.0, -0.4)
    start_noise: float = 0.05
    step_size: float = 0.1
    horizon: int = HORIZON
    gain: float = 3.0
    behavior_noise: float = 0.5  # std of the behavior policy's pre-tanh action noise
    goal_noise: float = 0.5  # each behavior episode aims at the behavior goal plus this much noise
    target_std: float = 0.3  # std of the Gaussian target policy
    obs_dim = act_dim = 2

    def step(self, state, action):
        """(N, 2), (N, 2) -> next state, reward."""
        next_state = state + self.step_size * np.clip(action, -1.0, 1.0)
        reward = -np.linalg.norm(next_state - np.asarray(self.target_goal), axis=-1)
        return next_state, reward

    def rollouts(self, n, rng, act):
        """Run `act(states, rng) -> actions` for H steps from noisy starts -> episodes: observations
        (n, H, 2), actions (n, H, 2), rewards (n, H), terminations (n, H)."""
        if n < 1:
            raise ValueError(f"number of trajectories must be positive, got {n}")
        state = np.asarray(self.start) + self.start_noise * rng.standard_normal((n, 2))
        states, actions, rewards = [], [], []
        for _ in range(self.horizon):
            action = act(state, rng)
            next_state, reward = self.step(state, action)
            states.append(state), actions.append(action), rewards.append(reward)
            state = next_state
        rewards = np.stack(rewards, 1)
        return {"observations": np.stack(states, 1), "actions": np.stack(actions, 1), "rewards": rewards,
                "terminations": np.zeros_like(rewards)}

    def behavior_episodes(self, n, rng):
        """Noisy episodes towards the behavior goal: a = tanh(gain (g_b + δ − s) + noise), δ per episode."""
        goal = np.asarray(self.behavior_goal) + self.goal_noise * rng.standard_normal((n, 2))

        def act(state, rng):
            return np.tanh(self.gain * (goal - state) + self.behavior_noise * rng.standard_normal(state.shape))

        return self.rollouts(n, rng, act)

    def one_step_error(self, observations, actions):
        """Mean ||s_{t+1} − (s_t + step_size · a_t)|| over consecutive rows of observations and actions (n, H, 2).

        The one-step L2 error of this world's known dynamics; Sec. 5.3's open-loop MSE against a
        simulator is `minipgd.analysis.dynamics_error`.
        """
        predicted, _ = self.step(observations[:, :-1], actions[:, :-1])
        return float(np.mean(np.linalg.norm(observations[:, 1:] - predicted, axis=-1)))
