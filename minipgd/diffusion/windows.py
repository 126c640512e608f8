"""Trajectory windows: episodes cut into the model's (W, C, H) arrays, and windows back into transitions.

The diffusion model learns length-H pieces of real episodes, with channels obs,
action, reward, done (Appendix A.1). A window is H consecutive *states* of one
episode; a terminated episode has one state more than it has transitions, its
terminal state s_T (the last transition's next observation), which gets a row
of its own with done = 1 and, as nothing is done from it, action and reward 0
(`with_terminal_states`). Which pieces, as in the authors' code
(`docs/authors_code.md#data-transforms`): every `stride`-th valid start, plus every
episode start, plus every window that ends on a terminal state; a window never
crosses an episode end, and windows ending on a time-out are dropped.

Going back, H rows give up to H − 1 transitions (s_t, a_t, r_t, s_{t+1}, done)
with done = 1 when s_{t+1} is terminal (done channel > 0.5); a trajectory stops
at its first terminal state, so a sample with done = 1 mid-window contributes
no transitions after it. This departs from the authors' rule, under which the
done flag sits on the row of the last transition and, that row being the one
not turned into a transition, no window ever yields a terminal transition
(harmless where episodes end by time-outs, as in HalfCheetah and maze2d, whose
windows are the same under both rules; wrong for Hopper and Walker2d).

`dataset` is any object with the arrays observations (N, obs), actions (N, act),
rewards (N,), next_observations (N, obs), terminations (N,) and truncations (N,)
of consecutive episodes (`minipgd.envs.dataset.OfflineDataset` is one), so this
module needs no simulator.
"""
from types import SimpleNamespace

import numpy as np

from ..nn.unet import HORIZON
from .trajectory import TrajectoryLayout, check_trajectories

STRIDE = 8  # the authors' code: a window starts at every 8th valid position


def with_terminal_states(dataset):
    """The dataset as rows of states: after each terminated episode's last transition, a row holding its terminal
    state (next observation), action and reward 0, `terminations` True; that row now ends the episode. Other rows
    are the dataset's, with `terminations` False and `truncations` marking time-outs. Without terminations, the
    dataset's own rows."""
    terminal = np.flatnonzero(dataset.terminations)
    after = terminal + 1  # np.insert puts each new row before these positions
    flags = np.zeros(len(dataset.rewards), dtype=bool)
    return SimpleNamespace(
        observations=np.insert(dataset.observations, after, dataset.next_observations[terminal], axis=0),
        actions=np.insert(dataset.actions, after, 0.0, axis=0),
        rewards=np.insert(dataset.rewards, after, 0.0),
        terminations=np.insert(flags, after, True),
        truncations=np.insert(np.asarray(dataset.truncations) & ~np.asarray(dataset.terminations), after, False))


def window_starts(states, horizon=HORIZON, stride=STRIDE):
    """(W,) sorted first rows of the windows `trajectory_windows` cuts, as rows of `states =
    with_terminal_states(dataset)`."""
    if horizon < 2 or stride < 1:
        raise ValueError(f"need horizon >= 2 (one transition) and stride >= 1, got horizon {horizon}, stride {stride}")
    ends = _episode_ends(states)
    n = len(ends)
    if n < horizon:
        return np.zeros(0, dtype=np.int64)
    # start i is valid when rows i .. i+H-2 end no episode (row i+H-1, the last, may end one)
    ends_before = np.concatenate([[0], np.cumsum(ends)])
    valid = np.flatnonzero(ends_before[horizon - 1:n] - ends_before[:n - horizon + 1] == 0)
    last = valid + horizon - 1
    episode_start = np.concatenate([[True], ends[:-1]])
    keep = np.zeros(len(valid), dtype=bool)  # a mask, so a start chosen twice is kept once
    keep[::stride] = True
    keep |= episode_start[valid] | states.terminations[last]
    keep &= ~states.truncations[last]  # drop windows ending on a time-out
    return valid[keep]


def trajectory_windows(dataset, horizon=HORIZON, stride=STRIDE, log=print):
    """Raw windows (W, C, H) in environment units, channels obs, action, reward, done (App. A.1)."""
    states = with_terminal_states(dataset)
    lengths = np.diff(np.concatenate([[0], np.flatnonzero(_episode_ends(states)) + 1]))
    n_short = int(np.count_nonzero(lengths < horizon))
    if n_short:
        log(f"dropped {n_short} of {len(lengths)} episodes shorter than H = {horizon}")
    starts = window_starts(states, horizon, stride)
    if starts.size == 0 and n_short == len(lengths):
        raise ValueError(f"H = {horizon} is longer than every episode (the longest has {lengths.max()} states); "
                         "use a shorter horizon or a dataset with longer episodes")
    if starts.size == 0:
        raise ValueError(f"no window of H = {horizon} remains: every window long enough ends on a time-out, "
                         "and those are dropped; use a shorter horizon")
    rows = starts[:, None] + np.arange(horizon)  # (W, H)
    layout = TrajectoryLayout(states.observations.shape[1], states.actions.shape[1])
    # episode ends fall only on a window's last row, so done is 1 only for a terminal state there
    return layout.stack(states.observations[rows], states.actions[rows], states.rewards[rows],
                        states.terminations[rows])


def windows_to_transitions(raw, layout):
    """Raw windows (W, C, H) in environment units -> up to W·(H − 1) transitions (Algorithm 2's data).

    Rows t and t+1 of a window give (s_t, a_t, r_t, s_{t+1}, done), done = (done channel of row t+1 > 0.5): s_{t+1}
    is terminal. A window's transitions stop at its first terminal state; each window is an episode of the
    result, so its last transition that is not terminal is marked truncated (a time-out: the trajectory goes on
    past the window). Decode model samples first (`TrajectoryNormalizer.decode`).
    """
    raw = check_trajectories(raw, layout)
    if raw.shape[2] < 2:
        raise ValueError(f"windows of length H = {raw.shape[2]} hold no transition; expected H >= 2")
    parts = layout.split(raw)  # (W, H, ...) each
    terminal = parts["terminations"] > 0.5  # (W, H): row t holds a terminal state
    live = np.cumsum(terminal, axis=1)[:, :-1] == 0  # (W, H − 1): no terminal state at or before s_t
    count = live.sum(axis=1)
    last = np.zeros_like(live)
    last[count > 0, count[count > 0] - 1] = True
    return {"observations": parts["observations"][:, :-1][live],
            "actions": parts["actions"][:, :-1][live],
            "rewards": parts["rewards"][:, :-1][live],
            "next_observations": parts["observations"][:, 1:][live],
            "terminations": terminal[:, 1:][live],
            "truncations": (last & ~terminal[:, 1:])[live]}


def _episode_ends(dataset):
    """(N,) bool: the rows where an episode ends (termination or time-out)."""
    return np.asarray(dataset.terminations) | np.asarray(dataset.truncations)
