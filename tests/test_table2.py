"""The Table 2 runner: the smoke sweep end to end, units, resuming, parallel jobs, and the table's statistics."""
import json
import os
from dataclasses import replace

import numpy as np
import pytest

from minipgd.__main__ import main
from minipgd.analysis.stats import welch_p_value
from minipgd.experiments.fig4 import fig4_config
from minipgd.envs.dataset import load_dataset
from minipgd.envs.registry import make_env
from minipgd.envs.mujoco import step_from_observation
from minipgd.experiments.generation_checks import CHECKED_TRANSITIONS, POOL_CHECKED, generation_checks, pool_checks
from minipgd.experiments.generation_pool import epoch_slices, load_pool_generation, pool_path, pool_record
from minipgd.experiments.table2 import PRESETS, Table2Config, model_path, parse_unit, pool_needs, run_table2
from minipgd.experiments.simulated_dynamics import simulated, simulated_epochs
from minipgd.experiments.table2_report import (action_distance_markdown, final_noise_markdown,
                                               guiding_policy_markdown, model_error_markdown, per_model_markdown,
                                               pool_checks_markdown, pool_rewards_markdown, remaining_markdown,
                                               sampler_width_markdown, significantly_best, table2_markdown,
                                               welch_markdown)
from minipgd.rl.replay import as_float32
from minipgd.experiments.units import result_path


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("table2")
    argv = ["experiment", "table2", "--smoke", "--work-dir", str(root / "work"), "--results", str(root / "res"),
            "--figures", str(root / "fig")]
    main(argv)
    return root, argv


def test_smoke_sweep_writes_every_unit_and_the_report(smoke_sweep):
    root, _ = smoke_sweep
    config, results = Table2Config.smoke(), root / "res" / "table2" / "smoke"
    units = config.unit_names()
    assert units[:3] == ["model-maze2d-umaze-seed0", "pool-g0-maze2d-umaze-seed0", "pool-g1-maze2d-umaze-seed0"]
    assert len(units) == 1 + 2 + 2 * 4  # a model, its two pooled generations (2 epochs), 2 agents x 4 sources
    pools = {}
    for unit in units:
        result = json.loads(open(result_path(results, unit)).read())
        assert result["unit"] == unit and result["versions"]["numpy"]
        if result["kind"] == "pool":  # sampled once, read by every run that needs it
            assert result["transitions"] > 0 and result["settings"]["generation"] == int(unit[len("pool-g")])
            assert result["checks"]["transitions"] == POOL_CHECKED and result["checks"]["dataset_near_wall"] == 0
            pools[result["settings"]["generation"]] = result["fingerprint"]
            continue
        assert result["data"]["recipe"] == "waypoints"
        assert result["data"]["n_episodes"] > 0 and result["data"]["transitions"] == config.transitions
        if result["kind"] == "model":
            assert np.isfinite(result["dynamics_mse"]) and result["training"]["cpu"] > 0
            assert set(result["dynamics_mse_by_sampler_steps"]) == {"3", "32", "64", "128", "256"}
            assert result["dynamics_mse_by_sampler_steps_per_sample"]["64"] == [result["dynamics_mse_by_sampler_steps"]
                                                                                ["64"]]  # the smoke: one sample seed
            continue
        assert np.isfinite(result["final_score"]) and len(result["history"]) == 2  # the learning curve
        parts = result["seconds_by_part"]  # where the run's time went
        assert parts["generation"] + parts["updates"] + parts["evaluation"] <= parts["total"] <= result["seconds"]
        assert len(result["guidance_scales"]) == (1 if result["source"] in ("guided", "auto") else 0)
        read = [p["fingerprint"] for p in result["pooled_generations"]]
        assert read == {"real": [], "unguided": [pools[0], pools[1]]}.get(result["source"], [pools[0]])
        assert [g["pooled"] for g in result["generations"]] == [True] * len(read) + [False] * (2 - len(read)) * (
            result["source"] != "real")
        for generation in result["generations"]:  # Sec. 5.3's measures of each generation
            assert set(generation["inspected"]) == {"log_likelihood", "log_likelihood_real", "action_distance",
                                                    "action_distance_real", "dynamics_mse"}
            assert all(np.isfinite(v) for v in generation["inspected"].values())
        if result["source"] == "auto":  # the λ of its one guided generation (the first is unguided)
            assert result["algorithm2"]["guidance_scale"] == "auto" and result["guidance_scales"][0] >= 0
    states = [path for path in (root / "work" / "runs").rglob("*") if path.is_file()]
    assert not states  # the run states are removed once the results are written
    table = (root / "res" / "table2-smoke.md").read_text()
    assert "python -m minipgd experiment table2 --smoke" in table and "11 of 11 unit results" in table
    assert "| maze2d-umaze |" in table and "76.2 ± 17.4" in table  # ours, then the paper's row
    assert "relative to the mean state variance" in table and "λ automatic guidance chose" in table
    assert "How far guidance moved the actions" in table and "| maze2d-umaze | 0 | 2 |" in table  # pool checks
    assert "| maze2d-umaze | TD3+BC | Guided (auto λ) | 1 |" in table  # Sec. 5.3's measures of its generations
    assert (root / "fig" / "table2-smoke_curves.png").stat().st_size > 0


