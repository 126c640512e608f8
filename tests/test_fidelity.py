"""The fidelity frontier: its metrics on real data, and the sweep end to end at toy size."""
import json

import numpy as np
import pytest

from minipgd.__main__ import main
from minipgd.analysis.dynamics_error import dynamics_error, reward_error
from minipgd.diffusion import TrajectoryLayout
from minipgd.diffusion.windows import trajectory_windows
from minipgd.envs.registry import make_env
from minipgd.experiments.fidelity import PETS, FidelityConfig, model_path
from minipgd.recipes.collect import collect_dataset


def test_reward_and_dynamics_errors_are_zero_on_real_windows():
    dataset = collect_dataset("halfcheetah-medium", 300, seed=0, log=lambda _: None)
    raw = trajectory_windows(dataset, horizon=8, log=lambda _: None)[:20]
    layout, env = TrajectoryLayout(dataset.obs_dim, dataset.act_dim), make_env(dataset.metadata["env_id"])
    assert np.max(reward_error(env, raw, layout)) < 1e-10
    assert np.max(dynamics_error(env, raw, layout)) < 1e-10


def test_reward_error_sees_a_wrong_reward():
    dataset = collect_dataset("halfcheetah-random", 100, seed=0, log=lambda _: None)
    raw = trajectory_windows(dataset, horizon=4, log=lambda _: None)[:3]
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    raw[:, layout.reward, 2] += 0.5
    error = reward_error(make_env(dataset.metadata["env_id"]), raw, layout)
    np.testing.assert_allclose(error[:, 2], 0.25, rtol=1e-8)
    assert np.max(np.delete(error, 2, axis=1)) < 1e-10


def test_every_unit_of_the_sweep_keeps_its_own_model(tmp_path):
    """Two units that differ in any setting (the dataset size included) must not share a cached model."""
    config = FidelityConfig()
    paths = {model_path(str(tmp_path), config, unit) for unit in config.units}
    assert len(paths) == len(config.units) == len({unit.name for unit in config.units})


def _fidelity(tmp_path, *extra):
    main(["experiment", "fidelity", "--smoke", "--work-dir", str(tmp_path / "work"), "--results", str(tmp_path),
          "--figures", str(tmp_path), *extra])


def test_smoke_frontier_runs_every_unit_and_reports_from_the_result_files(tmp_path, capsys):
    config = FidelityConfig.smoke()
    _fidelity(tmp_path)
    files = sorted(p.stem for p in (tmp_path / "fidelity").glob("*.json"))
    assert files == sorted(config.unit_names())
    unit = json.loads((tmp_path / "fidelity" / f"{config.units[0].name}.json").read_text())
    assert unit["training"]["cpu"] > 0 and unit["training"]["step"] == config.units[0].train_steps
    assert {"numpy", "numba", "mujoco", "python", "minipgd"} <= set(unit["versions"]) and unit["machine"]["cores"] >= 1
    assert [e["sampler_steps"] for e in unit["evaluations"]] == list(config.sampler_steps)
    table = (tmp_path / "diffusion_fidelity.md").read_text()
    assert table.count("\n| diffusion |") == len(config.units) * len(config.sampler_steps)
    assert "\n| PETS, behavior policy |" in table
    assert (tmp_path / "fidelity_frontier.png").stat().st_size > 0
    assert not list((tmp_path / "work").glob("*.run.npz"))  # training state removed once a model is saved

    capsys.readouterr()
    first = tmp_path / "fidelity" / f"{config.units[0].name}.json"
    (tmp_path / "fidelity" / f"{PETS}.json").unlink()
    first.unlink()
    _fidelity(tmp_path, "--force", "--unit", PETS)  # only the named unit runs
    n = len(config.unit_names())
    assert f"{n - 2} of {n} units have results in {tmp_path / 'fidelity'}; running 1" in capsys.readouterr().out
    assert (tmp_path / "fidelity" / f"{PETS}.json").exists() and not first.exists()
    _fidelity(tmp_path, "--force")  # the rest: the missing unit, its model loaded from the work folder
    assert f"{n - 1} of {n} units have results in {tmp_path / 'fidelity'}; running 1" in capsys.readouterr().out
    _fidelity(tmp_path, "--force", "--report-only")
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert [line for line in (tmp_path / "diffusion_fidelity.md").read_text().splitlines()
            if line.startswith("| ")] == rows  # the same table from the result files alone


def test_an_unknown_unit_is_refused_before_any_work(tmp_path):
    with pytest.raises(SystemExit, match="no unit 'F999'"):
        _fidelity(tmp_path, "--unit", "F999")
    assert not list(tmp_path.rglob("*.npz")) and not list(tmp_path.rglob("*.json"))
