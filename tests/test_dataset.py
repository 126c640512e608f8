"""Offline datasets: validation, atomic .npz round trip, episode helpers, Minari import."""
import json
import os
import sys

import numpy as np
import pytest

from minipgd.envs.dataset import (OfflineDataset, episode_returns, episode_slices, load_dataset, load_minari,
                                  normalized_score, save_dataset, summary)
from minipgd.nn import checkpoint
from minipgd.nn.checkpoint import save_checkpoint

HOPPER_REFS = (-20.272305, 3234.3)  # docs/authors_code.md#d4rl-reference-returns


def episodes_dataset(rng, lengths=(5, 7, 4), terminal=(True, False, False), refs=(None, None), obs_dim=3, act_dim=2):
    """Episodes of the given lengths; each ends with a termination or else a time-out."""
    names = ("observations", "actions", "rewards", "next_observations", "terminations", "truncations")
    columns = {name: [] for name in names}
    for length, ends_in_terminal in zip(lengths, terminal):
        states = rng.standard_normal((length + 1, obs_dim))
        flag = np.zeros(length, dtype=bool)
        flag[-1] = True
        columns["observations"].append(states[:-1])
        columns["next_observations"].append(states[1:])
        columns["actions"].append(rng.uniform(-1, 1, (length, act_dim)))
        columns["rewards"].append(rng.standard_normal(length))
        columns["terminations"].append(flag & ends_in_terminal)
        columns["truncations"].append(flag & (not ends_in_terminal))
    metadata = {"env_id": "Toy-v0", "recipe": "test", "seed": 0, "n_episodes": len(lengths),
                "ref_min_return": refs[0], "ref_max_return": refs[1]}
    return OfflineDataset(**{key: np.concatenate(parts) for key, parts in columns.items()}, metadata=metadata)


def assert_same_dataset(a, b):
    for name, array in a.arrays().items():
        np.testing.assert_array_equal(getattr(b, name), array)
        assert getattr(b, name).dtype == array.dtype
    assert b.metadata == a.metadata


def test_round_trip_keeps_arrays_dtypes_and_metadata(tmp_path, rng):
    dataset = episodes_dataset(rng, refs=HOPPER_REFS)
    save_dataset(tmp_path / "d.npz", dataset)
    assert_same_dataset(dataset, load_dataset(tmp_path / "d.npz"))


def test_same_dataset_gives_byte_identical_files(tmp_path):
    save_dataset(tmp_path / "a.npz", episodes_dataset(np.random.default_rng(3)))
    save_dataset(tmp_path / "b.npz", episodes_dataset(np.random.default_rng(3)))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_refuses_to_overwrite_without_force(tmp_path, rng):
    first, second = episodes_dataset(rng), episodes_dataset(rng)
    save_dataset(tmp_path / "d.npz", first)
    with pytest.raises(FileExistsError, match="--force"):
        save_dataset(tmp_path / "d.npz", second)
    assert_same_dataset(first, load_dataset(tmp_path / "d.npz"))
    save_dataset(tmp_path / "d.npz", second, force=True)
    assert_same_dataset(second, load_dataset(tmp_path / "d.npz"))


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, rng, monkeypatch):
    old = episodes_dataset(rng)
    save_dataset(tmp_path / "d.npz", old)

    def savez_that_fails_halfway(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", savez_that_fails_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_dataset(tmp_path / "d.npz", episodes_dataset(rng), force=True)
    monkeypatch.undo()
    assert_same_dataset(old, load_dataset(tmp_path / "d.npz"))
    assert os.listdir(tmp_path) == ["d.npz"]


def test_invalid_dataset_writes_nothing(tmp_path, rng):
    dataset = episodes_dataset(rng)
    dataset.rewards[2] = np.nan  # arrays can still be edited in place after validation
    with pytest.raises(ValueError, match="rewards contains NaN or inf"):
        save_dataset(tmp_path / "d.npz", dataset)
    assert os.listdir(tmp_path) == []


def with_value(array, row, value):
    out = array.copy()
    out[row, 0] = value
    return out


def _replace(dataset, **changes):
    fields = {**dataset.arrays(), "metadata": dataset.metadata, **changes}
    return OfflineDataset(**fields)


@pytest.mark.parametrize("change, message", [
    (lambda d: {"rewards": d.rewards[:-1]}, "same number of rows"),
    (lambda d: {"rewards": d.rewards[:, None]}, "rewards must have 1 dimension"),
    (lambda d: {"observations": d.observations[:, 0]}, "observations must have 2 dimension"),
    (lambda d: {"next_observations": d.next_observations[:, :2]}, "next_observations has shape"),
    (lambda d: {"actions": with_value(d.actions, 3, np.inf)}, "actions contains NaN or inf .first in row 3"),
    (lambda d: {"observations": with_value(d.observations, 1, np.nan)}, "observations contains NaN"),
    (lambda d: {"terminations": d.terminations.astype(float)}, "must be a bool array"),
    (lambda d: {"truncations": np.concatenate([d.truncations[:-1], [False]])}, "last row must end an episode"),
    (lambda d: {"metadata": {**d.metadata, "n_episodes": 5}}, "n_episodes = 5.*end 3 episodes"),
    (lambda d: {"metadata": {k: v for k, v in d.metadata.items() if k != "seed"}}, "metadata lacks \\['seed'\\]"),
    (lambda d: {"metadata": {**d.metadata, "ref_min_return": 0.0}}, "must both be numbers or both None"),
    (lambda d: {"metadata": {**d.metadata, "ref_min_return": 5.0, "ref_max_return": 1.0}}, "below ref_max_return"),
    (lambda d: {"metadata": {**d.metadata, "note": object()}}, "JSON-serialisable"),
])
def test_validation_says_what_is_wrong(rng, change, message):
    dataset = episodes_dataset(rng)
    with pytest.raises(ValueError, match=message):
        _replace(dataset, **change(dataset))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "nope.npz")