def test_rerun_redoes_nothing_and_an_interrupted_sweep_redoes_only_what_is_missing(smoke_sweep):
    root, _ = smoke_sweep
    config, results, lines = Table2Config.smoke(), root / "res" / "table2" / "smoke", []
    run_table2(root / "work", results, config, log=lines.append)
    assert lines == [f"11 of 11 units have results in {results}; running 0"]
    lost = result_path(results, "iql-guided-maze2d-umaze-seed0")
    before = json.loads(open(lost).read())
    os.remove(lost)
    os.remove(model_path(root / "work", "maze2d-umaze", 0))  # as on another machine: the model is not there
    lines.clear()
    run_table2(root / "work", results, config, jobs=2, log=lines.append)  # worker processes, each under the policy
    assert lines[0] == f"10 of 11 units have results in {results}; running 1"
    assert lines[1].startswith("trained the model of maze2d-umaze seed 0")  # retrained: the unit needs it
    after = json.loads(open(lost).read())
    assert after["history"] == before["history"]  # same seed, same run, also in another process


def test_one_unit_runs_by_name_and_the_report_comes_from_the_files_alone(smoke_sweep, capsys):
    root, argv = smoke_sweep
    with pytest.raises(ValueError, match="no unit 'td3bc-guided-maze2d-large-seed0'"):
        run_table2(root / "work", root / "res" / "table2" / "smoke", Table2Config.smoke(),
                   only=["td3bc-guided-maze2d-large-seed0"])
    main(argv + ["--list-units"])
    assert capsys.readouterr().out.split() == Table2Config.smoke().unit_names()
    main(argv + ["--report-only", "--force", "--work-dir", str(root / "empty")])
    assert not (root / "empty").exists()  # nothing ran
    assert "11 of 11 unit results" in (root / "res" / "table2-smoke.md").read_text()


def test_unit_names_parse_back():
    config = PRESETS["paper-scale"]
    assert len(config.unit_names()) == 5 * 4 + 5 * 4 * 4 + 5 * 4 * 2 * 4  # models, pooled generations, agent runs
    assert parse_unit("model-hopper-medium-replay-seed3") == ("model", ("hopper-medium-replay", 3))
    assert parse_unit("pool-g2-maze2d-umaze-seed1") == ("pool", ("maze2d-umaze", 1, 2))
    assert parse_unit("td3bc-auto-hopper-medium-replay-seed2") == ("agent",
                                                                   ("td3bc", "auto", "hopper-medium-replay", 2))
    assert config.agent_config("auto").guidance_scale == "auto" and config.agent_config("auto").source == "guided"


def test_a_work_folder_refuses_a_sweep_with_other_settings(smoke_sweep):
    root, _ = smoke_sweep
    with pytest.raises(ValueError, match="other settings"):
        run_table2(root / "work", root / "other", Table2Config(datasets=("maze2d-umaze",), seeds=(0,)))


def test_significance_marks_only_a_clearly_better_group():
    clear = {"real": [10.0, 11.0, 10.5, 10.2], "unguided": [9.0, 10.0, 9.5, 9.8], "guided": [20.0, 21.0, 20.5, 19.9]}
    assert significantly_best(clear) == {"guided"}
    two = {"real": [10.0, 11.0, 10.5, 10.2], "unguided": [20.1, 21.2, 20.0, 19.7], "guided": [20.0, 21.0, 20.5, 19.9]}
    assert significantly_best(two) == {"guided", "unguided"}
    noisy = {"real": [0.0, 30.0, 10.0, 20.0], "unguided": [5.0, 25.0, 15.0, 12.0], "guided": [1.0, 40.0, 20.0, 9.0]}
    assert significantly_best(noisy) == set()


def test_table_has_block_totals_over_per_seed_means():
    config = Table2Config(datasets=("maze2d-umaze", "maze2d-medium"), seeds=(0, 1), agents=("td3bc",))
    results = [{"dataset": name, "agent": "td3bc", "source": source, "seed": seed,
                "final_score": score + seed + (10.0 if name == "maze2d-medium" else 0.0)}
               for name in config.datasets for seed in config.seeds
               for source, score in (("real", 1.0), ("unguided", 2.0), ("guided", 3.0))]
    table = table2_markdown(results, config)
    # real: seeds 0/1 give umaze 1/2 and medium 11/12 -> totals 6, 7 -> 6.5 ± 0.5
    assert "| *Maze2d total* | 6.5 ± 0.5 | 7.5 ± 0.5 | 8.5 ± 0.5 |" in table


