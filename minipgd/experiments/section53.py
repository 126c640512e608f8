"""Section 5.3 at CPU scale: target-policy likelihood against λ (Fig. 5) and dynamics error (Fig. 6).

The experiment of the paper, step by step:

1. the behavior dataset (halfcheetah-medium) and three target-policy datasets
   (halfcheetah-random, -medium, -expert) are collected with minipgd's recipes;
2. an IQL target policy is trained on each target dataset;
3. trajectory diffusion models (several seeds) and PETS ensembles (several seeds)
   are trained on the behavior dataset;
4. for every target policy, diffusion seed and λ of the grid, trajectories are
   sampled with policy guidance (Algorithm 1) and scored by the mean log π of their
   actions and by their dynamics error against the real simulator; PETS rollouts of
   the same length from dataset states (Eq. 5–6) are scored the same way.

Steps 1–2 run first, once; then each diffusion seed and each PETS seed is a
unit (`diffusion-seed0`, `pets-seed0`, ...) that trains its model and measures
it for every target, leaving `results/section53/UNIT.json` (`units.py`: resumable
from committed files, runnable by name, `--jobs N`). Datasets and trained models
are cached in the work folder, so an interrupted unit picks up where it stopped.
The figures and tables are made from the unit files alone (`merge_results`).
"""
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..analysis.dynamics_error import dynamics_error
from ..diffusion import TrajectoryLayout
from ..diffusion.windows import trajectory_windows
from ..envs.registry import make_env
from ..runtime.threads import adapt_threads, under_thread_policy
from ..nn.unet import HORIZON
from ..rl.auto_scale import choose_scale
from ..rl.iql import IQL, IQLConfig, load_policy
from ..rl.policy import target_log_likelihood
from ..rl.replay import as_float32, sample_batch
from ..rl.state_norm import StateNormalizer
from ..world_models import EnsembleConfig, PETSEnsemble, train_ensemble, truncated_rollouts
from .artifacts import cached_dataset, cached_diffusion, diffusion_path, silent, training_record
from .units import load_results, pending_units, run_units, write_result

@dataclass(frozen=True)
class Section53Config:
    behavior: str = "halfcheetah-medium"  # the models' training data (the paper's choice)
    targets: tuple = ("halfcheetah-random", "halfcheetah-medium", "halfcheetah-expert")
    transitions: int = 100_000  # per collected dataset
    target_updates: int = 15_000  # IQL updates per target policy
    diffusion_seeds: tuple = (0, 1, 2, 3)  # Fig. 6's caption
    diffusion_train_steps: int = 60_000
    features: int = 128  # U-Net width F (the paper: 1024); the fidelity frontier's CPU model
    activation: str = "mish"  # with residual blocks: Diffuser's, the frontier's best per CPU-minute
    residual: bool = True
    horizon: int = HORIZON  # H: 16 states per trajectory, as in Fig. 6
    pets_seeds: tuple = (0, 1, 2)  # Fig. 6's caption
    pets_steps: int = 4_000
    pets_hidden: tuple = (200, 200, 200, 200)
    lambdas: tuple = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
    n_trajectories: int = 2_048  # λ = 0 and 1 and PETS, per (seed, target): Fig. 6's caption
    grid_trajectories: int = 256  # the grid's other λ (Fig. 5: mean likelihoods only)
    sampler_steps: int = 256  # the paper's

    @classmethod
    def smoke(cls):
        """A smoke run of the whole pipeline in seconds (the default tests run it)."""
        return cls(transitions=2_000, target_updates=20, diffusion_seeds=(0, 1), diffusion_train_steps=20, features=16,
                   pets_seeds=(0,), pets_steps=20, pets_hidden=(16,), lambdas=(0.0, 1.0, 3.0), n_trajectories=4,
                   grid_trajectories=3, sampler_steps=4)

    def __post_init__(self):
        if 1.0 not in self.lambdas or 0.0 not in self.lambdas:
            raise ValueError(f"the λ grid must contain 0 (unguided) and 1 (Fig. 6), got {self.lambdas}")
        if min(self.transitions, self.target_updates, self.diffusion_train_steps, self.pets_steps,
               self.n_trajectories, self.grid_trajectories, self.sampler_steps) < 1 \
                or not self.diffusion_seeds or not self.pets_seeds:
            raise ValueError("sizes and step counts must be positive and the seed lists non-empty")

    def unit_names(self):
        return [f"pets-seed{seed}" for seed in self.pets_seeds] + [f"diffusion-seed{seed}"
                                                                   for seed in self.diffusion_seeds]


