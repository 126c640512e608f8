"""Trajectory windows (App. A.1, docs/authors_code.md#data-transforms) and their transitions (Algorithm 2)."""
import numpy as np
import pytest

from minipgd.diffusion.trajectory import TrajectoryLayout
from minipgd.recipes.collect import collect_dataset
from minipgd.diffusion.windows import trajectory_windows, window_starts, windows_to_transitions, with_terminal_states

from test_dataset import episodes_dataset

H = 4


def episode_ids(states):
    """(N,) the episode of each row of `states` (with_terminal_states: a terminal state's row is its episode's)."""
    ends = states.terminations | states.truncations
    return np.concatenate([[0], np.cumsum(ends)[:-1]])


def starts_and_states(dataset, stride):
    states = with_terminal_states(dataset)
    return window_starts(states, H, stride), states


def random_dataset(rng, n_episodes=12):
    lengths = rng.integers(1, 20, n_episodes)
    return episodes_dataset(rng, lengths=lengths, terminal=rng.random(n_episodes) < 0.5)


def test_windows_never_cross_an_episode_end(rng):
    starts, states = starts_and_states(random_dataset(rng), stride=3)
    ids = episode_ids(states)
    rows = starts[:, None] + np.arange(H)
    assert len(starts) > 0 and (ids[rows] == ids[starts, None]).all()


def test_states_are_the_dataset_rows_plus_each_terminal_state(rng):
    dataset = episodes_dataset(rng, lengths=(3, 2, 4), terminal=(True, False, True))
    states = with_terminal_states(dataset)
    rows = [0, 1, 2, None, 3, 4, 5, 6, 7, 8, None]  # the dataset's row, None for a terminal state
    assert len(states.rewards) == len(rows)
    for i, row in enumerate(rows):
        if row is None:
            np.testing.assert_array_equal(states.observations[i], dataset.next_observations[rows[i - 1]])
            assert states.terminations[i] and not states.actions[i].any() and states.rewards[i] == 0
        else:
            np.testing.assert_array_equal(states.observations[i], dataset.observations[row])
            assert not states.terminations[i] and states.truncations[i] == dataset.truncations[row]


def test_without_terminations_the_states_are_the_dataset(rng):
    dataset = episodes_dataset(rng, lengths=(6, 5), terminal=(False, False))
    states = with_terminal_states(dataset)
    for name in ("observations", "actions", "rewards", "terminations", "truncations"):
        np.testing.assert_array_equal(getattr(states, name), getattr(dataset, name))


def test_windows_hold_the_states_as_channels(rng):
    dataset = random_dataset(rng)
    raw = trajectory_windows(dataset, H, stride=3, log=lambda _: None)
    starts, states = starts_and_states(dataset, stride=3)
    layout, rows = TrajectoryLayout(3, 2), starts[:, None] + np.arange(H)
    assert raw.shape == (len(rows), layout.channels, H)
    np.testing.assert_array_equal(raw[:, layout.obs], states.observations[rows].transpose(0, 2, 1))
    np.testing.assert_array_equal(raw[:, layout.act], states.actions[rows].transpose(0, 2, 1))
    np.testing.assert_array_equal(raw[:, layout.reward], states.rewards[rows])


def test_short_episodes_are_dropped_and_counted(rng):
    dataset = episodes_dataset(rng, lengths=(2, 9, 3, 6), terminal=(False,) * 4)
    messages = []
    raw = trajectory_windows(dataset, H, stride=1, log=messages.append)
    assert messages == ["dropped 2 of 4 episodes shorter than H = 4"]
    starts, states = starts_and_states(dataset, stride=1)
    assert set(episode_ids(states)[starts]) == {1, 3} and len(raw) > 0


def test_horizon_longer_than_every_episode_is_an_error(rng):
    dataset = episodes_dataset(rng, lengths=(5, 7), terminal=(True, False))  # 6 and 7 states
    with pytest.raises(ValueError, match="H = 16 is longer than every episode .the longest has 7 states"):
        trajectory_windows(dataset, 16, log=lambda _: None)


def test_done_channel_marks_only_a_terminal_state_on_the_last_row(rng):
    dataset = episodes_dataset(rng, lengths=(10, 10), terminal=(True, False))  # terminal state: row 10 of states
    raw = trajectory_windows(dataset, H, stride=1, log=lambda _: None)
    done = raw[:, TrajectoryLayout(3, 2).done]
    ends_on_terminal = window_starts(with_terminal_states(dataset), H, 1) + H - 1 == 10
    assert ends_on_terminal.sum() == 1
    np.testing.assert_array_equal(done[:, -1], ends_on_terminal)
    assert not done[:, :-1].any()


def test_windows_ending_on_a_time_out_are_dropped(rng):
    dataset = episodes_dataset(rng, lengths=(10, 10), terminal=(False, True))
    last_rows = window_starts(with_terminal_states(dataset), H, stride=1) + H - 1
    assert 9 not in last_rows and 20 in last_rows  # time-out at row 9, terminal state at row 20
    assert len(last_rows) == (10 - H + 1) - 1 + (11 - H + 1)