def test_every_preset_but_the_smoke_is_a_choice_of_the_command_line(capsys):
    for preset in set(PRESETS) - {"smoke"}:
        main(["experiment", "table2", "--preset", preset, "--list-units"])
        assert capsys.readouterr().out.split() == PRESETS[preset].unit_names()
    with pytest.raises(SystemExit):
        main(["experiment", "table2", "--preset", "smoke", "--list-units"])  # that one is --smoke
    assert "invalid choice: 'smoke'" in capsys.readouterr().err


def test_preset_is_refused_for_other_experiments(capsys):
    with pytest.raises(SystemExit, match="--preset is an option of `experiment table2`"):
        main(["experiment", "section53", "--preset", "paper-scale", "--list-units"])


def test_a_bad_job_count_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="--jobs must be positive"):
        run_table2(tmp_path / "work", tmp_path / "res", Table2Config.smoke(), jobs=0)
    assert not list(tmp_path.iterdir())


def test_welch_table_gives_differences_and_p_values_per_cell_and_pooled():
    config = Table2Config(datasets=("maze2d-umaze", "maze2d-medium"), seeds=(0, 1, 2), agents=("td3bc",))
    offset = {"real": 0.0, "unguided": -1.0, "guided": 5.0}
    results = [{"dataset": name, "agent": "td3bc", "source": source, "seed": seed,
                "final_score": offset[source] + [0.0, 1.0, 3.0][seed] * (1 + (source == "guided"))}
               for name in config.datasets for seed in config.seeds for source in config.sources]
    table = welch_markdown(results, config)
    guided, real = [5.0, 7.0, 11.0], [0.0, 1.0, 3.0]  # every cell, and so the pooled per-seed means
    p = welch_p_value(guided, real)
    assert f"| maze2d-umaze, TD3+BC | {np.mean(guided) - np.mean(real):+.1f} (p = {p:.3g}) |" in table
    assert f"| *Maze2d, pooled over datasets and agents* | +6.3 (p = {p:.3g}) |" in table


def test_sampler_width_table_is_relative_to_the_widest_model_at_256_steps():
    def model(features, errors):
        return {"dataset": "maze2d-umaze", "seed": 0, "model": {"features": features}, "training": {"cpu": 600.0},
                "dynamics_mse_by_sampler_steps": dict(zip(("32", "64", "256"), errors))}

    wide = model(128, (0.0030, 0.0028, 0.0025))
    wide["dynamics_mse_by_sampler_steps_per_sample"] = {"32": [0.0029, 0.0031], "64": [0.0028, 0.0028],
                                                        "256": [0.0024, 0.0026]}  # the means above
    table = sampler_width_markdown([wide], [model(64, (0.005, 0.0045, 0.004))])
    assert "| maze2d-umaze | 0 | 64 | 10.0 | 0.0050 (2.00x) | 0.0045 (1.80x) | — | 0.0040 (1.60x) |" in table
    assert ("| maze2d-umaze | 0 | 128 | 10.0 | 0.0030 ± 0.0001 (1.20x) | 0.0028 ± 0.0000 (1.12x) | — | "
            "0.0025 ± 0.0001 (1.00x) |") in table  # 128 steps not measured: a dash in its column


def test_a_pooled_generation_made_from_other_settings_is_refused(smoke_sweep):
    root, _ = smoke_sweep
    a2 = Table2Config.smoke().algorithm2
    path = pool_path(root / "work", "maze2d-umaze", 0, 0, a2.n_trajectories, a2.sampler_steps)
    record = pool_record(path)
    transitions, digest = load_pool_generation(path, record["settings"])
    assert len(transitions["rewards"]) == record["transitions"] and digest == record["fingerprint"]
    settings = record["settings"]
    with pytest.raises(ValueError, match="was sampled with .* not with .*delete it to sample it again"):
        load_pool_generation(path, {**settings, "sampler_steps": settings["sampler_steps"] + 1})


def test_presets_with_the_same_models_share_a_work_folder_and_keep_their_own_pools(smoke_sweep):
    root, _ = smoke_sweep
    config = Table2Config.smoke()
    other = replace(config, algorithm2=replace(config.algorithm2, sampler_steps=4))
    assert other.work_name() == config.work_name()  # the same models: the same default work folder
    results = run_table2(root / "work", root / "other", other, only=["pool-g0-maze2d-umaze-seed0"], log=print)
    assert results["pool-g0-maze2d-umaze-seed0"]["settings"]["sampler_steps"] == 4
    for steps in (3, 4):  # both pools are there, each under its own settings
        assert os.path.exists(pool_path(root / "work", "maze2d-umaze", 0, 0, config.algorithm2.n_trajectories, steps))


