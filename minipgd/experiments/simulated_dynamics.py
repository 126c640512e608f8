"""The model-error ablation's data: a model's transitions with the simulator's dynamics in place of the model's.

Synthetic data differs from real data in two ways at once: where its states and
actions lie (what guidance changes, Eq. 11–14) and whether its next states and
rewards follow the environment (what the diffusion model gets wrong; on
maze2d-medium, mostly the ball passing through walls). `simulated` keeps the
first and removes the second: each transition's next state, reward and
termination become the simulator's after its action from its state, the reward
as the dataset defines it (`dataset_step`), and a transition whose ball
starts inside a maze wall, a state the simulator never reaches, is dropped. An
agent trained on the simulated transitions beside one trained on the model's
own (the same pooled generations, the same agent seed) measures what the
model's errors cost it: Table 2's "model-error" preset.
"""
import time

import numpy as np

from ..envs.maze_walls import wall_gap
from ..envs.mujoco import step_each
from ..envs.registry import evaluation_reset_options, is_point_maze
from ..recipes.maze_controller import relabel_to_evaluation_goal


def dataset_step(env, observations, actions):
    """The simulator stepped once from every state with its action (`step_each`) -> (next states, rewards as the
    dataset defines them, terminated): in a point maze D4RL's sparse reward at the fixed evaluation goal for
    reaching the next state (the maze2d datasets are relabelled so), elsewhere the simulator's."""
    next_obs, rewards, terminated = step_each(env, observations, actions)
    options = evaluation_reset_options(env.spec.id)
    if options is not None:
        rewards = relabel_to_evaluation_goal(env, next_obs, options["goal_cell"])
    return next_obs, rewards, terminated


def simulated(env, transitions):
    """-> (`transitions` with the simulator's next states, rewards and terminations, how many were dropped
    because their ball starts inside a wall). The arrays keep their dtypes."""
    keep = np.ones(len(transitions["rewards"]), dtype=bool)
    if is_point_maze(env.spec.id):
        keep = wall_gap(env, transitions["observations"][:, :2]) > 0
    kept = {name: values[keep] for name, values in transitions.items()}
    next_obs, rewards, terminated = dataset_step(env, kept["observations"], kept["actions"])
    for name, values in (("next_observations", next_obs), ("rewards", rewards), ("terminations", terminated)):
        kept[name] = values.astype(transitions[name].dtype)
    return kept, int(np.sum(~keep))


def simulated_epochs(env, epochs):
    """Every unguided epoch's transitions `simulated` -> (the epochs, {"transitions": per epoch before the drop,
    "dropped_in_wall": per epoch, "seconds"})."""
    started = time.perf_counter()
    counts = [len(epoch["rewards"]) for epoch in epochs]
    epochs, dropped = map(list, zip(*(simulated(env, epoch) for epoch in epochs)))
    return epochs, {"transitions": counts, "dropped_in_wall": dropped, "seconds": time.perf_counter() - started}