def test_only_time_out_windows_left_is_an_error(rng):
    dataset = episodes_dataset(rng, lengths=(H, 2), terminal=(False, False))
    with pytest.raises(ValueError, match="ends on a time-out"):
        trajectory_windows(dataset, H, log=lambda _: None)


def test_strided_starts_plus_episode_starts_plus_terminal_windows(rng):
    dataset = episodes_dataset(rng, lengths=(23, 13, 11), terminal=(True, False, True))
    # states: episode 0 rows 0..23 (terminal state 23), episode 1 rows 24..36, episode 2 rows 37..48 (terminal 48);
    # valid starts 0..20, 24..33, 37..45; every 8th of that list
    strided = {0, 8, 16, 27, 38}
    episode_starts, terminal_windows = {0, 24, 37}, {23 - H + 1, 48 - H + 1}
    expected = strided | episode_starts | terminal_windows
    states = with_terminal_states(dataset)
    assert set(window_starts(states, H, stride=8).tolist()) == expected
    assert set(window_starts(states, H, stride=1000).tolist()) == {0, 20, 24, 37, 45}


def test_each_start_is_chosen_once(rng):
    dataset = episodes_dataset(rng, lengths=(3, 3, 8), terminal=(True, True, True))
    starts = window_starts(with_terminal_states(dataset), H, stride=1)
    np.testing.assert_array_equal(starts, np.unique(starts))
    assert len(trajectory_windows(dataset, H, stride=1, log=lambda _: None)) == 1 + 1 + 6


def test_transitions_from_windows_are_the_dataset_transitions(rng):
    dataset = random_dataset(rng)
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    transitions = windows_to_transitions(trajectory_windows(dataset, H, stride=2, log=lambda _: None), layout)
    starts, states = starts_and_states(dataset, stride=2)
    dataset_row = np.cumsum(~states.terminations) - 1  # a state's row in the dataset (terminal states: none)
    rows = (starts[:, None] + np.arange(H - 1)).ravel()
    rows = dataset_row[rows[~states.terminations[rows]]]  # windows stop at a terminal state
    for name in ("observations", "actions", "rewards", "next_observations", "terminations"):
        np.testing.assert_array_equal(transitions[name], getattr(dataset, name)[rows], err_msg=name)
    assert transitions["terminations"].dtype == bool and transitions["terminations"].any()
    ends = transitions["terminations"] | transitions["truncations"]
    assert not (transitions["terminations"] & transitions["truncations"]).any()
    assert ends.sum() == len(starts) and ends[-1]  # each window is an episode of the result


def test_each_window_ends_on_a_terminal_or_a_time_out():
    layout = TrajectoryLayout(1, 1)
    raw = np.zeros((3, layout.channels, 4))
    raw[1, layout.done] = [0.0, 0.0, 1.0, 0.0]  # terminal state at row 2
    transitions = windows_to_transitions(raw, layout)
    np.testing.assert_array_equal(transitions["terminations"], [0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(transitions["truncations"], [0, 0, 1, 0, 0, 0, 0, 1])


def test_transition_done_is_the_next_rows_done_channel_above_one_half():
    layout = TrajectoryLayout(1, 1)
    raw = np.zeros((2, layout.channels, 4))
    raw[0, layout.done] = [0.4, 0.2, 0.51, 0.9]  # s_2 terminal: 2 transitions, the second one terminal
    raw[1, layout.done] = [0.6, 0.0, 0.0, 0.0]  # starts on a terminal state: nothing
    raw[:, layout.obs] = np.arange(4)
    transitions = windows_to_transitions(raw, layout)
    np.testing.assert_array_equal(transitions["terminations"], [False, True])
    np.testing.assert_array_equal(transitions["next_observations"][:, 0], [1, 2])


def test_terminal_transitions_of_a_hopper_dataset_survive_windowing():
    dataset = collect_dataset("hopper-random", 3_000, seed=0, log=lambda _: None)
    layout, horizon = TrajectoryLayout(dataset.obs_dim, dataset.act_dim), 8
    transitions = windows_to_transitions(trajectory_windows(dataset, horizon, log=lambda _: None), layout)
    lengths = np.diff(np.concatenate([[0], np.flatnonzero(dataset.terminations | dataset.truncations) + 1]))
    terminal = np.flatnonzero(dataset.terminations)
    long_enough = terminal[lengths[dataset.terminations[np.cumsum(lengths) - 1]] >= horizon - 1]
    assert len(long_enough) > 10  # hopper-random's episodes end by falling over
    found = {tuple(o) for o in transitions["next_observations"][transitions["terminations"]]}
    assert found == {tuple(o) for o in dataset.next_observations[long_enough]}  # every one, and nothing else
    for name in ("observations", "actions", "rewards"):
        done = transitions[name][transitions["terminations"]]
        assert {tuple(np.atleast_1d(v)) for v in done} == {tuple(np.atleast_1d(v))
                                                           for v in getattr(dataset, name)[long_enough]}