def test_fig4_runs_continuous_generation_beside_the_table2_periodic_runs(smoke_sweep):
    root, _ = smoke_sweep
    main(["experiment", "fig4", "--smoke", "--work-dir", str(root / "work"), "--results", str(root / "res"),
          "--figures", str(root / "fig")])
    config, table2 = fig4_config(smoke=True), root / "res" / "table2" / "smoke"
    pools = [json.loads(open(result_path(table2, f"pool-g{g}-maze2d-umaze-seed0")).read())["fingerprint"]
             for g in (0, 1)]
    assert config.unit_names() == [f"{agent}-{source}-maze2d-umaze-seed0" for agent in ("iql", "td3bc")
                                   for source in ("unguided", "guided")]  # the models and pools are Table 2's
    for unit in config.unit_names():
        result = json.loads(open(result_path(root / "res" / "fig4-smoke", unit)).read())
        assert result["algorithm2"]["generation"] == "continuous" and len(result["generations"]) == 4
        # the Table 2 sweep's pooled generations, two small epochs from each: all four of an unguided run's
        # epochs, a guided run's first
        assert [p["fingerprint"] for p in result["pooled_generations"]] == pools[:2 if result["source"] ==
                                                                                   "unguided" else 1]
        assert [g["pooled"] for g in result["generations"]] == [True] * 4 if result["source"] == "unguided" else \
            [True, False, False, False]
    table = (root / "res" / "fig4.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| maze2d-umaze |"))
    assert "—" not in row and len(row.split("|")) == 2 + 1 + 5  # all five arms: real, periodic and continuous
    assert "continuous generation scores below periodic" in table
    assert (root / "fig" / "fig4_generation.png").stat().st_size > 0


def _trajectories(lengths, terminal_last=()):
    """Transitions of trajectories of `lengths` rows, marked as `windows_to_transitions` marks them: the last row
    of each terminal (those in `terminal_last`) or truncated."""
    n = sum(lengths)
    ends = np.cumsum(lengths) - 1
    terminations, truncations = np.zeros(n, bool), np.zeros(n, bool)
    for i, end in enumerate(ends):
        (terminations if i in terminal_last else truncations)[end] = True
    return {"rewards": np.arange(n, dtype=np.float32), "terminations": terminations, "truncations": truncations}


def test_epoch_slices_cut_a_pooled_generation_into_consecutive_whole_trajectories():
    transitions = _trajectories([3, 1, 3, 2, 3], terminal_last=(1,))  # the second ended at a terminal state
    assert epoch_slices(transitions, 1, 1) == [transitions]  # a generation of one epoch's size is read whole
    first, second = epoch_slices(transitions, 3, 2)  # 5 trajectories in 3 slices (1, 2, 2): the first two
    assert first["rewards"].tolist() == [0, 1, 2] and second["rewards"].tolist() == [3, 4, 5, 6]
    assert second["terminations"].tolist() == [True, False, False, False] and second["truncations"].sum() == 1
    every = epoch_slices(transitions, 5, 5)
    assert np.concatenate([s["rewards"] for s in every]).tolist() == transitions["rewards"].tolist()
    with pytest.raises(ValueError, match="a pooled generation of 5 trajectories cannot be cut into 6 epochs"):
        epoch_slices(transitions, 6, 1)


def test_fig4_reads_the_tiers_pooled_generations_in_slices():
    fig4, tier = Table2Config.fig4(), PRESETS["headline"]
    a2 = fig4.algorithm2
    assert fig4.pool_size() == tier.pool_size() == 2**13 and a2.sampler_steps == tier.algorithm2.sampler_steps
    assert fig4.work_name() == tier.work_name()  # the same files: the same models, pools and folder
    assert a2.n_trajectories == 328 and fig4.epochs_per_pool() == 25 and 25 * 4 == a2.n_epochs
    assert pool_needs(fig4, "unguided") == 4 and pool_needs(fig4, "guided") == 1  # its first epoch
    assert [pool_needs(tier, source) for source in ("real", "unguided", "guided", "auto")] == [0, 4, 1, 1]
    with pytest.raises(ValueError, match="pooled_trajectories must be at least a generation's 328"):
        replace(fig4, pooled_trajectories=300)


class _Centered:
    """A policy N(0, 1) on every action dimension: log π(a|s) = −|a|²/2 − d log √(2π)."""

    def log_prob(self, states, actions):
        return -0.5 * np.sum(actions**2, axis=-1) - actions.shape[-1] * 0.5 * np.log(2 * np.pi)

    def mean_std(self, states):
        return np.zeros((len(states), 2)), np.ones((len(states), 2))


