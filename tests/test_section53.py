"""The Section 5.3 pipeline end to end in its tiny configuration: unit files, figures, table, cached models."""

import numpy as np
import pytest

from minipgd.__main__ import main
from minipgd.experiments.report import NOTES_MARKER
from minipgd.experiments.section53 import Section53Config, merge_results
from minipgd.experiments.units import load_results
from minipgd.rl.auto_scale import GRID
from minipgd.experiments.section53_report import matched_lambda


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("section53")
    argv = ["experiment", "section53", "--smoke", "--work-dir", str(root / "work"), "--figures", str(root / "fig"),
            "--results", str(root / "res")]
    main(argv)
    return root, argv


def test_smoke_run_writes_both_figures_and_the_table(smoke_run):
    root, _ = smoke_run
    for name in ("fig5_likelihood.png", "fig6_dynamics_error.png", "sec53_error_vs_likelihood.png"):
        assert (root / "fig" / name).stat().st_size > 10_000
    table = (root / "res" / "section53.md").read_text()
    assert "python -m minipgd experiment section53 --smoke" in table
    assert table.count("| IQL on ") == 6  # three target policies in each of the two tables


def _merged(root):
    config = Section53Config.smoke()
    return merge_results(load_results(root / "res" / "section53", config.unit_names()), config)


def test_results_hold_every_seed_lambda_and_step(smoke_run):
    root, _ = smoke_run
    config = Section53Config.smoke()
    assert sorted(p.stem for p in (root / "res" / "section53").glob("*.json")) == sorted(config.unit_names())
    results = _merged(root)
    assert set(results["targets"]) == set(config.targets)
    assert results["diffusion_seeds"] == list(config.diffusion_seeds) and results["pets_seeds"] == [0]
    for res in results["targets"].values():
        assert set(res["pgd"]) == {str(s) for s in config.lambdas}
        for values in (*res["pgd"].values(), res["pets"]):
            assert len(values["log_likelihood"]) in (len(config.diffusion_seeds), len(config.pets_seeds))
            errors = np.array(values["dynamics_error"])
            assert errors.shape[1] == config.horizon and np.all(errors[:, 0] == 0.0) and np.all(errors[:, 1:] > 0)
        assert len(res["auto_scale"]) == len(config.diffusion_seeds) and set(res["auto_scale"]) <= set(GRID)
        unguided = res["pgd"]["0.0"]["dynamics_error"]
        assert unguided == next(iter(results["targets"].values()))["pgd"]["0.0"]["dynamics_error"]  # shared samples


def test_rerun_runs_only_missing_units_and_reproduces_the_numbers(smoke_run, capsys):
    root, argv = smoke_run
    before = _merged(root)
    with pytest.raises(SystemExit, match="fig5_likelihood.png' already exists; pass --force"):
        main(argv)  # the figures and table are there: not replaced without --force
    table = root / "res" / "section53.md"
    table.write_text(table.read_text() + f"\n{NOTES_MARKER}\nA discussion written by hand.\n")
    capsys.readouterr()
    (root / "res" / "section53" / "diffusion-seed1.json").unlink()
    main(argv + ["--force"])
    out = capsys.readouterr().out
    assert "2 of 3 units have results" in out and "running 1" in out and "finished diffusion-seed1" in out
    assert "trained the IQL" not in out and "training diffusion" not in out and "world model step" not in out
    assert _merged(root)["targets"] == before["targets"]
    assert table.read_text().endswith(f"{NOTES_MARKER}\nA discussion written by hand.\n")  # notes survive a rerun
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ")]
    main(argv + ["--force", "--report-only"])
    assert [line for line in table.read_text().splitlines() if line.startswith("| ")] == rows  # from the files alone


def test_the_report_needs_both_kinds_of_unit(tmp_path):
    with pytest.raises(SystemExit, match="needs at least one diffusion and one PETS unit; results found for: none"):
        main(["experiment", "section53", "--smoke", "--report-only", "--results", str(tmp_path), "--figures",
              str(tmp_path), "--work-dir", str(tmp_path / "work")])
    assert not list(tmp_path.glob("*.png"))


def test_units_are_listed_and_run_by_name(tmp_path, capsys):
    main(["experiment", "section53", "--smoke", "--list-units"])
    assert capsys.readouterr().out.split() == Section53Config.smoke().unit_names()
    with pytest.raises(SystemExit, match="no unit 'diffusion-seed7'"):
        main(["experiment", "section53", "--smoke", "--unit", "diffusion-seed7", "--work-dir", str(tmp_path),
              "--results", str(tmp_path), "--figures", str(tmp_path)])
    assert not list(tmp_path.rglob("*.npz"))


def test_matched_lambda_is_the_first_grid_value_reaching_pets():
    res = {"pets": {"log_likelihood": [-5.0, -4.0]},
           "pgd": {"0.0": {"log_likelihood": [-9.0]}, "1.0": {"log_likelihood": [-4.4]},
                   "3.0": {"log_likelihood": [-2.0]}}}
    assert matched_lambda(res) == "1.0"
    res["pets"]["log_likelihood"] = [0.0]
    assert matched_lambda(res) is None


def test_grid_without_lambda_one_is_rejected():
    with pytest.raises(ValueError, match="must contain 0"):
        Section53Config(lambdas=(0.0, 3.0))
