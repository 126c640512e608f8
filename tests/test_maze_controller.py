import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics")

from minipgd.recipes.maze_controller import (  # noqa: E402
    WaypointController,
    collect_waypoint_episodes,
    plan_waypoints,
)
from minipgd.envs.registry import make_env  # noqa: E402

# Two routes from the top-left to (3, 2): three steps down the left side or nine round the right.
TWO_ROUTES = [
    [1, 1, 1, 1, 1, 1],
    [1, "r", 0, 0, 0, 1],
    [1, 0, 1, 1, 0, 1],
    [1, 0, "g", 1, 0, 1],
    [1, 1, 0, 0, 0, 1],
    [1, 1, 1, 1, 1, 1],
]
UMAZE_STEPS = 300
N_TRANSITIONS = 700  # two full umaze episodes and a cut-off third


@pytest.fixture(scope="module")
def umaze_data():
    return collect_waypoint_episodes(make_env("maze2d-umaze"), N_TRANSITIONS, np.random.default_rng(0))


def test_plan_is_the_shortest_path_through_free_cells():
    path = plan_waypoints(TWO_ROUTES, (1, 1), (3, 2))
    assert path == [(1, 1), (2, 1), (3, 1), (3, 2)]


def test_plan_steps_between_neighbouring_free_cells():
    path = plan_waypoints(TWO_ROUTES, (1, 4), (4, 2))
    assert path[0] == (1, 4) and path[-1] == (4, 2)
    assert all(TWO_ROUTES[row][col] != 1 for row, col in path)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(path, path[1:]))
    assert len(path) == 6  # 5 moves down the right side; the left side takes 7


def test_plan_from_the_goal_cell_is_that_cell():
    assert plan_waypoints(TWO_ROUTES, (3, 2), (3, 2)) == [(3, 2)]


def test_plan_rejects_wall_cells_and_walled_off_goals():
    with pytest.raises(ValueError, match=r"goal cell \(2, 2\) is a wall"):
        plan_waypoints(TWO_ROUTES, (1, 1), (2, 2))
    with pytest.raises(ValueError, match=r"start cell \(9, 1\) is a wall or outside the 6x6 maze"):
        plan_waypoints(TWO_ROUTES, (9, 1), (1, 1))
    walled_off = [[1, 1, 1, 1, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1]]
    with pytest.raises(ValueError, match="no path"):
        plan_waypoints(walled_off, (1, 1), (1, 3))


def test_waypoint_is_the_next_cell_centre_then_the_goal_itself():
    env = make_env("maze2d-umaze", seed=0)
    maze = env.unwrapped.maze
    controller = WaypointController(env.unwrapped, np.random.default_rng(0))
    goal_xy = maze.cell_rowcol_to_xy((3, 1)) + 0.2
    start_xy = maze.cell_rowcol_to_xy((1, 1)) - 0.1
    np.testing.assert_allclose(controller.waypoint(start_xy, goal_xy), maze.cell_rowcol_to_xy((1, 2)))
    np.testing.assert_allclose(controller.waypoint(goal_xy - 0.3, goal_xy), goal_xy)


def test_controller_reaches_a_umaze_goal_within_the_time_limit():
    env = make_env("maze2d-umaze", seed=0)
    controller = WaypointController(env.unwrapped, np.random.default_rng(0))
    # From one arm of the U to the end of the other: the longest route in the maze.
    obs, _ = env.reset(seed=0, options={"reset_cell": (1, 1), "goal_cell": (3, 1)})
    for _ in range(UMAZE_STEPS):
        action = controller.act(obs, env.unwrapped.goal)
        assert action.shape == (2,) and np.all(np.abs(action) <= 1.0)
        obs, _, _, truncated, info = env.step(action)
        if info["success"]:
            break
    assert info["success"] and not truncated


def test_collected_arrays_have_consistent_shapes_and_finite_values(umaze_data):
    shapes = {name: array.shape for name, array in umaze_data.items()}
    assert shapes == {"observations": (N_TRANSITIONS, 4), "actions": (N_TRANSITIONS, 2),
                      "rewards": (N_TRANSITIONS,), "next_observations": (N_TRANSITIONS, 4),
                      "terminations": (N_TRANSITIONS,), "truncations": (N_TRANSITIONS,)}
    assert umaze_data["terminations"].dtype == bool and umaze_data["truncations"].dtype == bool
    assert all(np.all(np.isfinite(umaze_data[name]))
               for name in ("observations", "actions", "rewards", "next_observations"))
    assert np.all(np.abs(umaze_data["actions"]) <= 1.0)


def test_next_observation_is_the_next_row_inside_an_episode(umaze_data):
    inside = ~(umaze_data["terminations"] | umaze_data["truncations"])[:-1]
    np.testing.assert_array_equal(umaze_data["next_observations"][:-1][inside],
                                  umaze_data["observations"][1:][inside])


def test_episodes_are_truncated_at_the_time_limit_and_the_last_row_ends_one(umaze_data):
    assert not umaze_data["terminations"].any()  # PointMaze is a continuing task
    expected = [UMAZE_STEPS - 1, 2 * UMAZE_STEPS - 1, N_TRANSITIONS - 1]
    assert np.flatnonzero(umaze_data["truncations"]).tolist() == expected
    assert not np.array_equal(umaze_data["observations"][UMAZE_STEPS],
                              umaze_data["next_observations"][UMAZE_STEPS - 1])  # a reset


def test_sparse_reward_is_one_when_a_goal_is_reached_and_the_goal_then_moves(umaze_data):
    rewards = umaze_data["rewards"]
    assert set(np.unique(rewards).tolist()) == {0.0, 1.0}
    assert rewards.sum() >= 5  # about 14 goals per 1000 steps in the umaze
    # As in D4RL the controller homes in to 0.1 of a goal before it moves, so rewards come in runs
    # (within 0.45) that end when the goal moves away.
    runs_start = (rewards[1:] == 1) & (rewards[:-1] == 0)
    assert np.any((rewards[:-1] == 1) & (rewards[1:] == 1))
    assert 0 < np.count_nonzero(runs_start) < rewards.sum()


def test_same_seed_gives_identical_arrays_and_another_seed_does_not():
    def collect(seed):
        return collect_waypoint_episodes(make_env("maze2d-umaze"), 100, np.random.default_rng(seed))

    first, again, other = collect(3), collect(3), collect(4)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["observations"], other["observations"])


def test_collection_rejects_other_envs_and_empty_requests():
    with pytest.raises(ValueError, match="not a gymnasium-robotics PointMaze"):
        collect_waypoint_episodes(make_env("Hopper-v5"), 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="must be positive"):
        collect_waypoint_episodes(make_env("maze2d-umaze"), 0, np.random.default_rng(0))


def test_rewards_are_relabelled_to_the_evaluation_goal():
    from minipgd.recipes.collect import collect_dataset
    from minipgd.recipes.maze_controller import relabel_to_evaluation_goal

    env = make_env("maze2d-umaze")
    goal = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))
    next_obs = np.array([[*goal, 0.0, 0.0], [*(goal + 0.3), 0.0, 0.0], [*(goal + 1.0), 0.0, 0.0]])
    np.testing.assert_array_equal(relabel_to_evaluation_goal(env, next_obs, (1, 1)), [1.0, 1.0, 0.0])
    data = collect_dataset("maze2d-umaze", 600, seed=0, log=lambda line: None)
    near = np.linalg.norm(data.next_observations[:, :2] - goal, axis=1) <= 0.45
    np.testing.assert_array_equal(data.rewards, near.astype(float))