def test_generation_checks_measure_likelihood_and_dynamics_against_the_simulator(smoke_sweep):
    root, _ = smoke_sweep
    dataset = load_dataset(root / "work" / "data" / "maze2d-umaze.npz")
    real = dataset.arrays()
    inspect = generation_checks(make_env(dataset.metadata["env_id"]), real, seed=0)
    exact = inspect(0, real, _Centered())  # the dataset itself: the simulator made it
    assert exact["dynamics_mse"] < 1e-10 and exact == inspect(0, real, _Centered())  # and the same draws again
    assert exact["log_likelihood"] < -0.5 * 2 * np.log(2 * np.pi)  # actions are not all 0
    moved = inspect(0, {**real, "next_observations": real["next_observations"] + 0.1}, _Centered())
    assert moved["dynamics_mse"] == pytest.approx(0.01, rel=1e-3)  # 0.1² in every state dimension
    assert exact["action_distance"] == pytest.approx(-2 * (exact["log_likelihood"] + np.log(2 * np.pi)))  # σ = 1
    still = inspect(0, {**real, "actions": np.zeros_like(real["actions"])}, _Centered())
    assert still["log_likelihood"] == pytest.approx(-np.log(2 * np.pi))  # the most likely actions
    assert still["action_distance"] == 0 and still["action_distance_real"] == exact["action_distance_real"] > 0
    assert still["log_likelihood_real"] == exact["log_likelihood_real"] < still["log_likelihood"]
    assert CHECKED_TRANSITIONS == 1_024


def test_pool_checks_split_a_mazes_one_step_error_at_the_walls(smoke_sweep):
    root, _ = smoke_sweep
    dataset = load_dataset(root / "work" / "data" / "maze2d-umaze.npz")
    env, real = make_env(dataset.metadata["env_id"]), dataset.arrays()
    exact = pool_checks(env, real, real, seed=0, generation=0)
    rewarded = exact.pop("rewarded")  # of the draws: near the dataset's share
    assert exact == {  # the dataset keeps clear of the walls, and its rewards are the evaluation goal's
        "transitions": POOL_CHECKED, "dynamics_mse": 0.0, "near_wall": 0.0, "in_wall": 0.0, "dataset_near_wall": 0.0,
        "dynamics_mse_near_wall": None, "dynamics_mse_away": 0.0, "reward_mse": 0.0,
        "dataset_rewarded": np.mean(real["rewards"] > 0.5), "reward_mismatch": 0.0}
    assert 0 < rewarded == pytest.approx(exact["dataset_rewarded"], abs=0.03)
    centre = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))  # a wall 0.5 to its left
    still = np.array([[centre[0], centre[1], 0.0, 0.0], [centre[0] - 0.38, centre[1], 0.0, 0.0]])  # gap 0.4, 0.02
    inside = {"observations": still - [[0, 0, 0, 0], [0.05, 0, 0, 0]]}  # the second 0.03 into the wall
    after = np.stack([step_from_observation(env, s, np.zeros(2))[0] for s in still]) + [[0, 0, 0, 0], [0.1] * 4]
    pair = {"observations": still, "actions": np.zeros((2, 2)), "next_observations": after, "rewards": np.zeros(2)}
    checks = pool_checks(env, pair, real, seed=0, generation=0)  # 4,096 draws of the two, the near one off by 0.1
    assert checks["dynamics_mse_near_wall"] == pytest.approx(0.01) and checks["dynamics_mse_away"] == 0
    assert checks["dynamics_mse"] == pytest.approx(0.01 * checks["near_wall"]) and 0.45 < checks["near_wall"] < 0.55
    assert pool_checks(env, pair, real, seed=0, generation=1) != checks  # each generation its own draws
    assert checks["in_wall"] == 0 and pool_checks(env, {**pair, **inside}, real, 0, 0)["in_wall"] == checks[
        "near_wall"]  # the same draws: the near ones are now in the wall
    # both balls sit within the success radius of the evaluation goal, cell (1, 1): reward 1, recorded as 0
    assert (checks["rewarded"], checks["reward_mismatch"], checks["reward_mse"]) == (0, 1, 1)
    rewarded = pool_checks(env, {**pair, "rewards": np.ones(2)}, real, 0, 0)
    assert (rewarded["rewarded"], rewarded["reward_mismatch"], rewarded["reward_mse"]) == (1, 0, 0)


