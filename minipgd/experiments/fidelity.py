"""How faithful is a diffusion model to the real dynamics, for how much training? The fidelity frontier.

Sec. 5.3 scores synthetic trajectories by their dynamics error against the real
simulator, and finds PGD's lower than a PETS world model's. Unguided samples
isolate the diffusion model's own error (no guidance pulls the actions away from
the data), so this sweep trains models of halfcheetah-medium in several ways and
scores unguided samples, to find the error each CPU-minute of training buys.

A *unit* is one way to train a model: U-Net width F, training steps, batch size
and learning rate, dataset size, block activation (`FidelityUnit`). For each unit
it records the training's CPU time (all threads) and, for each number of sampler
steps, the dynamics MSE after one step and over steps 1–15 (per state dimension)
and the reward MSE against the simulator's reward for the sampled (s_t, a_t)
(`analysis/dynamics_error.py`). The reference unit, "pets", is the paper's
autoregressive baseline trained on the same data and rolled out with the
behavior policy that collected it (the committed actor with its collection
noise) from dataset states: trajectories of the policy that unguided samples
imitate, scored the same way.

Each unit's result is a small JSON file, `results/fidelity/UNIT.json`, resumable
and runnable by name as `units.py` says; trained models stay in the work folder
(not committed). The table and the figure are made from the files alone.
"""
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..analysis.dynamics_error import dynamics_error, reward_error
from ..diffusion import TrajectoryLayout
from ..envs.registry import make_env
from ..runtime.threads import under_thread_policy
from ..nn.unet import HORIZON
from ..recipes.collect import behavior_policy
from ..world_models import EnsembleConfig, train_ensemble, truncated_rollouts
from .artifacts import cached_dataset, cached_diffusion, diffusion_path, training_record
from .units import load_results, pending_units, run_units, write_result

PETS = "pets"


@dataclass(frozen=True)
class FidelityUnit:
    """One way to train a diffusion model of the dataset (Table 3's batch 16 and lr 2e-3 by default)."""

    features: int = 64
    train_steps: int = 60_000
    batch_size: int = 16
    lr: float = 2e-3
    transitions: int = 100_000
    activation: str = "relu"  # the authors' blocks; "mish": Diffuser's activation
    residual: bool = False  # True: Diffuser's residual blocks (`minipgd/nn/unet.py`)
    seed: int = 0

    @property
    def name(self):
        blocks = self.activation + ("-residual" if self.residual else "")
        return (f"F{self.features}-{self.train_steps}steps-batch{self.batch_size}-lr{self.lr:g}-"
                f"{self.transitions}transitions-{blocks}-seed{self.seed}")


# The sweep, cheapest first. Width moved the error most in the first fidelity run (F = 32 -> 64 cut
# it 4x); the paper trains 250 epochs at batch 16, far beyond a CPU's 45 minutes, so larger batches
# with a larger learning rate (square-root scaling) buy more epochs per CPU-minute.
FRONTIER = (
    FidelityUnit(features=32, train_steps=20_000),
    FidelityUnit(features=32, train_steps=60_000),
    FidelityUnit(features=64, train_steps=60_000),
    FidelityUnit(features=64, train_steps=60_000, batch_size=64, lr=4e-3),
    FidelityUnit(features=64, train_steps=60_000, transitions=1_000_000),
    FidelityUnit(features=128, train_steps=60_000),
    FidelityUnit(features=64, train_steps=180_000),
    FidelityUnit(features=64, train_steps=60_000, activation="mish"),
    FidelityUnit(features=64, train_steps=60_000, activation="mish", residual=True),
    FidelityUnit(features=128, train_steps=60_000, batch_size=64, lr=4e-3),
    FidelityUnit(features=128, train_steps=120_000),
    # after the first units: batch 64 beat batch 16 per CPU-minute, so more of it; batch 256 splits over both cores
    FidelityUnit(features=64, train_steps=30_000, batch_size=256, lr=8e-3),
    FidelityUnit(features=64, train_steps=60_000, batch_size=64, lr=4e-3, transitions=1_000_000),
    # residual Mish blocks gave batch 64's error in less than half its CPU time: combine them with the rest
    FidelityUnit(features=64, train_steps=60_000, batch_size=64, lr=4e-3, activation="mish", residual=True),
    FidelityUnit(features=128, train_steps=60_000, activation="mish", residual=True),
)


@dataclass(frozen=True)
class FidelityConfig:
    dataset: str = "halfcheetah-medium"
    units: tuple = FRONTIER
    sampler_steps: tuple = (64, 256)
    n_trajectories: int = 512
    horizon: int = HORIZON
    pets_transitions: int = 100_000
    pets_steps: int = 4_000  # as Section 5.3's PETS
    pets_hidden: tuple = (200, 200, 200, 200)

    @classmethod
    def smoke(cls):
        units = (FidelityUnit(16, 10, transitions=2_000),
                 FidelityUnit(16, 10, batch_size=32, lr=4e-3, transitions=2_000, activation="mish", residual=True))
        return cls(units=units, sampler_steps=(4,), n_trajectories=4, pets_transitions=2_000, pets_steps=20,
                   pets_hidden=(16,))

    def unit_names(self):
        return [PETS] + [unit.name for unit in self.units]


