import sys

import numpy as np
import pytest

from minipgd.envs.mujoco import replay_actions, set_state_from_observation, step_each, step_from_observation
from minipgd.envs.registry import make_env, mujoco_notices_silenced, parse_dataset_name

MUJOCO_ENV_IDS = ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"]
# The root x position is set to 0 instead of its true value, which changes the rounding of the
# contact geometry: steps from an observation match the rollout to ~5e-13, not bit for bit.
ATOL = 1e-10


def rollout(env, rng, steps=50):
    """Random actions from a seeded reset, stepping on past termination: (obs, act, rew, term)."""
    obs = [env.reset(seed=0)[0]]
    actions, rewards, terminals = [], [], []
    for _ in range(steps):
        actions.append(rng.uniform(env.action_space.low, env.action_space.high))
        next_obs, reward, terminated, _, _ = env.step(actions[-1])
        obs.append(next_obs)
        rewards.append(reward)
        terminals.append(terminated)
    return obs, actions, rewards, terminals


def test_dataset_names_map_to_env_recipe_and_reference_returns():
    spec = parse_dataset_name("hopper-medium-replay")
    assert (spec.env_id, spec.recipe, spec.max_episode_steps) == ("Hopper-v5", "medium-replay", None)
    assert (spec.ref_min_return, spec.ref_max_return) == (-20.272305, 3234.3)
    spec = parse_dataset_name("maze2d-large")
    assert (spec.env_id, spec.recipe, spec.max_episode_steps) == ("PointMaze_Large-v3", "waypoints", 800)
    assert (spec.ref_min_return, spec.ref_max_return) == (6.7, 273.99)


@pytest.mark.parametrize("name", ["hopper-medium-expert", "ant-medium", "maze2d-huge"])
def test_unknown_dataset_name_lists_the_known_names(name):
    with pytest.raises(ValueError, match="halfcheetah-random.*maze2d-umaze"):
        parse_dataset_name(name)


def test_make_env_rejects_unknown_env_id():
    with pytest.raises(ValueError, match="Hopper-v5.*walker2d-expert"):
        make_env("Ant-v5")


def test_make_env_seed_makes_resets_reproducible():
    first, second = make_env("hopper-random", seed=3), make_env("hopper-random", seed=3)
    np.testing.assert_array_equal(first.reset()[0], second.reset()[0])


@pytest.mark.parametrize("env_id", MUJOCO_ENV_IDS)
def test_observation_round_trips_through_simulator_state(env_id, rng):
    obs = rollout(make_env(env_id), rng)[0]
    env = make_env(env_id)
    for o in obs:
        set_state_from_observation(env, o)
        np.testing.assert_array_equal(env.unwrapped._get_obs(), o)


@pytest.mark.parametrize("env_id", MUJOCO_ENV_IDS)
def test_step_from_observation_reproduces_rollout(env_id, rng):
    env, replay = make_env(env_id), make_env(env_id)
    obs, actions, rewards, terminals = rollout(env, rng)
    n_vel = env.unwrapped.model.nv
    checked = 0
    for t, action in enumerate(actions):
        # Hopper and Walker2d clip qvel to ±10 in the observation; from such an observation
        # the true velocity is lost, so only steps starting below the clip must match.
        if env_id != "HalfCheetah-v5" and np.any(np.abs(obs[t][-n_vel:]) >= 10.0):
            continue
        next_obs, reward, terminated = step_from_observation(replay, obs[t], action)
        np.testing.assert_allclose(next_obs, obs[t + 1], rtol=0, atol=ATOL)
        assert reward == pytest.approx(rewards[t], rel=0, abs=ATOL)
        assert terminated == terminals[t]
        checked += 1
    assert checked >= 5  # Walker2d under random actions exceeds the clip on most steps


def test_step_each_steps_every_transition_from_its_own_state(rng):
    env, replay = make_env("HalfCheetah-v5"), make_env("HalfCheetah-v5")
    obs, actions, rewards, terminals = rollout(env, rng)
    next_obs, stepped_rewards, terminated = step_each(replay, obs[:-1][::-1], actions[::-1])  # any order
    np.testing.assert_allclose(next_obs[::-1], obs[1:], rtol=0, atol=ATOL)
    np.testing.assert_allclose(stepped_rewards[::-1], rewards, rtol=0, atol=ATOL)
    assert terminated.dtype == bool and terminated.tolist() == list(terminals)[::-1]
    with pytest.raises(ValueError, match="expected at least one transition"):
        step_each(replay, obs[:0], actions[:0])


def test_open_loop_replay_follows_the_recorded_halfcheetah_episode(rng):
    env = make_env("HalfCheetah-v5")
    obs, actions, _, _ = rollout(env, rng, steps=16)
    visited = replay_actions(make_env("HalfCheetah-v5"), obs[0], np.array(actions))
    assert visited.shape == (17, 17)
    np.testing.assert_allclose(visited, np.array(obs), rtol=0, atol=1e-9)


def test_replay_rejects_a_flat_action_vector():
    with pytest.raises(ValueError, match=r"\(k, act_dim\)"):
        replay_actions(make_env("HalfCheetah-v5"), np.zeros(17), np.zeros(6))


def test_wrong_observation_size_says_expected_size():
    env = make_env("HalfCheetah-v5")
    with pytest.raises(ValueError, match=r"shape \(16,\), expected \(17,\)"):
        step_from_observation(env, np.zeros(16), np.zeros(6))


