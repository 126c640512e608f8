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
    action_distance       mean |a − μ(s)|² of the synthetic actions, μ(s) the policy's mean
                          action: how far guidance moved them, whatever the policy's σ (a
                          log-likelihood gain is that distance's fall over 2σ², small for
                          TD3+BC's unit Gaussian however far the actions move)
    action_distance_real  the same on the dataset transitions
    dynamics_mse          mean over transitions and state dimensions of (s' − s'_sim)², s'_sim
                          the simulator's next state after the synthetic action in the
                          synthetic state (one step of Fig. 6's measure)

On the datasets themselves the dynamics error is 0, but for Hopper and
Walker2d transitions from a state whose observation clips a velocity at ±10
(`envs/mujoco.py`): 4 % of hopper-medium-replay's, which make its mean 0.002–0.003
(two draws of 1,024).

A pooled unguided generation (`generation_pool.py`, shared by one model's runs) is
measured once, by `pool_checks`: its dynamics error on `POOL_CHECKED` transitions,
and in a point maze where that error lies. The maze2d datasets keep clear of the
walls, so a synthetic transition that starts near one (`envs/maze_walls.py`) is
in dynamics the model never saw: `near_wall` is their share (`dataset_near_wall`
the dataset's), `in_wall` the share whose ball touches or overlaps a wall (a
state the simulator does not reach), `dynamics_mse_near_wall` and
`dynamics_mse_away` the error of each part. Its rewards are checked too:
`reward_mse` against the reward the dataset would give the transition's action
from its state (`simulated_dynamics.dataset_step`: in a maze, the sparse
reward at the evaluation goal of the simulator's next state), and in a maze
`rewarded` (the share with reward 1, `dataset_rewarded` the dataset's) and
`reward_mismatch` (the share whose reward is 1 where it should be 0 or the
other way round).
"""
import numpy as np

from ..analysis.dynamics_error import one_step_error
from ..envs.maze_walls import NEAR_WALL, near_wall, wall_gap
from ..envs.registry import is_point_maze
from .simulated_dynamics import dataset_step

CHECKED_TRANSITIONS = 1_024  # per generation, and as many dataset transitions
POOL_CHECKED = 4_096  # per pooled generation: its error is heavy-tailed in a maze (at the walls), so more
CHECK_STREAM = 2025  # mixed into each check's seed: a stream no run's generator starts from
POOL_CHECK = 1  # mixed in after it for a pooled generation's check, apart from the runs' checks


def generation_checks(env, real, seed):
    """-> `inspect(epoch, transitions, policy)` for `train_agent`: the measures above of one generation of the
    run of `seed`, against `env` (the dataset's simulator) and `real` (the dataset's transitions)."""

    def inspect(epoch, transitions, policy):
        rng = np.random.default_rng([CHECK_STREAM, seed, epoch])
        synthetic = _draw(transitions, rng, CHECKED_TRANSITIONS)
        dataset = _draw(real, rng, CHECKED_TRANSITIONS)
        return {"log_likelihood": _mean_log_likelihood(policy, synthetic),
                "log_likelihood_real": _mean_log_likelihood(policy, dataset),
                "action_distance": _mean_action_distance(policy, synthetic),
                "action_distance_real": _mean_action_distance(policy, dataset),
                "dynamics_mse": float(np.mean(_one_step_error(env, synthetic)))}

    return inspect


def pool_checks(env, transitions, real, seed, generation):
    """The dynamics measure above for a pooled unguided generation of the model of `seed`, on `POOL_CHECKED`
    of its transitions, and in a point maze where its error lies (`envs/maze_walls.py`): the share of them
    that start near a wall beside the dataset's share (all of it), the share that start in one, and the error
    near the walls and away."""
    rng = np.random.default_rng([CHECK_STREAM, seed, generation, POOL_CHECK])
    synthetic = _draw(transitions, rng, POOL_CHECKED)
    next_obs, rewards, _ = dataset_step(env, synthetic["observations"], synthetic["actions"])
    error = np.mean((synthetic["next_observations"] - next_obs) ** 2, axis=-1)
    checks = {"transitions": POOL_CHECKED, "dynamics_mse": float(error.mean()),
              "reward_mse": float(np.mean((synthetic["rewards"] - rewards) ** 2))}
    if is_point_maze(env.spec.id):
        gap = wall_gap(env, synthetic["observations"][:, :2])
        near = gap < NEAR_WALL
        checks.update(near_wall=float(near.mean()), in_wall=float(np.mean(gap == 0)),
                      dataset_near_wall=float(near_wall(env, real["observations"]).mean()),
                      dynamics_mse_near_wall=_mean_or_none(error[near]),
                      dynamics_mse_away=_mean_or_none(error[~near]),
                      rewarded=float(np.mean(synthetic["rewards"] > 0.5)),
                      dataset_rewarded=float(np.mean(real["rewards"] > 0.5)),
                      reward_mismatch=float(np.mean((synthetic["rewards"] > 0.5) != (rewards > 0.5))))
    return checks


def _one_step_error(env, transitions):
    return one_step_error(env, transitions["observations"], transitions["actions"], transitions["next_observations"])


def _mean_or_none(values):
    return float(values.mean()) if len(values) else None


def _draw(transitions, rng, n):
    rows = rng.integers(0, len(transitions["rewards"]), n)
    return {name: np.asarray(transitions[name][rows], dtype=np.float64)
            for name in ("observations", "actions", "rewards", "next_observations")}


def _mean_action_distance(policy, transitions):
    mean, _ = policy.mean_std(transitions["observations"])
    return float(np.mean(np.sum((transitions["actions"] - mean) ** 2, axis=-1)))


def _mean_log_likelihood(policy, transitions):
    return float(np.mean(policy.log_prob(transitions["observations"], transitions["actions"])))
