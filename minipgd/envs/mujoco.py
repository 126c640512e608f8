"""Setting the simulator from an observation, to measure the dynamics error (Sec. 5.3).

A synthetic transition (s, a, r, s') is checked by putting the real simulator in state s,
stepping it with a and comparing its next observation with s'. The observations below are
those of gymnasium's `_get_obs` (gymnasium 1.x, default arguments):

- HalfCheetah-v5, Hopper-v5, Walker2d-v5: obs = [qpos[1:], qvel]. The root x position
  qpos[0] is left out; the dynamics do not depend on it (the floor is an infinite plane), so
  it is set to 0. Hopper and Walker2d clip qvel to ±10 in the observation, so a state whose
  true velocity lies beyond ±10 cannot be recovered from its observation exactly.
- PointMaze (gymnasium-robotics): obs["observation"] = [x, y, vx, vy] = [qpos, qvel] of the
  ball; the goal is not part of the state and stays the env's current goal. The step clips
  the velocity to ±5 before simulating, so setting an unclipped observed velocity is exact.
"""
import numpy as np

from .registry import ENV_IDS, is_point_maze


def set_state_from_observation(env, obs):
    """Put `env`'s simulator in the state that `obs` (a flat observation) describes."""
    env_id = _env_id(env)
    model = env.unwrapped.model
    if is_point_maze(env_id):
        obs = _as_vector("observation", obs, model.nq + model.nv, f"{env_id} [x, y, vx, vy]")
        # PointMazeEnv wraps a PointEnv that owns the simulation; its set_state runs mj_forward.
        env.unwrapped.point_env.set_state(obs[: model.nq], obs[model.nq :])
    else:
        n_pos = model.nq - 1  # qpos without the root x position
        obs = _as_vector(
            "observation", obs, n_pos + model.nv, f"{env_id} qpos[1:] {n_pos} + qvel {model.nv}"
        )
        env.unwrapped.set_state(np.concatenate([[0.0], obs[:n_pos]]), obs[n_pos:])


def step_from_observation(env, obs, action):
    """Set the state from `obs`, step once with `action`: (next_obs, reward, terminated).

    Steps the unwrapped env, so the time limit and its step counter are not touched. For
    PointMaze, next_obs is the flat [x, y, vx, vy], like `obs`.
    """
    set_state_from_observation(env, obs)
    return _step(env, action)


def step_each(env, observations, actions):
    """`step_from_observation` from every state (n, obs) with its action (n, act): (next_obs (n, obs), rewards
    (n,), terminated (n,) bool), each transition on its own."""
    steps = [step_from_observation(env, s, a) for s, a in zip(observations, actions)]
    if not steps:
        raise ValueError("expected at least one transition to step")
    next_obs, rewards, terminated = zip(*steps)
    return np.stack(next_obs), np.array(rewards), np.array(terminated)


def replay_actions(env, first_obs, actions):
    """Open-loop replay (Sec. 5.3): set the state from `first_obs`, apply `actions` (k, act) in turn.

    Returns the k + 1 observations the real simulator visits, (k + 1, obs_dim), the first
    being `first_obs` itself. Terminations are ignored: the replay always runs k steps.
    """
    actions = np.asarray(actions, dtype=np.float64)
    if actions.ndim != 2:
        raise ValueError(f"actions must be (k, act_dim), got shape {actions.shape}")
    set_state_from_observation(env, first_obs)
    visited = [np.asarray(first_obs, dtype=np.float64)]
    for action in actions:
        visited.append(_step(env, action)[0])
    return np.stack(visited)


def _step(env, action):
    env_id = _env_id(env)
    action = _as_vector("action", action, env.action_space.shape[0], env_id)
    next_obs, reward, terminated, _, _ = env.unwrapped.step(action)
    if is_point_maze(env_id):
        next_obs = next_obs["observation"]
    return np.asarray(next_obs, dtype=np.float64), float(reward), bool(terminated)


def _env_id(env):
    env_id = env.spec.id if env.spec is not None else None
    if env_id not in ENV_IDS:
        raise ValueError(f"cannot set the state of env {env_id!r}; expected one of {ENV_IDS}")
    return env_id


def _as_vector(what, x, size, layout):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (size,):
        raise ValueError(f"{what} has shape {x.shape}, expected ({size},) for {layout}")
    return x