def test_simulated_transitions_carry_the_simulators_dynamics_and_drop_balls_inside_walls(smoke_sweep):
    root, _ = smoke_sweep
    dataset = load_dataset(root / "work" / "data" / "maze2d-umaze.npz")
    env, real = make_env(dataset.metadata["env_id"]), as_float32(dataset.arrays())
    same, dropped = simulated(env, real)  # the dataset: the simulator made it, with these rewards
    assert dropped == 0 and {name: values.dtype for name, values in same.items()} == {
        name: values.dtype for name, values in real.items()}
    for name, values in real.items():
        np.testing.assert_allclose(same[name], values, rtol=0, atol=1e-6)
    wrong = {**real, "next_observations": real["next_observations"] + 1, "rewards": 1 - real["rewards"]}
    inside = real["observations"][:3] * [0, 0, 1, 1] + [*env.unwrapped.maze.cell_rowcol_to_xy(np.array([0, 0])), 0, 0]
    wrong["observations"] = np.concatenate([inside, real["observations"][3:]]).astype(np.float32)  # in a wall cell
    fixed, dropped = simulated(env, wrong)
    assert dropped == 3
    for name, values in real.items():
        np.testing.assert_allclose(fixed[name], values[3:], rtol=0, atol=1e-6)
    epochs, record = simulated_epochs(env, [wrong, real])
    assert record["transitions"] == [len(real["rewards"])] * 2 and record["dropped_in_wall"] == [3, 0]
    np.testing.assert_allclose(epochs[1]["next_observations"], real["next_observations"], rtol=0, atol=1e-6)


def test_the_model_error_ablation_runs_unguided_data_on_the_simulators_dynamics(smoke_sweep):
    root, _ = smoke_sweep
    config = replace(Table2Config.smoke(), sources=("unguided",), model_units=False, dynamics="simulator")
    unit = "td3bc-unguided-maze2d-umaze-seed0"
    result = run_table2(root / "work", root / "res" / "table2" / "model-error", config, only=[unit], log=print)[unit]
    tier = json.loads(open(result_path(root / "res" / "table2" / "smoke", unit)).read())
    assert result["dynamics"] == "simulator" and tier["dynamics"] == "model"
    assert result["pooled_generations"] == tier["pooled_generations"]  # the same pooled generations
    pools = [json.loads(open(result_path(root / "res" / "table2" / "smoke", f"pool-g{g}-maze2d-umaze-seed0")).read())
             for g in (0, 1)]
    assert result["simulation"]["transitions"] == [pool["transitions"] for pool in pools]
    assert len(result["simulation"]["dropped_in_wall"]) == 2 and result["simulation"]["seconds"] > 0
    # the data is the simulator's: its one-step dynamics error is 0 where the model's was not
    assert all(g["inspected"]["dynamics_mse"] < 1e-10 for g in result["generations"])
    assert all(g["inspected"]["dynamics_mse"] > 0 for g in tier["generations"])
    assert PRESETS["model-error"].unit_names() == [u for u in PRESETS["headline"].unit_names() if "-unguided-" in u]
    with pytest.raises(ValueError, match="dynamics must be one of .* with the unguided source alone"):
        replace(config, sources=("unguided", "guided"))
    with pytest.raises(ValueError, match="dynamics must be one of"):
        replace(config, dynamics="world model")


def test_the_model_error_table_sets_the_simulators_dynamics_beside_the_models():
    config = replace(PRESETS["model-error"], datasets=("maze2d-medium",), agents=("iql",), seeds=(0, 1))
    simulation = {"transitions": [100, 100], "dropped_in_wall": [10, 30], "seconds": 1.0}
    runs = [{"dataset": "maze2d-medium", "agent": "iql", "source": "unguided", "seed": seed, "final_score": score,
             "simulation": simulation} for seed, score in ((0, 20.0), (1, 30.0))]
    tier = [{"dataset": "maze2d-medium", "agent": "iql", "source": source, "seed": seed, "final_score": score}
            for source, scores in (("real", (22.0, 26.0, 90.0)), ("unguided", (10.0, 12.0, 90.0))) for seed, score in
            enumerate(scores)]  # seed 2 has no ablation run: left out
    rows = model_error_markdown(runs, tier, config).splitlines()[2:]
    assert rows == [f"| maze2d-medium | IQL | 24.0 ± 2.0 | 11.0 ± 1.0 | 25.0 ± 5.0 | "
                    f"+14.0 (p = {welch_p_value([20, 30], [10, 12]):.3g}) | "
                    f"+1.0 (p = {welch_p_value([20, 30], [22, 26]):.3g}) | 0.200 |"]
    assert model_error_markdown([], tier, config).splitlines()[2:] == []


