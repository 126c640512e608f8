"""`python -m minipgd sample`: synthetic transitions in `collect`'s dataset format, and what it refuses."""
from pathlib import Path

import numpy as np
import pytest

from minipgd.__main__ import main
from minipgd.diffusion import TrajectoryDiffusion
from minipgd.envs.dataset import load_dataset
from minipgd.rl import TD3
from minipgd.rl.auto_scale import GRID

from test_cli import refused


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A halfcheetah-random dataset, a tiny model of it, and a TD3+BC actor trained on it."""
    root = tmp_path_factory.mktemp("sample")
    data, model, actor = (str(root / name) for name in ("d.npz", "m.npz", "actor.npz"))
    main(["collect", "halfcheetah-random", "--transitions", "300", "--out", data])
    main(["train-diffusion", data, "--out", model, "--steps", "20", "--features", "16"])
    main(["train-agent", data, "--data", "real", "--epochs", "1", "--steps-per-epoch", "3", "--eval-episodes", "1",
          "--save-actor", actor])
    return root, data, model, actor


def sample(model, out, *extra):
    main(["sample", model, "--n", "6", "--sampler-steps", "3", "--out", out, *extra])
    return load_dataset(out)


def test_unguided_samples_are_a_dataset_of_the_models_environment(files, capsys):
    root, data, model, _ = files
    synthetic = sample(model, str(root / "unguided.npz"))
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"wrote {root / 'unguided.npz'}: ")
    meta, real = synthetic.metadata, load_dataset(data).metadata
    assert (meta["env_id"], meta["ref_min_return"], meta["ref_max_return"]) == (
        real["env_id"], real["ref_min_return"], real["ref_max_return"])
    assert (meta["recipe"], meta["training_recipe"], meta["guidance_scale"], meta["sampler_steps"]) == (
        "synthetic", real["recipe"], 0.0, 3)
    assert meta["model"] == model and meta["policy"] is None
    assert meta["model_fingerprint"] == TrajectoryDiffusion.load(model).fingerprint()
    assert 0 < len(synthetic.rewards) <= 6 * 15 and meta["n_episodes"] <= 6
    assert np.abs(synthetic.actions).max() <= 1.0  # HalfCheetah's action space
    inside = ~(synthetic.terminations | synthetic.truncations)[:-1]  # rows whose episode goes on: s' is next s
    np.testing.assert_array_equal(synthetic.next_observations[:-1][inside], synthetic.observations[1:][inside])
    again = sample(model, str(root / "again.npz"))  # same seed, same data
    np.testing.assert_array_equal(again.observations, synthetic.observations)


def test_guided_samples_record_the_policy_and_scale(files):
    root, _, model, actor = files
    synthetic = sample(model, str(root / "guided.npz"), "--policy", actor, "--scale", "3")
    assert (synthetic.metadata["policy"], synthetic.metadata["guidance_scale"]) == (actor, 3.0)
    default = sample(model, str(root / "guided-default.npz"), "--policy", actor)
    assert default.metadata["guidance_scale"] == 1.0


def test_auto_scale_records_its_search(files, capsys):
    root, _, model, actor = files
    synthetic = sample(model, str(root / "auto.npz"), "--policy", actor, "--scale", "auto")
    auto = synthetic.metadata["auto"]
    assert synthetic.metadata["guidance_scale"] in GRID and list(auto["tried"])[0] == "0.0"
    assert f"auto: λ = {synthetic.metadata['guidance_scale']:g} (target log π {auto['target']:.2f}" in \
        capsys.readouterr().out
    fixed = sample(model, str(root / "auto-target.npz"), "--policy", actor, "--scale", "auto", "--auto-target=-1e9")
    assert fixed.metadata["guidance_scale"] == 0.0 and fixed.metadata["auto"]["target"] == -1e9  # λ = 0 reaches it


def test_train_agent_takes_auto_and_refuses_it_where_nothing_is_guided(files, capsys):
    root, data, model, _ = files
    main(["train-agent", data, "--diffusion", model, "--guidance-scale", "auto", "--epochs", "2",
          "--steps-per-epoch", "3", "--trajectories", "4", "--sampler-steps", "2", "--eval-episodes", "1"])
    assert ", auto: target log π " in capsys.readouterr().out
    assert "source 'unguided' has none" in refused(["train-agent", data, "--diffusion", model, "--data", "unguided",
                                                    "--guidance-scale", "auto"], capsys)
    assert "expected a number >= 0 or 'auto', got 'lots'" in refused(["train-agent", data, "--guidance-scale", "lots"],
                                                                      capsys)
    assert "--auto-target is the goal of --guidance-scale auto" in refused(
        ["train-agent", data, "--diffusion", model, "--auto-target", "-3"], capsys)


def test_bad_input_is_refused_and_writes_nothing(files, capsys, tmp_path):
    root, data, model, actor = files
    wrong = str(tmp_path / "wrong-actor.npz")
    TD3(4, 2, np.random.default_rng(0)).save_actor(wrong)
    out = str(tmp_path / "out.npz")
    cases = {
        "acts on 4 observation and 2 action dimensions, the diffusion model has 17 and 6": ["--policy", wrong],
        "λ must be >= 0": ["--policy", actor, "--scale", "-1"],
        "pass --policy ACTOR too": ["--scale", "1"],
        "--scale is the guidance towards --policy": ["--scale", "auto"],
        "--auto-target is the goal of --scale auto": ["--policy", actor, "--auto-target", "-3"],
        "is not an actor file": ["--policy", data],
    }
    for message, extra in cases.items():
        assert message in refused(["sample", model, "--out", out, *extra], capsys)
    assert "diffusion model" in refused(["sample", data, "--out", out], capsys)  # a dataset is not a model
    assert not Path(out).exists()
    Path(out).write_text("kept")
    assert "already exists; pass --force" in refused(["sample", model, "--out", out], capsys)
    assert "is also an input" in refused(["sample", model, "--out", model, "--force"], capsys)
    assert Path(out).read_text() == "kept"


def test_a_model_that_does_not_record_its_data_is_refused(files, tmp_path, capsys):
    _, _, model, _ = files
    old = TrajectoryDiffusion.load(model)
    old.data = None  # as models trained before minipgd kept it
    old.save(str(tmp_path / "old.npz"))
    message = refused(["sample", str(tmp_path / "old.npz"), "--out", str(tmp_path / "out.npz")], capsys)
    assert "does not record its training data's environment" in message
    assert not (tmp_path / "out.npz").exists()
