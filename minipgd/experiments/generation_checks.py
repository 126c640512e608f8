"""Sec. 5.3's two measures for every generation of an Algorithm 2 run: how likely its actions are under the agent's
policy, and how far its transitions are from the real dynamics.

Guidance (Eq. 11–14) is meant to raise the first without raising the second. Each
generation of a Table 2 run is measured on `CHECKED_TRANSITIONS` of its
transitions, drawn with a generator of their own (the run's randomness is not
touched):

    log_likelihood        mean log π(a|s) of the synthetic transitions, π the agent's
                          policy when the generation is made (for a guided generation:
                          the policy that guided it; Fig. 5's measure)
    log_likelihood_real   the same policy's mean log π(a|s) on as many dataset transitions
    dynamics_mse          mean over transitions and state dimensions of (s' − s'_sim)², s'_sim
                          the simulator's next state after the synthetic action in the
                          synthetic state (one step of Fig. 6's measure)

On the datasets themselves the dynamics error is 0, but for Hopper and
Walker2d transitions from a state whose observation clips a velocity at ±10
(`envs/mujoco.py`): 4 % of hopper-medium-replay's, which make its mean 0.002–0.003
(two draws of 1,024).
"""
import numpy as np

from ..envs.mujoco import step_from_observation

CHECKED_TRANSITIONS = 1_024  # per generation, and as many dataset transitions
CHECK_STREAM = 2025  # mixed into each check's seed: a stream no run's generator starts from


def generation_checks(env, real, seed):
    """-> `inspect(epoch, transitions, policy)` for `train_agent`: the measures above of one generation of the
    run of `seed`, against `env` (the dataset's simulator) and `real` (the dataset's transitions)."""

    def inspect(epoch, transitions, policy):
        rng = np.random.default_rng([CHECK_STREAM, seed, epoch])
        synthetic = _draw(transitions, rng)
        dataset = _draw(real, rng)
        simulated = np.stack([step_from_observation(env, s, a)[0]
                              for s, a in zip(synthetic["observations"], synthetic["actions"])])
        return {"log_likelihood": _mean_log_likelihood(policy, synthetic),
                "log_likelihood_real": _mean_log_likelihood(policy, dataset),
                "dynamics_mse": float(np.mean((synthetic["next_observations"] - simulated) ** 2))}

    return inspect


def _draw(transitions, rng):
    rows = rng.integers(0, len(transitions["rewards"]), CHECKED_TRANSITIONS)
    return {name: np.asarray(transitions[name][rows], dtype=np.float64)
            for name in ("observations", "actions", "next_observations")}


def _mean_log_likelihood(policy, transitions):
    return float(np.mean(policy.log_prob(transitions["observations"], transitions["actions"])))