def test_the_reward_table_averages_a_models_generations():
    config = replace(Table2Config.smoke(), seeds=(0, 1))
    checks = [{"reward_mse": mse, "rewarded": share, "dataset_rewarded": 0.08, "reward_mismatch": wrong}
              for mse, share, wrong in ((0.01, 0.06, 0.01), (0.03, 0.08, 0.02))]
    pools = {f"pool-g{g}": {"kind": "pool", "dataset": "maze2d-umaze", "seed": 1, "checks": c}
             for g, c in enumerate(checks)}
    pools["pool-old"] = {"kind": "pool", "dataset": "maze2d-umaze", "seed": 0, "checks": {"dynamics_mse": 0.1}}
    assert pool_rewards_markdown(pools, config).splitlines()[2:] == [
        "| maze2d-umaze | 1 | 2 | 0.0200 | 0.070 (0.080) | 0.015 |"]
    assert pool_rewards_markdown({"pool-old": pools["pool-old"]}, config) == ""


def test_the_pool_checks_table_averages_a_models_generations():
    config = replace(Table2Config.smoke(), seeds=(0, 1))
    checks = [{"transitions": 4, "dynamics_mse": mse, "near_wall": near, "in_wall": near / 5, "dataset_near_wall": 0.0,
               "dynamics_mse_near_wall": at_walls, "dynamics_mse_away": away}
              for mse, near, at_walls, away in ((0.2, 0.5, 0.4, 0.0), (0.1, 0.25, 0.3, 0.0333))]
    pools = {f"pool-g{g}": {"kind": "pool", "dataset": "maze2d-umaze", "seed": 1, "checks": c}
             for g, c in enumerate(checks)}
    pools["pool-old"] = {"kind": "pool", "dataset": "maze2d-umaze", "seed": 0}  # recorded before the checks
    # part near the walls: 0.5 * 0.4 / 0.2 = 1.0 and 0.25 * 0.3 / 0.1 = 0.75
    assert pool_checks_markdown(pools, config).splitlines()[2:] == [
        "| maze2d-umaze | 1 | 2 | 0.1500 | 0.375 (0.000) | 0.075 | 0.3500 | 0.0167 | 0.88 |"]
    assert pool_checks_markdown({"pool-old": pools["pool-old"]}, config) == ""


def test_the_action_distance_table_averages_generations_then_runs():
    config = replace(Table2Config.smoke(), seeds=(0, 1), agents=("td3bc",))
    checks = [[(1.0, 1.2), (0.4, 0.8), (0.2, 0.6)], [(1.0, 1.0), (0.6, 0.8), (0.6, 0.8)]]  # (synthetic, dataset)
    runs = {f"run-{seed}": {"kind": "agent", "dataset": "maze2d-umaze", "agent": "td3bc", "source": "guided",
                            "seed": seed, "generations": [{"inspected": {"action_distance": syn,
                                                                         "action_distance_real": data}}
                                                          for syn, data in gens]}
            for seed, gens in enumerate(checks)}
    older = {"kind": "agent", "dataset": "maze2d-umaze", "agent": "td3bc", "source": "unguided", "seed": 0,
             "generations": [{"inspected": {"log_likelihood": 0.0}}]}  # recorded before the distances
    rows = action_distance_markdown({**runs, "older": older}, config).splitlines()[2:]
    assert rows == ["| maze2d-umaze | TD3+BC | Guided | 2 | 1.000 ± 0.000 | 1.100 ± 0.100 | 0.450 ± 0.150 | "
                    "0.750 ± 0.050 |"]  # later generations: 0.3 and 0.6 synthetic, 0.7 and 0.8 dataset
    assert action_distance_markdown({"older": older}, config) == ""


def test_the_noise_table_sets_a_final_score_beside_the_end_of_its_learning_curve():
    config = replace(Table2Config.smoke(), sources=("real",), agents=("td3bc",))
    curves = [[0, 0, 0, 0, 0, 10, 20, 10, 20, 30], [5, 5, 5, 5, 5, 30, 10, 30, 10, 20]]
    runs = [{"dataset": "maze2d-umaze", "agent": "td3bc", "source": "real", "seed": seed,
             "history": [(step, score) for step, score in enumerate(scores)]} for seed, scores in enumerate(curves)]
    table = final_noise_markdown(runs, config)  # last five: 10 20 10 20 30 (mean 18) and 30 10 30 10 20 (mean 20)
    sd = np.mean([np.std([10, 20, 10, 20, 30], ddof=1), np.std([30, 10, 30, 10, 20], ddof=1)])
    # rise over the five before: 18 - 0 and 20 - 5 -> 16.5 ± 1.5
    assert f"| maze2d-umaze | TD3+BC | Dataset | 2 | 25.0 ± 5.0 | 19.0 ± 1.0 | {sd:.1f} | 16.5 ± 1.5 |" in table
    short = [dict(run, history=run["history"][-6:]) for run in runs]  # no five before the last five
    assert f"| {sd:.1f} | — |" in final_noise_markdown(short, config)


