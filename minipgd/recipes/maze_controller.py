"""The maze2d behavior policy: a waypoint controller wandering through the maze (Sec. 5.1).

D4RL collected its maze2d datasets (Fu et al., 2020; `scripts/generation/
generate_maze2d_datasets.py` with `pointmaze/waypoint_controller.py`) by planning a path
through the maze's grid cells to a goal cell and steering the point mass along it with a PD
controller, a = p_gain · (waypoint − position) + d_gain · velocity, plus action noise. When
the goal is reached a new random goal is drawn, so the data covers the whole maze. The paper
trains on the sparse-reward umaze, medium and large datasets made this way (Sec. 5.1); here
they are collected in gymnasium-robotics' PointMaze (the `waypoints` recipe of registry.py).

Cells are (row, col) indices into `maze.maze_map` (1 = wall; 0 and the "r"/"g"/"c" markers
are free); gymnasium-robotics' `Maze.cell_rowcol_to_xy` / `cell_xy_to_rowcol` convert
between cells and the simulator's continuous xy (row grows downwards, y upwards).
"""
from collections import deque

import numpy as np

from ..rl.evaluation import episode_seed

WALL = 1
P_GAIN = 10.0  # D4RL waypoint_controller.py
D_GAIN = -1.0  # D4RL waypoint_controller.py; it multiplies the velocity, so it damps
ACTION_NOISE = 0.1  # std of the Gaussian noise added to each action before clipping
SUCCESS_RADIUS = 0.45  # PointMaze: sparse reward 1 and info["success"] within this distance of the goal
SOLVE_RADIUS = 0.1  # D4RL's waypoint controller: a goal is done (and replaced) within this distance
_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right


def plan_waypoints(maze_map, start_cell, goal_cell):
    """Shortest path of cells from `start_cell` to `goal_cell`, both included: breadth-first
    search over the four neighbours of each free cell. [(row, col), ...]"""
    start, goal = _free_cell(maze_map, start_cell, "start"), _free_cell(maze_map, goal_cell, "goal")
    came_from = {start: None}
    frontier = deque([start])
    while frontier:
        cell = frontier.popleft()
        if cell == goal:
            return _walk_back(came_from, goal)
        for d_row, d_col in _NEIGHBOURS:
            neighbour = (cell[0] + d_row, cell[1] + d_col)
            if neighbour not in came_from and _is_free(maze_map, neighbour):
                came_from[neighbour] = cell
                frontier.append(neighbour)
    raise ValueError(f"no path through free cells from {start} to {goal}: the goal is walled off")


def _walk_back(came_from, goal):
    path = [goal]
    while came_from[path[-1]] is not None:
        path.append(came_from[path[-1]])
    return path[::-1]


def _is_free(maze_map, cell):
    row, col = cell
    return 0 <= row < len(maze_map) and 0 <= col < len(maze_map[row]) and maze_map[row][col] != WALL


def _free_cell(maze_map, cell, what):
    cell = tuple(int(i) for i in cell)
    if not _is_free(maze_map, cell):
        shape = (len(maze_map), len(maze_map[0]))
        raise ValueError(
            f"{what} cell {cell} is a wall or outside the {shape[0]}x{shape[1]} maze; "
            f"expected a free cell (map value 0, 'r', 'g' or 'c')"
        )
    return cell


class WaypointController:
    """D4RL's maze2d behavior policy: PD control towards the next cell on a shortest path.

    The path is replanned (`plan_waypoints`) whenever the point enters a new cell or the goal
    moves to a new cell. The waypoint is the centre of the next cell on the path, or the goal
    itself once the point is in the goal's cell. (D4RL's controller instead holds each cell
    centre until the point is within 0.1 of it; steering to the next cell on entering one is
    faster and, with D4RL's gains, kept clear of the walls in our runs.)
    """

    def __init__(self, env, rng, p_gain=P_GAIN, d_gain=D_GAIN, action_noise=ACTION_NOISE):
        self.maze = _point_maze(env).maze
        self.rng = rng
        self.p_gain, self.d_gain, self.action_noise = p_gain, d_gain, action_noise
        self._planned_for = None  # (point cell, goal cell) of the current path
        self._path = None

    def act(self, observation, goal_xy):
        """Action in [-1, 1]² for a PointMaze observation (its dict or the flat [x, y, vx, vy])."""
        if isinstance(observation, dict):
            observation = observation["observation"]
        observation = np.asarray(observation, dtype=np.float64)
        if observation.shape != (4,):
            raise ValueError(f"observation has shape {observation.shape}, expected (4,) for [x, y, vx, vy]")
        position, velocity = observation[:2], observation[2:]
        waypoint = self.waypoint(position, goal_xy)
        action = self.p_gain * (waypoint - position) + self.d_gain * velocity
        action += self.action_noise * self.rng.standard_normal(2)
        return np.clip(action, -1.0, 1.0)

    def waypoint(self, position, goal_xy):
        """The xy the point steers to: the next cell's centre, or the goal in the goal's cell."""
        goal_xy = np.asarray(goal_xy, dtype=np.float64)
        cells = (self._cell(position), self._cell(goal_xy))
        if cells != self._planned_for:
            self._path = plan_waypoints(self.maze.maze_map, *cells)
            self._planned_for = cells
        if len(self._path) == 1:
            return goal_xy
        return self.maze.cell_rowcol_to_xy(self._path[1])

    def _cell(self, xy):
        return tuple(int(i) for i in self.maze.cell_xy_to_rowcol(xy))