def test_wrong_action_size_says_expected_size():
    env = make_env("Hopper-v5")
    with pytest.raises(ValueError, match=r"action has shape \(6,\), expected \(3,\)"):
        step_from_observation(env, np.zeros(11), np.zeros(6))


def test_mujoco_warnings_other_than_known_notices_still_reach_python():
    """Only the notices about gymnasium's own model files are dropped; the handler is restored after."""
    import mujoco

    free_ball = "<mujoco><worldbody><body><freejoint/><geom size='.1'/></body></worldbody></mujoco>"
    model = mujoco.MjModel.from_xml_string(free_ball)
    data = mujoco.MjData(model)
    data.qvel[:] = np.nan
    with pytest.warns(RuntimeWarning, match="MuJoCo: Nan, Inf or huge value in QVEL"):
        with mujoco_notices_silenced():
            mujoco.mj_step(model, data)
    assert mujoco.get_mju_user_warning() is None


def test_maze_without_gymnasium_robotics_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium_robotics", None)
    with pytest.raises(ImportError, match=r'pip install "minipgd\[maze\]"'):
        make_env("maze2d-umaze")


@pytest.mark.parametrize("name", ["maze2d-umaze", "maze2d-large"])
def test_point_maze_step_from_observation_reproduces_rollout(name, rng):
    pytest.importorskip("gymnasium_robotics")
    env, replay = make_env(name, seed=0), make_env(name, seed=0)  # same seed: same goal
    obs, actions, rewards, terminals = rollout(env, rng)
    for t, action in enumerate(actions):
        next_obs, reward, terminated = step_from_observation(replay, obs[t]["observation"], action)
        np.testing.assert_array_equal(next_obs, obs[t + 1]["observation"])
        assert (reward, terminated) == (rewards[t], terminals[t])


def test_maze_agents_are_evaluated_at_d4rls_goal():
    pytest.importorskip("gymnasium_robotics")
    from minipgd.envs.registry import evaluation_reset_options
    from minipgd.rl.evaluation import evaluate

    options = evaluation_reset_options("PointMaze_UMaze-v3")
    assert options == {"goal_cell": (1, 1)} and evaluation_reset_options("Hopper-v5") is None
    env = make_env("maze2d-umaze")
    returns = evaluate(env, lambda obs: np.zeros(2), 1, np.random.default_rng(0), options)
    assert returns.shape == (1,)
    goal = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))
    assert np.linalg.norm(env.unwrapped.goal - goal) <= 0.25 * env.unwrapped.maze.maze_size_scaling


def _gap_from_the_maze_map(env, xy):
    """The gap to the nearest wall from the maze's own map (not its MuJoCo geoms): each wall cell a square
    of the maze's scaling, its boundary sampled every 1e-3, less the ball's radius 0.1."""
    maze = env.unwrapped.maze
    half, edge = maze.maze_size_scaling / 2, np.linspace(-1, 1, 1001) * maze.maze_size_scaling / 2
    boundary = np.concatenate([np.stack([edge, np.full_like(edge, side)], 1) for side in (-half, half)]
                              + [np.stack([np.full_like(edge, side), edge], 1) for side in (-half, half)])
    rows, cols = np.nonzero(np.array(maze.maze_map) == 1)
    points = np.concatenate([maze.cell_rowcol_to_xy(np.array([r, c])) + boundary for r, c in zip(rows, cols)])
    return np.linalg.norm(xy[:, None] - points, axis=-1).min(axis=1) - 0.1


def test_wall_gap_is_the_distance_from_the_ball_to_the_nearest_wall(rng):
    pytest.importorskip("gymnasium_robotics")
    from minipgd.envs.maze_walls import wall_gap

    env = make_env("maze2d-medium")
    maze = env.unwrapped.maze
    open_cell = maze.cell_rowcol_to_xy(np.array([1, 1]))  # walls above and to the left of it
    inside = maze.cell_rowcol_to_xy(np.array([0, 0]))
    np.testing.assert_allclose(wall_gap(env, np.stack([open_cell, inside])), [0.5 - 0.1, 0.0])
    anywhere = rng.uniform(-4, 4, size=(300, 2))
    in_a_wall = [maze.maze_map[r][c] == 1 for r, c in (maze.cell_xy_to_rowcol(xy) for xy in anywhere)]
    expected = np.where(in_a_wall, 0.0, np.maximum(_gap_from_the_maze_map(env, anywhere), 0.0))
    assert 0 < np.mean(in_a_wall) < 1 and np.mean(expected[~np.array(in_a_wall)] == 0) > 0  # all three cases
    np.testing.assert_allclose(wall_gap(env, anywhere), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"ball positions \(n, 2\)"):
        wall_gap(env, np.zeros((3, 4)))


def test_near_wall_means_within_one_step_at_top_speed():
    pytest.importorskip("gymnasium_robotics")
    from minipgd.envs.maze_walls import NEAR_WALL, near_wall

    env = make_env("maze2d-medium")
    assert NEAR_WALL == 5.0 * env.unwrapped.point_env.dt  # speed clipped to 5, dt 0.01
    left_wall = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))[0] - 0.5  # cell (1, 0) is a wall
    y = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))[1]
    gaps = np.array([0.01, NEAR_WALL - 1e-6, NEAR_WALL + 1e-6, 0.3])
    observations = np.stack([left_wall + 0.1 + gaps, np.full(4, y), np.zeros(4), np.zeros(4)], axis=1)
    assert near_wall(env, observations).tolist() == [True, True, False, False]
