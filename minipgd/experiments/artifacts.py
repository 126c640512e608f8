"""Trained things an experiment keeps on disk: made once, reused by every later run of it."""
import json
import os

from ..diffusion import DiffusionTrainConfig, TrajectoryDiffusion, TrajectoryLayout, train_diffusion
from ..diffusion.trainer import training_seconds
from ..diffusion.windows import trajectory_windows
from ..envs.dataset import load_dataset, origin, save_dataset
from ..nn import UNetConfig
from ..nn.checkpoint import write_text_atomically
from ..recipes.collect import collect_dataset


def silent(_):
    pass


def cached_dataset(path, name, transitions, log=print):
    """The dataset `name` (minipgd's recipe, seed 0) at `path`, collected first if it is not there."""
    if not os.path.exists(path):
        log(f"collecting {name} ({transitions} transitions, seed 0)")
        save_dataset(path, collect_dataset(name, transitions, seed=0, log=silent))
    return load_dataset(path)


DEFAULT_TRAINING = DiffusionTrainConfig()


def diffusion_path(work, features, steps, seed, batch_size=DEFAULT_TRAINING.batch_size, lr=DEFAULT_TRAINING.lr,
                   activation="relu", residual=False):
    """Where a model of width F trained for `steps` with `seed` is kept (the name says how it was made;
    settings other than Table 3's batch and learning rate and the authors' ReLU blocks are added to it)."""
    extra = "" if batch_size == DEFAULT_TRAINING.batch_size else f"-batch{batch_size}"
    extra += "" if lr == DEFAULT_TRAINING.lr else f"-lr{lr:g}"
    extra += "" if activation == "relu" else f"-{activation}"
    extra += "-residual" if residual else ""
    return os.path.join(work, f"diffusion-F{features}-{steps}steps{extra}-seed{seed}.npz")


def cached_diffusion(path, dataset, horizon, features, steps, seed, log=print, batch_size=DEFAULT_TRAINING.batch_size,
                     lr=DEFAULT_TRAINING.lr, activation="relu", residual=False):
    """A trajectory diffusion model of `dataset` at `path`, trained first (resumably) if it is not there.

    The training's time goes beside it, in `path + ".json"` (`training_record`)."""
    if not os.path.exists(path):
        raw = trajectory_windows(dataset, horizon=horizon, log=log)
        layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
        unet = UNetConfig(in_channels=layout.channels, horizon=horizon, features=features, activation=activation,
                          residual=residual)
        config = DiffusionTrainConfig(steps=steps, seed=seed, unet=unet, batch_size=batch_size, lr=lr,
                                      log_every=max(steps // 4, 1))
        run_state = path + ".run.npz"
        model = train_diffusion(raw, layout, config, checkpoint=run_state, log=log)
        model.data = origin(dataset)
        model.save(path)
        record = {"windows": len(raw), "batch_size": batch_size, "lr": lr, **training_seconds(run_state)}
        write_text_atomically(path + ".json", json.dumps(record, indent=1))
        os.remove(run_state)  # only needed until the model is written
    return TrajectoryDiffusion.load(path)


def training_record(path):
    """{"windows", "batch_size", "lr", "step", "cpu", "wall"} of a model `cached_diffusion` trained, or None for a
    model trained before these records were kept."""
    if not os.path.exists(path + ".json"):
        return None
    with open(path + ".json", encoding="utf-8") as f:
        return json.load(f)
