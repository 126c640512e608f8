"""The Table 2 runner: the smoke sweep end to end, resuming, parallel jobs, and the table's statistics."""
import json
import os

import numpy as np
import pytest

from minipgd.__main__ import main
from minipgd.experiments.table2 import Table2Config, run_path, run_table2, units
from minipgd.experiments.table2_report import significantly_best, table2_markdown


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("table2")
    argv = ["experiment", "table2", "--smoke", "--work-dir", str(root / "work"), "--results", str(root / "res")]
    main(argv)
    return root, argv


def test_smoke_sweep_writes_every_run_and_the_table(smoke_sweep):
    root, _ = smoke_sweep
    config = Table2Config.smoke()
    for kind, args in units(config):
        if kind == "agent":
            result = json.loads(open(run_path(root / "work", *args)).read())
            assert np.isfinite(result["final_score"]) and len(result["history"]) == 2
            parts = result["seconds_by_part"]  # where the run's time went
            assert parts["generation"] + parts["updates"] + parts["evaluation"] <= parts["total"] <= result["seconds"]
            assert not os.path.exists(run_path(root / "work", *args) + ".run.npz")  # run state cleaned up
    table = (root / "res" / "table2.md").read_text()
    assert "python -m minipgd experiment table2 --smoke" in table
    assert "| maze2d-umaze |" in table and "76.2 ± 17.4" in table  # ours, then the paper's row
    assert "relative to the mean state variance" in table


def test_rerun_redoes_nothing_and_an_interrupted_sweep_redoes_only_what_is_missing(smoke_sweep):
    root, _ = smoke_sweep
    config, lines = Table2Config.smoke(), []
    run_table2(root / "work", config, log=lines.append)
    assert lines == ["7 of 7 units already done; running 0 with 1 job(s)"]
    lost = run_path(root / "work", "maze2d-umaze", "iql", "guided", 0)
    before = json.loads(open(lost).read())
    os.remove(lost)
    lines.clear()
    run_table2(root / "work", config, jobs=2, log=lines.append)  # in worker processes, each under the thread policy
    assert lines[0] == "6 of 7 units already done; running 1 with 2 job(s)"
    after = json.loads(open(lost).read())
    assert after["history"] == before["history"]  # same seed, same run, also in another process


def test_a_work_folder_refuses_a_sweep_with_other_settings(smoke_sweep):
    root, _ = smoke_sweep
    with pytest.raises(ValueError, match="other settings"):
        run_table2(root / "work", Table2Config(datasets=("maze2d-umaze",), seeds=(0,)))


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