def test_the_guiding_policy_table_reads_the_scores_when_each_generation_was_made():
    smoke = Table2Config.smoke()
    config = replace(smoke, seeds=(0, 1, 2), agents=("td3bc",),  # 2 epochs of 2 updates: one guided generation
                     algorithm2=replace(smoke.algorithm2, n_epochs=2, steps_per_epoch=2))
    history = {"guided": [[1, 50.0], [2, 10.0], [3, 30.0], [4, 40.0]], "real": [[2, 20.0], [4, 25.0]]}
    runs = [{"dataset": "maze2d-umaze", "agent": "td3bc", "source": source, "seed": seed, "history": curve,
             "final_score": curve[-1][1] + seed} for source, curve in history.items() for seed in (0, 1)]
    odd = dict(runs[0], seed=2, history=[[1, 0.0], [3, 60.0], [4, 5.0]], final_score=5.0)  # none at step 2
    rows = guiding_policy_markdown(runs + [odd], config).splitlines()[2:]  # guiding: 10, 10 and 0 (step 1's)
    assert rows == ["| maze2d-umaze | TD3+BC | Guided | 3 | 6.7 ± 3.3 | 20.0 ± 0.0 | — | 28.7 ± 11.8 |"]


def test_the_per_model_table_sets_each_models_error_beside_its_seeds_gains():
    config = replace(Table2Config.smoke(), seeds=(0, 1), agents=("td3bc",))
    models = {f"model-{seed}": {"kind": "model", "dataset": "maze2d-umaze", "seed": seed, "dynamics_mse": mse}
              for seed, mse in ((1, 0.5), (0, 0.25))}
    finals = {("real", 0): 10.0, ("unguided", 0): 5.0, ("guided", 0): 12.5, ("real", 1): 10.0, ("guided", 1): 7.0}
    runs = {f"run-{source}-{seed}": {"kind": "agent", "dataset": "maze2d-umaze", "agent": "td3bc", "source": source,
                                     "seed": seed, "final_score": score} for (source, seed), score in finals.items()}
    pools = {f"pool-g{g}-0": {"kind": "pool", "dataset": "maze2d-umaze", "seed": 0, "checks": {"in_wall": share}}
             for g, share in enumerate((0.1, 0.2))}  # seed 1's pools were recorded before the checks
    table = per_model_markdown({**models, **runs, **pools}, config).splitlines()
    assert table[2:] == ["| maze2d-umaze | 0 | 0.2500 | 0.150 | +2.5 | +7.5 |",  # seed order; seed 1 lacks its
                         "| maze2d-umaze | 1 | 0.5000 | — | -3.0 | — |"]  # unguided run


def test_what_is_left_is_priced_by_the_median_of_the_units_that_ran():
    config = replace(Table2Config.smoke(), seeds=(0, 1, 2, 3), agents=("td3bc",), sources=("real", "guided"))
    hour = 3600.0
    ran = {"model-maze2d-umaze-seed0": {"kind": "model", "seconds": 0.25 * hour, "training": {"cpu": 0.75 * hour}},
           "pool-g0-maze2d-umaze-seed0": {"kind": "pool", "seconds": 9 * hour, "cpu_seconds": 0.5 * hour},
           **{f"td3bc-real-maze2d-umaze-seed{seed}": {"kind": "agent", "seconds_by_part": {"total": hours * hour}}
              for seed, hours in ((0, 0.2), (1, 0.05), (2, 0.3))}}  # seed 1: resumed, its last part only
    rows = remaining_markdown(ran, config).splitlines()[2:]
    assert rows == [
        "| models (training, fidelity check) | 3 | 1.00 (1) | 3.0 | model-maze2d-umaze-seed1, "
        "model-maze2d-umaze-seed2, model-maze2d-umaze-seed3 |",
        "| pooled unguided generations | 3 | 0.50 (1) | 1.5 | pool-g0-maze2d-umaze-seed1, pool-g0-maze2d-umaze-seed2, "
        "pool-g0-maze2d-umaze-seed3 |",  # guided runs read generation 0 only
        "| TD3+BC, Guided | 4 | — | — | td3bc-guided-maze2d-umaze-seed0, td3bc-guided-maze2d-umaze-seed1, "
        "td3bc-guided-maze2d-umaze-seed2, td3bc-guided-maze2d-umaze-seed3 |",  # no guided run yet: not priced
        "| TD3+BC, Dataset | 1 | 0.20 (3) | 0.2 | td3bc-real-maze2d-umaze-seed3 |",  # the median, not the mean 0.18
        "| *all* | 11 | | 4.7 and 4 units not yet priced | |"]
    everything = {unit: ran["td3bc-real-maze2d-umaze-seed0"] for unit in config.unit_names()}
    assert remaining_markdown(everything, config) == ""
    assert remaining_markdown({}, config).endswith("| *all* | 16 | | — (none of these kinds has run yet) | |\n")
