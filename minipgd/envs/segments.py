"""Trajectory windows: cutting episodes into the model's (N, C, H) arrays and back (App. A.1).

The diffusion model learns length-H pieces of real episodes, with channels
obs, action, reward, done (Appendix A.1). Which pieces, as in the authors' code
(DESIGN "Data."): every `stride`-th valid start, plus every episode start, plus
every window that ends on a terminal; a window never crosses an episode end,
windows ending on a time-out are dropped, and the done channel is 1 only for a
terminal at the window's last row. Going back (`diffusion.trajectory.windows_to_transitions`),
H rows give the H − 1 transitions (s_t, a_t, r_t, s_{t+1}, done_t) that agents train on.
"""
import numpy as np

from ..diffusion.trajectory import TrajectoryLayout
from .dataset import episode_ends, episode_slices

HORIZON = 16  # Table 3, trajectory length
STRIDE = 8  # the authors' code: a window starts at every 8th valid position


def window_starts(dataset, horizon=HORIZON, stride=STRIDE):
    """(W,) sorted first rows of the windows `trajectory_windows` cuts from `dataset`."""
    if horizon < 2 or stride < 1:
        raise ValueError(f"need horizon >= 2 (one transition) and stride >= 1, got horizon {horizon}, stride {stride}")
    ends = episode_ends(dataset)
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
    lengths = np.array([rows.stop - rows.start for rows in episode_slices(dataset)])
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
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    # episode ends fall only on a window's last row, so done is 1 only for a terminal there
    return layout.stack(dataset.observations[rows], dataset.actions[rows], dataset.rewards[rows],
                        dataset.terminations[rows])
