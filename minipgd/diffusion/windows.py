"""Trajectory windows: episodes cut into the model's (W, C, H) arrays, and windows back into transitions.

The diffusion model learns length-H pieces of real episodes, with channels obs,
action, reward, done (Appendix A.1). Which pieces, as in the authors' code
(`docs/authors_code.md#data-transforms`): every `stride`-th valid start, plus every
episode start, plus every window that ends on a terminal; a window never crosses
an episode end, windows ending on a time-out are dropped, and the done channel is
1 only for a terminal at the window's last row. Going back, H rows give the
H − 1 transitions (s_t, a_t, r_t, s_{t+1}, done_t) that agents train on
(Algorithm 2).

`dataset` is any object with the arrays observations (N, obs), actions (N, act),
rewards (N,), terminations (N,) and truncations (N,) of consecutive episodes
(`minipgd.envs.dataset.OfflineDataset` is one), so this module needs no simulator.
"""
import numpy as np

from ..nn.unet import HORIZON
from .trajectory import TrajectoryLayout, check_trajectories

STRIDE = 8  # the authors' code: a window starts at every 8th valid position


def window_starts(dataset, horizon=HORIZON, stride=STRIDE):
    """(W,) sorted first rows of the windows `trajectory_windows` cuts from `dataset`."""
    if horizon < 2 or stride < 1:
        raise ValueError(f"need horizon >= 2 (one transition) and stride >= 1, got horizon {horizon}, stride {stride}")
    ends = _episode_ends(dataset)
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
    keep |= episode_start[valid] | dataset.terminations[last]
    keep &= ~(dataset.truncations[last] & ~dataset.terminations[last])  # drop windows ending on a time-out
    return valid[keep]


def trajectory_windows(dataset, horizon=HORIZON, stride=STRIDE, log=print):
    """Raw windows (W, C, H) in environment units, channels obs, action, reward, done (App. A.1)."""
    lengths = np.diff(np.concatenate([[0], np.flatnonzero(_episode_ends(dataset)) + 1]))
    n_short = int(np.count_nonzero(lengths < horizon))
    if n_short:
        log(f"dropped {n_short} of {len(lengths)} episodes shorter than H = {horizon}")
    starts = window_starts(dataset, horizon, stride)
    if starts.size == 0 and n_short == len(lengths):
        raise ValueError(f"H = {horizon} is longer than every episode (the longest has {lengths.max()} steps); "
                         "use a shorter horizon or a dataset with longer episodes")
    if starts.size == 0:
        raise ValueError(f"no window of H = {horizon} remains: every window long enough ends on a time-out, "
                         "and those are dropped; use a shorter horizon")
    rows = starts[:, None] + np.arange(horizon)  # (W, H)
    layout = TrajectoryLayout(dataset.observations.shape[1], dataset.actions.shape[1])
    # episode ends fall only on a window's last row, so done is 1 only for a terminal there
    return layout.stack(dataset.observations[rows], dataset.actions[rows], dataset.rewards[rows],
                        dataset.terminations[rows])


def windows_to_transitions(raw, layout):
    """Raw windows (W, C, H) in environment units -> W·(H − 1) transitions (Algorithm 2's data).

    Row t and row t+1 of a window give (s_t, a_t, r_t, s_{t+1}, done_t), done = done channel > 0.5
    as in the authors' code. Decode model samples first (`TrajectoryNormalizer.decode`).
    """
    raw = check_trajectories(raw, layout)
    if raw.shape[2] < 2:
        raise ValueError(f"windows of length H = {raw.shape[2]} hold no transition; expected H >= 2")
    parts = layout.split(raw)  # (W, H, ...) each
    return {"observations": _as_rows(parts["observations"][:, :-1]),
            "actions": _as_rows(parts["actions"][:, :-1]),
            "rewards": parts["rewards"][:, :-1].reshape(-1),
            "next_observations": _as_rows(parts["observations"][:, 1:]),
            "terminations": parts["terminations"][:, :-1].reshape(-1) > 0.5}


def _episode_ends(dataset):
    """(N,) bool: the rows where an episode ends (termination or time-out)."""
    return np.asarray(dataset.terminations) | np.asarray(dataset.truncations)


def _as_rows(values):
    """(W, T, c) -> (W·T, c), window by window, time inside each."""
    return values.reshape(-1, values.shape[-1])