def unguided_dynamics_error(model, env, n_trajectories, sampler_steps, seed):
    """Per-trajectory, per-step dynamics error (n, H) of unguided samples of `model` (Sec. 5.3's metric)."""
    raw = model.sample(n_trajectories, np.random.default_rng(seed), n_steps=sampler_steps)
    return dynamics_error(env, raw, model.layout)


def scores(env, raw, layout):
    """{dynamics MSE after one step, over steps 1–15, reward MSE} of raw trajectories (n, C, H)."""
    error = dynamics_error(env, raw, layout)
    return {"dynamics_mse_step1": float(error[:, 1].mean()), "dynamics_mse": float(error[:, 1:].mean()),
            "reward_mse": float(reward_error(env, raw, layout).mean())}


def model_path(work, config, unit):
    """Where `unit`'s model is kept: a folder per dataset size, a name that says how it was trained."""
    folder = os.path.join(work, f"models-{config.dataset}-{unit.transitions}")
    os.makedirs(folder, exist_ok=True)
    return diffusion_path(folder, unit.features, unit.train_steps, unit.seed, unit.batch_size, unit.lr,
                          unit.activation, unit.residual)


def _dataset(work, config, transitions, log):
    return cached_dataset(os.path.join(work, f"{config.dataset}-{transitions}.npz"), config.dataset, transitions, log)


@under_thread_policy  # in a worker process too
def run_unit(work, results_dir, config, name, log=print):
    """Train (or load) one unit's model, score it, write its JSON; -> (name, seconds)."""
    started = time.perf_counter()
    result = _pets_unit(work, config, log) if name == PETS else _diffusion_unit(work, config, name, log)
    result.update(dataset=config.dataset, n_trajectories=config.n_trajectories)
    write_result(results_dir, name, result)
    return name, time.perf_counter() - started


def _diffusion_unit(work, config, name, log):
    unit = next(unit for unit in config.units if unit.name == name)
    dataset = _dataset(work, config, unit.transitions, log)
    path = model_path(work, config, unit)
    model = cached_diffusion(path, dataset, config.horizon, unit.features, unit.train_steps, unit.seed, log,
                             unit.batch_size, unit.lr, unit.activation, unit.residual)
    env, training = make_env(dataset.metadata["env_id"]), training_record(path)
    evaluations = []
    for n_steps in config.sampler_steps:
        tic = time.perf_counter()
        raw = model.sample(config.n_trajectories, np.random.default_rng([unit.seed, n_steps]), n_steps=n_steps)
        evaluations.append({"sampler_steps": n_steps, "sample_seconds": time.perf_counter() - tic,
                            **scores(env, raw, model.layout)})
        log(f"{name}, {n_steps} sampler steps: dynamics MSE {evaluations[-1]['dynamics_mse']:.3f}, "
            f"reward MSE {evaluations[-1]['reward_mse']:.4f}")
    epochs = training["step"] * training["batch_size"] / training["windows"] if training else None
    return {"settings": asdict(unit), "parameters": model.unet.num_parameters(), "training": training,
            "epochs": epochs, "evaluations": evaluations}


def _pets_unit(work, config, log):
    dataset = _dataset(work, config, config.pets_transitions, log)
    ensemble_config = EnsembleConfig(steps=config.pets_steps, hidden=config.pets_hidden, seed=0,
                                     eval_every=max(config.pets_steps // 4, 1))
    cpu, wall = time.process_time(), time.perf_counter()
    ensemble = train_ensemble(dataset.arrays(), ensemble_config, log=log)
    training = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "step": config.pets_steps}
    rng = np.random.default_rng(1)
    starts = dataset.observations[rng.integers(0, len(dataset.observations), config.n_trajectories)]
    layout = TrajectoryLayout(dataset.obs_dim, dataset.act_dim)
    raw = truncated_rollouts(ensemble, behavior_policy(config.dataset), starts, config.horizon, rng, layout)
    evaluation = scores(make_env(dataset.metadata["env_id"]), raw, layout)
    log(f"PETS with the behavior policy: dynamics MSE {evaluation['dynamics_mse']:.3f}, "
        f"reward MSE {evaluation['reward_mse']:.4f}")
    parameters = sum(member.num_parameters() for member in ensemble.members)
    return {"settings": asdict(ensemble_config), "parameters": parameters, "training": training,
            "evaluations": [evaluation]}


def run_fidelity(work, results_dir, config=FidelityConfig(), only=None, jobs=1, log=print):
    """Run the units (all, or those named in `only`) that have no result file yet; -> every result found."""
    todo = pending_units(results_dir, config.unit_names(), only, log)
    for name, seconds in run_units(run_unit, [(work, results_dir, config, name) for name in todo], jobs):
        log(f"finished {name} in {seconds / 60:.1f} min")
    return load_results(results_dir, config.unit_names())
