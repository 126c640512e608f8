"""Short dataset names, D4RL style, and the gymnasium environments behind them (Sec. 5.1).

A name is "<env>-<recipe>": `hopper-medium-replay` is collected in `Hopper-v5` by the
`medium-replay` recipe (behavior policy + seed → dataset, see `docs/authors_code.md#no-downloads`).
The maze2d datasets are collected in gymnasium-robotics' PointMaze by the `waypoints` recipe.
The reference returns turn a return R into D4RL's normalized score 100·(R − min)/(max − min).
"""
import contextlib
import io
import warnings
from dataclasses import dataclass

import gymnasium as gym

MAZE_EXTRA_HINT = 'PointMaze (maze2d) needs gymnasium-robotics: pip install "minipgd[maze]"'


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    env_id: str
    recipe: str
    ref_min_return: float  # D4RL reference returns for the normalized score
    ref_max_return: float
    max_episode_steps: int | None  # None: the environment's own time limit (1000 for MuJoCo)
    eval_goal_cell: tuple | None = None  # maze2d: D4RL's fixed evaluation goal ('G' in its maps)


MUJOCO_RECIPES = ("random", "medium", "medium-replay", "expert")
_MUJOCO = {  # short env name: (env id, D4RL min return, D4RL max return)
    "halfcheetah": ("HalfCheetah-v5", -280.178953, 12135.0),
    "hopper": ("Hopper-v5", -20.272305, 3234.3),
    "walker2d": ("Walker2d-v5", 1.629008, 4592.3),
}
_MAZE2D = {  # maze: (env id, D4RL min return, D4RL max return, episode length, D4RL goal cell)
    "umaze": ("PointMaze_UMaze-v3", 23.85, 161.86, 300, (1, 1)),
    "medium": ("PointMaze_Medium-v3", 13.13, 277.39, 600, (6, 6)),
    "large": ("PointMaze_Large-v3", 6.7, 273.99, 800, (7, 9)),
}

DATASETS = {
    **{
        f"{env}-{recipe}": DatasetSpec(f"{env}-{recipe}", env_id, recipe, lo, hi, None)
        for env, (env_id, lo, hi) in _MUJOCO.items()
        for recipe in MUJOCO_RECIPES
    },
    **{
        f"maze2d-{maze}": DatasetSpec(f"maze2d-{maze}", env_id, "waypoints", lo, hi, steps, goal)
        for maze, (env_id, lo, hi, steps, goal) in _MAZE2D.items()
    },
}
ENV_IDS = tuple(dict.fromkeys(spec.env_id for spec in DATASETS.values()))


def parse_dataset_name(name):
    """The `DatasetSpec` of a short name such as "halfcheetah-medium" or "maze2d-umaze"."""
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset name {name!r}; expected <env>-<recipe>, one of: {', '.join(DATASETS)}"
        )
    return DATASETS[name]


def evaluation_reset_options(env_id):
    """Reset options for evaluating an agent: maze2d agents go to D4RL's fixed goal cell; None elsewhere."""
    for spec in DATASETS.values():
        if spec.env_id == env_id and spec.eval_goal_cell is not None:
            return {"goal_cell": spec.eval_goal_cell}
    return None


def is_point_maze(env_id):
    return env_id.startswith("PointMaze_")


def make_env(env_id_or_short_name, seed=None):
    """The gymnasium env for an env id or short dataset name, reset once with `seed`.

    The reset seeds the env's own generator (reset noise, maze start and goal) and leaves it
    ready to step; later `env.reset()` calls without a seed continue that generator.
    """
    max_episode_steps = None
    if env_id_or_short_name in DATASETS:
        spec = DATASETS[env_id_or_short_name]
        env_id, max_episode_steps = spec.env_id, spec.max_episode_steps
    elif env_id_or_short_name in ENV_IDS:
        env_id = env_id_or_short_name
    else:
        raise ValueError(
            f"unknown environment {env_id_or_short_name!r}; expected an env id "
            f"({', '.join(ENV_IDS)}) or a dataset name ({', '.join(DATASETS)})"
        )
    if is_point_maze(env_id):
        import_gymnasium_robotics()  # registers the PointMaze ids with gymnasium
    with mujoco_notices_silenced():
        env = gym.make(env_id, max_episode_steps=max_episode_steps)
    env.reset(seed=seed)
    return env


def import_gymnasium_robotics():
    """gymnasium_robotics, imported only when a maze needs it (it is the optional `maze` extra).

    Its import prints a notice about its Adroit environments to stderr (farama_notifications),
    nothing to do with mazes; that notice is swallowed here, and only here.
    """
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            import gymnasium_robotics
    except ImportError as err:
        raise ImportError(MAZE_EXTRA_HINT) from err
    return gymnasium_robotics


# MuJoCo warnings about gymnasium's own model files, which a user can do nothing about:
# HalfCheetah-v5's XML sets the compiler attribute 'settotalmass', which MuJoCo 4 deprecates.
SILENCED_MUJOCO_NOTICES = ("settotalmass",)


@contextlib.contextmanager
def mujoco_notices_silenced():
    """While an env is made, drop MuJoCo's `SILENCED_MUJOCO_NOTICES` and pass on any other warning.

    MuJoCo's C library prints its warnings to stderr and appends them to MUJOCO_LOG.TXT in the
    working directory, out of Python's reach; a handler installed with `mujoco.set_mju_user_warning`
    for the duration catches them instead. Other warnings are re-issued as Python warnings.
    """
    import mujoco

    caught = []
    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(caught.append)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)
    for message in caught:
        if not any(notice in message for notice in SILENCED_MUJOCO_NOTICES):
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=3)
