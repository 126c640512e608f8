"""The diffusion-fidelity experiment in its smoke configuration."""
from minipgd.__main__ import main
from minipgd.experiments.fidelity import FidelityConfig


def test_smoke_fidelity_reports_every_model_and_sampler_setting(tmp_path):
    main(["experiment", "fidelity", "--smoke", "--work-dir", str(tmp_path / "work"), "--results", str(tmp_path)])
    table = (tmp_path / "diffusion_fidelity.md").read_text()
    config = FidelityConfig.smoke()
    assert table.count("\n| 16 |") == len(config.models) * len(config.sampler_steps)
    assert not list((tmp_path / "work").glob("*.run.npz"))  # training state removed once a model is saved