def collect_waypoint_episodes(env, n_transitions, rng, p_gain=P_GAIN, d_gain=D_GAIN,
                              action_noise=ACTION_NOISE):
    """Run the waypoint controller in a PointMaze `env` for `n_transitions` steps (Sec. 5.1).

    Goals: PointMaze keeps its goal in `env.unwrapped.goal` and its sparse reward is
    1[‖xy − goal‖ ≤ 0.45] against that goal; its default `continuing_task=True,
    reset_target=False` neither terminates nor moves the goal when it is reached. As in D4RL,
    the controller keeps steering to the goal until it is within 0.1 of it, so the reward is 1
    for a run of steps around each goal; then a new goal is drawn, like D4RL's `set_target`: a
    uniformly random free cell, its centre plus the env's uniform ±0.25-cell noise, redrawn
    while within 0.45 of the point, written to `env.unwrapped.goal` and to the target site.
    Episodes end at the env's time limit (truncation; 300/600/800 steps for
    umaze/medium/large) and the env is reset with a seed drawn from `rng`, so the same `rng`
    seed gives identical arrays (D4RL instead never resets: its dataset is one long run cut
    into time-outs). The last row is marked truncated so that the table ends an episode, as
    `OfflineDataset` expects.

    Returns observations (N, 4) and next_observations (N, 4) (obs["observation"], i.e.
    [x, y, vx, vy]), actions (N, 2), rewards (N,), terminations (N,) and truncations (N,) bool.
    """
    if n_transitions < 1:
        raise ValueError(f"number of transitions must be positive, got {n_transitions}")
    maze_env = _point_maze(env)
    controller = WaypointController(maze_env, rng, p_gain, d_gain, action_noise)
    rows = []
    obs, _ = env.reset(seed=episode_seed(rng))
    for _ in range(n_transitions):
        action = controller.act(obs, maze_env.goal)
        next_obs, reward, terminated, truncated, info = env.step(action)
        rows.append({"observations": obs["observation"], "actions": action, "rewards": reward,
                     "next_observations": next_obs["observation"], "terminations": terminated,
                     "truncations": truncated})
        if terminated or truncated:
            obs, _ = env.reset(seed=episode_seed(rng))
            continue
        if np.linalg.norm(next_obs["achieved_goal"] - maze_env.goal) <= SOLVE_RADIUS:
            _set_new_goal(maze_env, next_obs["achieved_goal"], rng)
        obs = next_obs
    arrays = {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
    arrays["terminations"] = arrays["terminations"].astype(bool)
    arrays["truncations"] = arrays["truncations"].astype(bool)
    arrays["truncations"][-1] |= not arrays["terminations"][-1]
    return arrays


def _set_new_goal(maze_env, point_xy, rng):
    """D4RL's `set_target`, drawn from `rng`: a random free cell's centre plus position noise."""
    maze = maze_env.maze
    free_cells = [(row, col) for row in range(maze.map_length) for col in range(maze.map_width)
                  if _is_free(maze.maze_map, (row, col))]
    noise = maze_env.position_noise_range * maze.maze_size_scaling
    goal = np.asarray(point_xy, dtype=np.float64)
    while np.linalg.norm(goal - point_xy) <= SUCCESS_RADIUS:
        cell = free_cells[rng.integers(len(free_cells))]
        goal = maze.cell_rowcol_to_xy(cell) + rng.uniform(-noise, noise, size=2)
    maze_env.goal = goal
    maze_env.update_target_site_pos()


def _point_maze(env):
    maze_env = env.unwrapped
    if not hasattr(maze_env, "maze") or not hasattr(maze_env, "goal"):
        spec_id = env.spec.id if env.spec is not None else type(maze_env).__name__
        raise ValueError(f"env {spec_id!r} is not a gymnasium-robotics PointMaze; expected e.g. "
                         f"make_env('maze2d-umaze')")
    return maze_env


def relabel_to_evaluation_goal(env, next_observations, goal_cell):
    """Sparse rewards w.r.t. the fixed evaluation goal, as D4RL relabelled its maze2d datasets.

    The controller chases random goals, but agents are evaluated on one goal cell
    (D4RL's `relabel_maze2d_rewards.py`): reward 1 where the point ends a step
    within PointMaze's success radius of that cell's centre, else 0.
    """
    maze_env = _point_maze(env)
    goal = maze_env.maze.cell_rowcol_to_xy(np.asarray(goal_cell))
    return (np.linalg.norm(next_observations[:, :2] - goal, axis=1) <= SUCCESS_RADIUS).astype(np.float64)
