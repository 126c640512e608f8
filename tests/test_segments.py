"""Trajectory windows (App. A.1, docs/authors_code.md#data-transforms) and their transitions (Algorithm 2)."""
import numpy as np
import pytest

from minipgd.diffusion.trajectory import TrajectoryLayout
from minipgd.envs.dataset import episode_slices
from minipgd.diffusion.windows import windows_to_transitions
from minipgd.diffusion.windows import trajectory_windows, window_starts

from test_dataset import episodes_dataset

H = 4


def episode_ids(dataset):
    ids = np.empty(len(dataset.rewards), dtype=int)
    for i, rows in enumerate(episode_slices(dataset)):
        ids[rows] = i
    return ids


def random_dataset(rng, n_episodes=12):
    lengths = rng.integers(1, 20, n_episodes)
    return episodes_dataset(rng, lengths=lengths, terminal=rng.random(n_episodes) < 0.5)


def test_windows_never_cross_an_episode_end(rng):
    dataset = random_dataset(rng)
    starts = window_starts(dataset, H, stride=3)
    ids = episode_ids(dataset)
    rows = starts[:, None] + np.arange(H)
    assert len(starts) > 0 and (ids[rows] == ids[starts, None]).all()


def test_windows_hold_the_dataset_rows_as_channels(rng):
    dataset = random_dataset(rng)
    raw = trajectory_windows(dataset, H, stride=3, log=lambda _: None)
    layout, rows = TrajectoryLayout(3, 2), window_starts(dataset, H, 3)[:, None] + np.arange(H)
    assert raw.shape == (len(rows), layout.channels, H)
    np.testing.assert_array_equal(raw[:, layout.obs], dataset.observations[rows].transpose(0, 2, 1))
    np.testing.assert_array_equal(raw[:, layout.act], dataset.actions[rows].transpose(0, 2, 1))
    np.testing.assert_array_equal(raw[:, layout.reward], dataset.rewards[rows])


def test_short_episodes_are_dropped_and_counted(rng):
    dataset = episodes_dataset(rng, lengths=(2, 9, 3, 6), terminal=(False,) * 4)
    messages = []
    raw = trajectory_windows(dataset, H, stride=1, log=messages.append)
    assert messages == ["dropped 2 of 4 episodes shorter than H = 4"]
    ids = episode_ids(dataset)
    assert set(ids[window_starts(dataset, H, 1)]) == {1, 3} and len(raw) > 0


def test_horizon_longer_than_every_episode_is_an_error(rng):
    dataset = episodes_dataset(rng, lengths=(5, 7), terminal=(True, False))
    with pytest.raises(ValueError, match="H = 16 is longer than every episode .the longest has 7 steps"):
        trajectory_windows(dataset, 16, log=lambda _: None)


def test_done_channel_marks_only_a_terminal_on_the_last_row(rng):
    dataset = episodes_dataset(rng, lengths=(10, 10), terminal=(True, False))
    raw = trajectory_windows(dataset, H, stride=1, log=lambda _: None)
    done = raw[:, TrajectoryLayout(3, 2).done]
    ends_on_terminal = window_starts(dataset, H, 1) + H - 1 == 9
    assert ends_on_terminal.sum() == 1
    np.testing.assert_array_equal(done[:, -1], ends_on_terminal)
    assert not done[:, :-1].any()


def test_windows_ending_on_a_time_out_are_dropped(rng):
    dataset = episodes_dataset(rng, lengths=(10, 10), terminal=(False, True))
    last_rows = window_starts(dataset, H, stride=1) + H - 1
    assert 9 not in last_rows and 19 in last_rows  # time-out at row 9, terminal at row 19
    assert len(last_rows) == (10 - H + 1) * 2 - 1


def test_only_time_out_windows_left_is_an_error(rng):
    dataset = episodes_dataset(rng, lengths=(H, 2), terminal=(False, False))
    with pytest.raises(ValueError, match="ends on a time-out"):
        trajectory_windows(dataset, H, log=lambda _: None)


def test_strided_starts_plus_episode_starts_plus_terminal_windows(rng):
    dataset = episodes_dataset(rng, lengths=(23, 13, 11), terminal=(True, False, True))
    # valid starts: 0..19 (episode 0), 23..32 (episode 1), 36..43 (episode 2); every 8th of that list
    strided = {0, 8, 16, 27, 38}
    episode_starts, terminal_windows = {0, 23, 36}, {22 - H + 1, 46 - H + 1}
    expected = strided | episode_starts | terminal_windows
    assert set(window_starts(dataset, H, stride=8).tolist()) == expected
    assert set(window_starts(dataset, H, stride=1000).tolist()) == {0, 19, 23, 36, 43}


def test_each_start_is_chosen_once(rng):
    dataset = episodes_dataset(rng, lengths=(4, 4, 9), terminal=(True, True, True))
    starts = window_starts(dataset, H, stride=1)
    np.testing.assert_array_equal(starts, np.unique(starts))
    assert len(trajectory_windows(dataset, H, stride=1, log=lambda _: None)) == 1 + 1 + 6


def test_transitions_from_windows_are_the_dataset_transitions(rng):
    dataset = random_dataset(rng)
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    transitions = windows_to_transitions(trajectory_windows(dataset, H, stride=2, log=lambda _: None), layout)
    rows = (window_starts(dataset, H, 2)[:, None] + np.arange(H - 1)).ravel()
    for name, array in transitions.items():
        np.testing.assert_array_equal(array, getattr(dataset, name)[rows], err_msg=name)
    assert transitions["terminations"].dtype == bool


def test_transition_done_is_the_done_channel_above_one_half():
    layout = TrajectoryLayout(1, 1)
    raw = np.zeros((1, layout.channels, 4))
    raw[0, layout.done] = [0.6, 0.4, 0.51, 0.9]
    np.testing.assert_array_equal(windows_to_transitions(raw, layout)["terminations"], [True, False, True])
