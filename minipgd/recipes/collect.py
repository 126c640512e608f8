"""Dataset recipes: behavior policy + seed -> offline dataset, the way D4RL made them (Sec. 5.1).

* `random`: uniform random actions.
* `medium`, `expert`: the committed TD3 actors in `minipgd/recipes/policies/`
  (written by `python -m minipgd train-behavior`), with Gaussian action noise
  (std 0.1) so that, like D4RL's stochastic behavior policies, no two episodes
  are identical.
* `medium-replay`: the replay buffer of the medium policy's training run,
  re-rolled from what made it: uniform random actions for the warm-up steps,
  then the actor snapshot of every 5,000 steps with the training's exploration
  noise, up to the medium point (see `behavior.py`). Asked for fewer
  transitions than the buffer holds, it keeps the first `n_transitions` (the
  last episode cut and marked truncated, as every recipe does); asked for more,
  it says so and gives the whole buffer: there is no more of it.
* `waypoints` (maze2d): the waypoint controller of `maze_controller.py`, chasing
  random goals; rewards are then relabelled to D4RL's fixed evaluation goal, as
  D4RL did for its maze2d datasets.
"""
import time
from pathlib import Path

import numpy as np

from ..envs.dataset import OfflineDataset
from ..envs.registry import make_env, parse_dataset_name
from ..nn.checkpoint import load_checkpoint, unprefixed
from ..rl.agent import SavedActor, saved_state_norm
from ..rl.evaluation import episode_seed
from ..rl.policy import DeterministicGaussianPolicy
from ..rl.td3 import actor_from_state, load_actor
from .behavior import POLICY_DIR

POLICY_NOISE = 0.1  # std of the Gaussian noise on the committed actors' actions
TRANSITIONS = 100_000  # the `collect` command's default size (D4RL: 1M for MuJoCo, 1–4M for maze2d)


def rollout_transitions(env, act, n_transitions, rng, log=print):
    """Run `act(obs, rng) -> action` for exactly n transitions: {field: array}.

    Episodes end by termination or the env's time limit; the last one is cut at
    n transitions and marked truncated.
    """
    if n_transitions < 1:
        raise ValueError(f"the number of transitions must be positive, got {n_transitions}")
    rows = {k: [] for k in ("observations", "actions", "rewards", "next_observations", "terminations", "truncations")}
    obs, _ = env.reset(seed=episode_seed(rng))
    tic, report_every = time.perf_counter(), max(n_transitions // 10, 1)
    for t in range(1, n_transitions + 1):
        action = act(obs, rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        truncated = truncated or (t == n_transitions and not terminated)
        for key, value in zip(rows, (obs, action, reward, next_obs, terminated, truncated)):
            rows[key].append(value)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(seed=episode_seed(rng))
        if t % report_every == 0:
            log(f"  {t:>9}/{n_transitions} transitions  ({t / (time.perf_counter() - tic):.0f}/s)")
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    for flag in ("terminations", "truncations"):
        arrays[flag] = arrays[flag].astype(bool)
    return arrays


def _require(path):
    if not Path(path).exists():
        raise FileNotFoundError(f"no behavior policy {path}; train one with `python -m minipgd train-behavior`")
    return path


def _noisy(act, obs, noise, rng):
    action = act(np.asarray(obs)[None])[0]
    return np.clip(action + noise * rng.standard_normal(action.shape), -1.0, 1.0)


def _actor_policy(path):
    act = load_actor(_require(path)).act
    return lambda obs, rng: _noisy(act, obs, POLICY_NOISE, rng)


def behavior_policy(name, policy_dir=POLICY_DIR):
    """The policy that collects dataset `name` (a medium or expert recipe) as a Gaussian policy,
    N(actor(s), POLICY_NOISE²) before clipping to the action space: to roll it out in a world model."""
    if parse_dataset_name(name).recipe not in ("medium", "expert"):
        raise ValueError(f"{name} is not collected by one committed actor (medium or expert recipes are)")
    saved = load_actor(_require(Path(policy_dir) / f"{name}.npz"))
    return DeterministicGaussianPolicy(saved.act, saved.meta["obs_dim"], saved.meta["act_dim"], std=POLICY_NOISE)


def _replay_policy(path):
    """The training run's behavior, step by step: -> (act, number of steps it covers)."""
    arrays, meta = load_checkpoint(_require(path), kind="TD3ActorSnapshots", what="behavior policy snapshots")
    steps = [s for s in meta["steps"] if s >= meta["start_steps"]]
    state_norm = saved_state_norm(arrays, meta["obs_dim"], np.float32)
    actors = [SavedActor(actor_from_state(unprefixed(arrays, f"{s}/"), meta["obs_dim"], meta["act_dim"],
                                          meta["hidden"]), state_norm, meta) for s in steps]
    clock = [0]

    def act(obs, rng):
        t, clock[0] = clock[0], clock[0] + 1
        if t < meta["start_steps"]:
            return rng.uniform(-1.0, 1.0, meta["act_dim"])
        actor = actors[np.searchsorted(steps, t, side="right") - 1]  # the latest snapshot at step t
        return _noisy(actor.act, obs, meta["exploration_noise"], rng)

    return act, meta["step"]


def _replay_size(n_transitions, n_replay, log):
    """How much of the re-rolled replay buffer medium-replay collects, said in the log."""
    if n_transitions >= n_replay:
        short = f", fewer than the {n_transitions} asked for: the training stopped there"
        log(f"  medium-replay re-rolls the whole replay buffer of the training: {n_replay} transitions"
            f"{short if n_transitions > n_replay else ''}")
        return n_replay
    log(f"  medium-replay re-rolls the first {n_transitions} of the {n_replay} transitions of the training's "
        "replay buffer (the last episode cut and marked truncated)")
    return n_transitions


def collect_dataset(name, n_transitions, seed, policy_dir=POLICY_DIR, log=print):
    """The offline dataset `name` (e.g. "halfcheetah-medium") with n transitions (medium-replay: at most its
    buffer's), from `seed`."""
    spec = parse_dataset_name(name)
    if n_transitions < 1:
        raise ValueError(f"the number of transitions must be positive, got {n_transitions}")
    rng = np.random.default_rng(seed)
    env = make_env(name, seed=episode_seed(rng))
    if spec.recipe == "waypoints":
        from .maze_controller import collect_waypoint_episodes, relabel_to_evaluation_goal

        arrays = collect_waypoint_episodes(env, n_transitions, rng)
        arrays["rewards"] = relabel_to_evaluation_goal(env, arrays["next_observations"], spec.eval_goal_cell)
    elif spec.recipe == "medium-replay":
        act, n_replay = _replay_policy(Path(policy_dir) / f"{name}.npz")
        arrays = rollout_transitions(env, act, _replay_size(n_transitions, n_replay, log), rng, log)
    elif spec.recipe == "random":
        arrays = rollout_transitions(env, lambda obs, rng: rng.uniform(-1.0, 1.0, env.action_space.shape),
                                     n_transitions, rng, log)
    else:
        arrays = rollout_transitions(env, _actor_policy(Path(policy_dir) / f"{name}.npz"), n_transitions, rng, log)
    n_episodes = int(np.count_nonzero(arrays["terminations"] | arrays["truncations"]))
    meta = {"env_id": spec.env_id, "recipe": spec.recipe, "seed": seed, "n_episodes": n_episodes,
            "ref_min_return": spec.ref_min_return, "ref_max_return": spec.ref_max_return}
    return OfflineDataset(**arrays, metadata=meta)
