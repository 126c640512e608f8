"""Checkpoints: round trip, atomic writes, and clear errors for bad files."""
import os

import numpy as np
import pytest

from minipgd.nn import TemporalUNet, UNetConfig
from minipgd.nn.checkpoint import check_provenance, fingerprint, load_checkpoint, save_checkpoint
from minipgd.nn.optim import Adam
from minipgd.nn.unet import load_unet, save_unet


def model(seed, **overrides):
    cfg = UNetConfig(**{"in_channels": 5, "horizon": 8, "features": 16, **overrides})
    return TemporalUNet(cfg, np.random.default_rng(seed))


def test_unet_round_trip(tmp_path, rng):
    original = model(1)
    save_unet(tmp_path / "unet.npz", original)
    restored = load_unet(tmp_path / "unet.npz")
    assert restored.cfg == original.cfg
    x, s = rng.standard_normal((2, 5, 8)), rng.standard_normal(2)
    np.testing.assert_array_equal(restored.forward(x, s), original.forward(x, s))


def test_a_checkpoint_with_the_old_convolution_layout_is_refused_clearly(tmp_path):
    """Before 2026-11-28 convolution weights were stored (out, in, k); such files must not load silently."""
    save_unet(tmp_path / "unet.npz", model(1))
    arrays, meta = load_checkpoint(tmp_path / "unet.npz")
    old = {name: a.transpose(2, 1, 0) if a.ndim == 3 else a for name, a in arrays.items()}
    save_checkpoint(tmp_path / "old.npz", old, meta)
    with pytest.raises(ValueError, match=r"\(out, in, k\) layout .* retrain the model"):
        load_unet(tmp_path / "old.npz")


def test_optimizer_state_round_trip(tmp_path, rng):
    net = model(1)
    opt = Adam(net)
    for _ in range(3):
        net.zero_grad()
        net.backward(net.forward(rng.standard_normal((2, 5, 8)), np.zeros(2)))
        opt.step()
    save_checkpoint(tmp_path / "opt.npz", opt.state_dict(), {"step": 3})
    arrays, meta = load_checkpoint(tmp_path / "opt.npz")
    fresh = Adam(net)
    fresh.load_state_dict(arrays)
    assert meta == {"step": 3} and fresh.t == 3
    np.testing.assert_array_equal(fresh.m, opt.m)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.npz")


def test_truncated_file(tmp_path):
    save_unet(tmp_path / "unet.npz", model(1))
    data = (tmp_path / "unet.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not an .npz"):
        load_unet(tmp_path / "cut.npz")


def test_foreign_npz(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a minipgd checkpoint"):
        load_checkpoint(tmp_path / "other.npz")


def test_mismatched_state_dict_is_rejected_and_leaves_the_model_untouched():
    target, other = model(1), model(2, features=24)
    before = target.state_dict()
    with pytest.raises(ValueError, match="has shape"):
        target.load_state_dict(other.state_dict())
    wrong_names = {k.replace("down", "encoder"): v for k, v in model(2).state_dict().items()}
    with pytest.raises(ValueError, match="missing"):
        target.load_state_dict(wrong_names)
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_nan_weights_are_rejected():
    state = model(2).state_dict()
    state["out.bias"][0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model(1).load_state_dict(state)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, {"a": np.arange(3)}, {"v": 1})
    with pytest.raises(TypeError):
        save_checkpoint(path, {"a": np.arange(4)}, {"v": object()})  # not JSON-serialisable
    arrays, meta = load_checkpoint(path)
    assert meta == {"v": 1}
    np.testing.assert_array_equal(arrays["a"], np.arange(3))
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "c.npz", {"a": np.zeros(2)})
    finally:
        os.umask(old)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_names_the_file_not_a_temporary(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=r"^cannot write '.*file/x.npz': '.*file' is a file, not a folder$"):
        save_checkpoint(str(tmp_path / "file" / "x.npz"), {"a": np.zeros(2)})


def test_fingerprints_tell_data_apart():
    a = {"x": np.arange(4.0), "y": np.zeros(2)}
    assert fingerprint(a) == fingerprint({"y": np.zeros(2), "x": np.arange(4.0)})
    assert fingerprint(a) != fingerprint({**a, "x": np.arange(4.0).astype(np.float32)})
    assert fingerprint(a) != fingerprint({**a, "x": np.arange(1.0, 5.0)})
    assert fingerprint(a) != fingerprint(a, {"layout": 1})


def test_provenance_names_every_field_that_differs(tmp_path):
    meta = {"provenance": {"seed": 0, "config": {"steps": 10, "dims": [1, 2]}}}  # as read back from JSON
    check_provenance("run.npz", meta, {"seed": 0, "config": {"steps": 10, "dims": (1, 2)}})
    with pytest.raises(ValueError, match=r"\(config.steps is 10 there, 20 now; seed is 0 there, 1 now\)"):
        check_provenance("run.npz", meta, {"seed": 1, "config": {"steps": 20, "dims": (1, 2)}})