def _dataset(work, name, config, log):
    return cached_dataset(os.path.join(work, f"{name}.npz"), name, config.transitions, log)


def _cached_target_policy(work, name, config, log):
    """IQL trained on `name` (the target policies of Sec. 5.3), as a Gaussian policy."""
    path = os.path.join(work, f"iql-{name}.npz")
    if not os.path.exists(path):
        real = as_float32(_dataset(work, name, config, log).arrays())
        rng = np.random.default_rng(0)
        agent = IQL(real["observations"].shape[1], real["actions"].shape[1], rng,
                    IQLConfig(max_steps=config.target_updates), state_norm=StateNormalizer.fit(real["observations"]))
        started = time.perf_counter()
        for _ in range(config.target_updates):
            adapt_threads("IQL target training")  # a safe point for the thread policy
            agent.update(sample_batch(real, agent.config.batch_size, rng), rng)
        log(f"trained the IQL target policy on {name}: {config.target_updates} updates "
            f"in {time.perf_counter() - started:.0f} s")
        agent.save_actor(path, {"dataset": name, "updates": config.target_updates})
    return load_policy(path)


def _cached_pets(work, behavior, seed, config, log):
    path = os.path.join(work, f"pets-seed{seed}.npz")
    if not os.path.exists(path):
        ensemble = EnsembleConfig(steps=config.pets_steps, hidden=config.pets_hidden, seed=seed,
                                  eval_every=max(config.pets_steps // 4, 1))
        train_ensemble(behavior.arrays(), ensemble, log=log).save(path, {"seed": seed})
    return PETSEnsemble.load(path)


def _scores(raw, policy, env, layout):
    """{mean log π of the actions, per-step dynamics error averaged over trajectories (H,)}."""
    return {"log_likelihood": target_log_likelihood(raw, policy, layout),
            "dynamics_error": dynamics_error(env, raw, layout).mean(axis=0).tolist()}


def prepare(work, config, log=print):
    """Steps 1–2, shared by every unit: the datasets and the IQL target policies, made once in `work`."""
    os.makedirs(work, exist_ok=True)
    return _dataset(work, config.behavior, config, log), {name: _cached_target_policy(work, name, config, log)
                                                          for name in config.targets}


@under_thread_policy  # in a worker process too
def run_unit(work, results_dir, config, name, log=print):
    """Train (or load) one seed's model, measure it against every target policy, write its JSON; -> (name, s)."""
    started = time.perf_counter()
    kind, seed = name.rsplit("-seed", 1)
    behavior, policies = prepare(work, config, log)
    measure = _diffusion_unit if kind == "diffusion" else _pets_unit
    result = measure(work, config, int(seed), behavior, policies, log)
    result.update(kind=kind, seed=int(seed), seconds=time.perf_counter() - started)
    write_result(results_dir, name, result)
    return name, result["seconds"]


AUTO_STREAM = 99  # the random stream of the automatic-λ search, apart from the grid's


def _diffusion_unit(work, config, seed, behavior, policies, log):
    """Step 4 for one diffusion model: unguided samples (shared by the targets) and guided ones per (target, λ);
    and the λ that automatic guidance chooses for each target (`rl/auto_scale.py`: the paper's future work)."""
    path = diffusion_path(work, config.features, config.diffusion_train_steps, seed, activation=config.activation,
                          residual=config.residual)
    model = cached_diffusion(path, behavior, config.horizon, config.features, config.diffusion_train_steps, seed, log,
                             activation=config.activation, residual=config.residual)
    env, layout = make_env(behavior.metadata["env_id"]), model.layout
    unguided = model.sample(config.n_trajectories, np.random.default_rng([seed, 0]), n_steps=config.sampler_steps)
    unguided_error = dynamics_error(env, unguided, layout).mean(axis=0).tolist()
    targets = {}
    for t, (name, policy) in enumerate(policies.items()):
        pgd = {}
        for i, scale in enumerate(config.lambdas):
            if scale == 0.0:
                pgd[str(scale)] = {"log_likelihood": target_log_likelihood(unguided, policy, layout),
                                   "dynamics_error": unguided_error}
                continue
            n = config.n_trajectories if scale == 1.0 else config.grid_trajectories
            raw = model.sample(n, np.random.default_rng([seed, t + 1, i]), policy=policy, scale=scale,
                               n_steps=config.sampler_steps)
            pgd[str(scale)] = _scores(raw, policy, env, layout)
        auto = choose_scale(model, policy, np.random.default_rng([seed, t + 1, AUTO_STREAM]), config.sampler_steps,
                            states=behavior.observations)
        log(f"diffusion seed {seed}, {name}: log π at λ = "
            + ", ".join(f"{s}: {v['log_likelihood']:.2f}" for s, v in pgd.items())
            + f"; auto λ {auto.scale:g} (target {auto.target:.2f})")
        targets[name] = {"pgd": pgd, "auto": {"scale": auto.scale, "target": auto.target,
                                              "tried": {str(s): v for s, v in auto.tried.items()}}}
    return {"training": training_record(path), "targets": targets}


def _pets_unit(work, config, seed, behavior, policies, log):
    """Step 4 for one PETS ensemble: truncated rollouts of each target policy (Eq. 5–6) from dataset states."""
    ensemble = _cached_pets(work, behavior, seed, config, log)
    layout = TrajectoryLayout(behavior.obs_dim, behavior.act_dim)
    env = make_env(behavior.metadata["env_id"])
    real_windows = trajectory_windows(behavior, horizon=config.horizon, log=silent)
    targets = {}
    for t, (name, policy) in enumerate(policies.items()):
        rng = np.random.default_rng([seed, t, 1_000])
        starts = behavior.observations[rng.integers(0, len(behavior.observations), config.n_trajectories)]
        pets = _scores(truncated_rollouts(ensemble, policy, starts, config.horizon, rng, layout), policy, env, layout)
        data = target_log_likelihood(real_windows, policy, layout)
        log(f"PETS seed {seed}, {name}: log π {pets['log_likelihood']:.2f}; behavior data {data:.2f}")
        targets[name] = {"pets": pets, "behavior_data_log_likelihood": data}
    return {"targets": targets}


def run_section53(work, results_dir, config=Section53Config(), only=None, jobs=1, log=print):
    """Run the units (all, or those named in `only`) that have no result file yet; -> every result found."""
    todo = pending_units(results_dir, config.unit_names(), only, log)
    if todo:
        prepare(work, config, log)  # before the units, which share them
    for name, seconds in run_units(run_unit, [(work, results_dir, config, name) for name in todo], jobs):
        log(f"finished {name} in {seconds / 60:.1f} min")
    return load_results(results_dir, config.unit_names())


METRICS = ("log_likelihood", "dynamics_error")


def merge_results(results, config):
    """The units' results as one dict for the report: per target, PGD's λ -> {metric: one value per diffusion
    seed found}, PETS' {metric: one value per PETS seed found}; the seeds found; the units' seconds."""
    diffusion = [results[name] for name in config.unit_names() if name in results and name.startswith("diffusion")]
    pets = [results[name] for name in config.unit_names() if name in results and name.startswith("pets")]
    if not diffusion or not pets:
        raise ValueError("the Section 5.3 report needs at least one diffusion and one PETS unit; results found for: "
                         f"{', '.join(results) or 'none'}")
    targets = {}
    for name in config.targets:
        pgd = {str(scale): {metric: [r["targets"][name]["pgd"][str(scale)][metric] for r in diffusion]
                            for metric in METRICS} for scale in config.lambdas}
        targets[name] = {"pgd": pgd, "pets": {metric: [r["targets"][name]["pets"][metric] for r in pets]
                                              for metric in METRICS},
                         "auto_scale": [r["targets"][name]["auto"]["scale"] for r in diffusion],
                         "auto_target": [r["targets"][name]["auto"]["target"] for r in diffusion],
                         "behavior_data_log_likelihood": pets[0]["targets"][name]["behavior_data_log_likelihood"]}
    training = [r["training"] for r in diffusion if r.get("training")]
    return {"config": asdict(config), "targets": targets, "diffusion_seeds": [r["seed"] for r in diffusion],
            "pets_seeds": [r["seed"] for r in pets], "seconds": sum(r["seconds"] for r in diffusion + pets),
            "training_seconds": [t["cpu"] for t in training], "machines": sorted({
                f"{r['machine']['cpu']} ({r['machine']['cores']} cores)" for r in diffusion + pets})}
