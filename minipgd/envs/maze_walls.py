"""How close a PointMaze ball is to the maze's walls.

PointMaze (gymnasium-robotics) builds each wall cell of its maze as an axis-aligned
box geom named `block_<row>_<col>` in the world body, and the ball as a sphere,
`particle_geom`. The gap between the ball at (x, y) and a wall is the distance from
(x, y) to the nearest box in the plane, less the ball's radius; 0 means touching or overlapping it, a
state the simulator's contacts do not let the ball reach.

Why it matters: the maze2d datasets' waypoint controller steers through the middle
of the corridors, so real transitions never touch a wall, and a diffusion model
has seen no contact. A synthetic transition that starts within `NEAR_WALL` of a
wall is one whose dynamics the data never showed: the distance the ball covers in
one step at the top speed PointMaze allows (it clips the velocity to ±5 per axis,
dt = 0.01 s), so the simulator may meet the wall within the step.
"""
import mujoco
import numpy as np

NEAR_WALL = 0.05  # one step at speed 5 (dt = 0.01 s)


def wall_gap(env, xy):
    """Gap (n,) between the ball at each position xy (n, 2) and the nearest wall; 0 where it touches one."""
    centres, half_sizes = _wall_boxes(env)
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"expected ball positions (n, 2), got shape {xy.shape}")
    outside = np.maximum(np.abs(xy[:, None, :] - centres) - half_sizes, 0.0)  # (n, walls, 2): 0 inside a box
    return np.maximum(np.linalg.norm(outside, axis=-1).min(axis=1) - _ball_radius(env), 0.0)


def near_wall(env, observations):
    """(n,) bool: the ball of each observation [x, y, vx, vy] starts within `NEAR_WALL` of a wall."""
    return wall_gap(env, np.asarray(observations)[:, :2]) < NEAR_WALL


def _wall_boxes(env):
    """(centres, half-sizes), each (walls, 2): the wall boxes in the x-y plane."""
    model = env.unwrapped.point_env.model  # PointMazeEnv wraps the PointEnv that owns the simulation
    walls = [i for i in range(model.ngeom) if _geom_name(model, i).startswith("block_")]
    if not walls or any(model.geom_bodyid[i] != 0 or model.geom_type[i] != mujoco.mjtGeom.mjGEOM_BOX
                        for i in walls):
        raise ValueError("expected PointMaze's walls as boxes named block_* in the world body")
    return model.geom_pos[walls, :2], model.geom_size[walls, :2]


def _ball_radius(env):
    model = env.unwrapped.point_env.model
    return float(model.geom_size[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "particle_geom"), 0])


def _geom_name(model, i):
    return mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, i) or ""