def test_truncated_file(tmp_path, rng):
    save_dataset(tmp_path / "d.npz", episodes_dataset(rng))
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not an .npz"):
        load_dataset(tmp_path / "cut.npz")


def test_foreign_npz(tmp_path):
    np.savez(tmp_path / "other.npz", observations=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="not a minipgd dataset"):
        load_dataset(tmp_path / "other.npz")


def test_checkpoint_that_is_not_a_dataset(tmp_path):
    save_checkpoint(tmp_path / "model.npz", {"w": np.zeros(3)}, {"kind": "TemporalUNet"})
    with pytest.raises(ValueError, match="holds a 'TemporalUNet' file, not the dataset expected"):
        load_dataset(tmp_path / "model.npz")


def test_episode_slices_and_returns(rng):
    dataset = episodes_dataset(rng, lengths=(5, 7, 4))
    assert episode_slices(dataset) == [slice(0, 5), slice(5, 12), slice(12, 16)]
    expected = [dataset.rewards[:5].sum(), dataset.rewards[5:12].sum(), dataset.rewards[12:].sum()]
    np.testing.assert_allclose(episode_returns(dataset), expected)


def test_normalized_score_is_d4rl_formula():
    low, high = HOPPER_REFS
    np.testing.assert_allclose(normalized_score([low, high, (low + high) / 2], low, high), [0.0, 100.0, 50.0])
    assert normalized_score(1000.0, 0.0, 4000.0) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="min < max"):
        normalized_score(1.0, 3.0, 3.0)


def test_summary_has_normalized_score_only_with_references(rng):
    plain = summary(episodes_dataset(rng))
    assert plain["episodes"] == 3 and plain["transitions"] == 16 and "normalized_score" not in plain
    dataset = episodes_dataset(rng, refs=HOPPER_REFS)
    scored = summary(dataset)
    assert scored["normalized_score"] == pytest.approx(normalized_score(episode_returns(dataset).mean(), *HOPPER_REFS))
    assert scored["min_return"] <= scored["mean_return"] <= scored["max_return"]


def write_minari(folder, rng, lengths, dict_obs=False, metadata=None):
    """A small file laid out like Minari's HDF5 storage: data/main_data.hdf5 (+ metadata.json)."""
    h5py = pytest.importorskip("h5py")
    data = folder / "data"
    data.mkdir(parents=True)
    with h5py.File(data / "main_data.hdf5", "w") as file:
        for i, length in enumerate(lengths):
            group = file.create_group(f"episode_{i}")
            states = rng.standard_normal((length + 1, 4))
            if dict_obs:
                group.create_group("observations").create_dataset("observation", data=states)
                group["observations"].create_dataset("desired_goal", data=np.zeros((length + 1, 2)))
            else:
                group.create_dataset("observations", data=states)
            group.create_dataset("actions", data=rng.uniform(-1, 1, (length, 2)).astype(np.float32))
            group.create_dataset("rewards", data=np.full(length, float(i)))  # reward names the episode
            last_step = np.arange(length) == length - 1
            group.create_dataset("terminations", data=last_step & (i == 0))  # episode 0 terminates,
            group.create_dataset("truncations", data=last_step & (i == 1))  # 1 times out, the rest have no flag
    if metadata is not None:
        (data / "metadata.json").write_text(json.dumps(metadata))
    return data / "main_data.hdf5"


def test_minari_import_orders_episodes_numerically_and_ends_every_episode(tmp_path, rng):
    lengths = [3 + i % 4 for i in range(12)]  # episode_10 must come after episode_9
    write_minari(tmp_path, rng, lengths, metadata={"env_spec": json.dumps({"id": "Hopper-v5"}),
                                                    "dataset_id": "mujoco/hopper/medium-v0",
                                                    "ref_min_score": -20.0, "ref_max_score": 3000.0})
    dataset = load_minari(tmp_path)
    assert [dataset.rewards[rows][0] for rows in episode_slices(dataset)] == list(range(12))
    assert dataset.metadata["n_episodes"] == 12 and len(dataset.rewards) == sum(lengths)
    assert dataset.metadata["env_id"] == "Hopper-v5" and dataset.metadata["ref_max_return"] == 3000.0
    assert dataset.terminations[lengths[0] - 1] and not dataset.truncations[lengths[0] - 1]
    assert dataset.truncations[np.cumsum(lengths)[1:] - 1].all()  # the file's end of an episode is a time-out
    np.testing.assert_array_equal(dataset.observations[1:3], dataset.next_observations[0:2])


def test_minari_dict_observations_use_the_observation_entry(tmp_path, rng):
    path = write_minari(tmp_path, rng, [5, 6], dict_obs=True)
    dataset = load_minari(path, env_id="PointMaze_UMaze-v3")
    assert dataset.obs_dim == 4 and dataset.metadata["ref_min_return"] is None


def test_minari_without_env_id_asks_for_one(tmp_path, rng):
    write_minari(tmp_path, rng, [5])
    with pytest.raises(ValueError, match="pass env_id"):
        load_minari(tmp_path)


def test_minari_missing_file(tmp_path):
    pytest.importorskip("h5py")
    with pytest.raises(FileNotFoundError, match="main_data.hdf5"):
        load_minari(tmp_path)


def test_minari_file_that_is_not_hdf5(tmp_path):
    pytest.importorskip("h5py")
    (tmp_path / "main_data.hdf5").write_bytes(b"not an HDF5 file")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_minari(tmp_path)


def test_minari_without_h5py_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "minipgd\[minari\]"'):
        load_minari(tmp_path)
