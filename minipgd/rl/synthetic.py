"""Algorithm 2: training an agent on synthetic experience from (policy-guided) diffusion.

    for epoch = 0 .. N_epochs − 1:                       (l. 4)
        D_epoch ~ F(τ | π_φ; θ, λ)                        (l. 5: generate with guidance from π_φ)
        for step = 0 .. N_policy − 1:                     (l. 6)
            update π_φ on a mini-batch from D_epoch       (l. 7–8)

As in the authors' code, the first generation is unguided (there is no trained
policy yet), later ones are guided by the current policy, and each mini-batch
holds 240 synthetic + 16 real transitions of 256. *Periodic* generation
(Sec. 5.2) regenerates a large dataset every epoch; *continuous* generation
(Sec. 5.2) generates a small one every epoch and keeps each for 10 epochs.
`source="real"` trains on the offline data only and `source="unguided"` never
guides (λ = 0: SynthER), the paper's two baselines. `guidance_scale="auto"`
chooses λ at each guided generation by a short search (`auto_scale.py`).
An unguided generation does not depend on the agent, so several runs may read
the same ones, sampled once beforehand (`pool`).

Every run ends with one line saying where its time went: generation (l. 5, and
within it the guiding policy's gradients), agent updates (l. 6–8, mini-batches
included) and evaluation.
"""
import os
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from ..diffusion.windows import windows_to_transitions
from ..nn.checkpoint import check_provenance, fingerprint, load_checkpoint, prefixed, save_checkpoint, unprefixed
from ..runtime.threads import adapt_threads, under_thread_policy
from .auto_scale import choose_scale
from .replay import as_float32, sample_batch

SOURCES = ("real", "unguided", "guided")
AUTO = "auto"  # guidance_scale: λ chosen at each generation (`auto_scale.choose_scale`)
GENERATIONS = {"periodic": 1, "continuous": 10}  # epochs a generated dataset is kept


def check_guidance_scale(scale):
    """Raise a ValueError unless `scale` is a guidance scale: λ >= 0, or AUTO."""
    if scale != AUTO and (isinstance(scale, str) or scale < 0):
        raise ValueError(f"the guidance scale λ must be >= 0 or 'auto', got {scale!r}")


@dataclass(frozen=True)
class Algorithm2Config:
    source: str = "guided"
    guidance_scale: float | str = 1.0  # λ (Table 2 uses λ = 1), or "auto": chosen per generation (auto_scale.py)
    auto_target: float | None = None  # "auto": the mean log π to reach; None: the policy's own, less a margin
    generation: str = "periodic"
    n_epochs: int = 4  # N_epochs (Sec. 5.2, periodic)
    steps_per_epoch: int = 5_000  # N_policy; the paper: 250,000 (periodic), 10,000 (continuous)
    n_trajectories: int = 1_024  # per generation; the paper: 2^14 (periodic)
    sampler_steps: int = 64  # the paper: 256 (Table 4)
    batch_size: int = 256
    real_per_batch: int = 16  # the authors' code: 16 real + 240 synthetic
    eval_every: int = 5_000  # and at the last step
    eval_episodes: int = 10  # episodes per evaluation, as D4RL's scores are usually reported

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {sorted(GENERATIONS)}, got {self.generation!r}")
        check_guidance_scale(self.guidance_scale)
        if self.guidance_scale == AUTO and self.source != "guided":
            raise ValueError(f"guidance scale 'auto' chooses λ for guided generations; source {self.source!r} "
                             "has none (use source 'guided')")
        for name in ("n_epochs", "steps_per_epoch", "n_trajectories", "sampler_steps", "batch_size", "eval_every",
                     "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.real_per_batch <= self.batch_size:
            raise ValueError(f"real_per_batch must be in [0, batch_size], got {self.real_per_batch}")

    @classmethod
    def paper(cls, **overrides):
        """Sec. 5.2's periodic setting: 4 epochs of 250,000 steps, 2^14 trajectories, 256 sampler steps."""
        return cls(**{"steps_per_epoch": 250_000, "n_trajectories": 2**14, "sampler_steps": 256, **overrides})


def generate_transitions(model, policy, scale, n_trajectories, rng, sampler_steps):
    """Alg. 2 l. 5: sample trajectories (guided by `policy` when λ > 0) -> transitions."""
    raw = model.sample(n_trajectories, rng, policy=policy, scale=scale, n_steps=sampler_steps)
    transitions = as_float32(windows_to_transitions(raw, model.layout))
    if len(transitions["rewards"]) == 0:
        raise ValueError(f"none of the {n_trajectories} sampled trajectories yields a transition: each starts at a "
                         "terminal state (done channel > 0.5 in its first row); the diffusion model is not trained "
                         "enough to generate data")
    return transitions


def mixed_batch(synthetic, real, config, rng):
    """Alg. 2 l. 7: `batch_size − real_per_batch` synthetic and `real_per_batch` real transitions."""
    if synthetic is None:
        return sample_batch(real, config.batch_size, rng)
    parts = [sample_batch(synthetic, config.batch_size - config.real_per_batch, rng),
             sample_batch(real, config.real_per_batch, rng)]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _concatenate(datasets):
    return {name: np.concatenate([d[name] for d in datasets]) for name in datasets[0]}


AUTO_TARGET_STATES = 4_096  # dataset states for the default automatic-λ target
TIMED_PARTS = ("generation", "guidance", "updates", "evaluation")  # guidance is part of generation


class _Stopwatch:
    """Seconds spent in each part of a run, added up as it goes: `with watch("updates"): ...`.

    Wall time: while threads are inside the same part side by side (the sampler's copies of the denoiser
    each guiding their chunks), it counts once, from the first one in to the last one out.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        seconds.update({part: 0.0 for part in TIMED_PARTS})
        self._started = time.perf_counter()
        self._earlier = 0.0  # a resumed run's earlier invocations' seconds in all
        self._inside = {part: 0 for part in TIMED_PARTS}  # threads inside each part now
        self._since = {}  # when the first of them came in
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, part):
        with self._lock:
            if self._inside[part] == 0:
                self._since[part] = time.perf_counter()
            self._inside[part] += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside[part] -= 1
                if self._inside[part] == 0:
                    self.seconds[part] += time.perf_counter() - self._since[part]

    def resume(self, earlier):
        """Go on from a resumed run's earlier seconds ({part: s, "total": s}; {} from an older run state)."""
        self.seconds.update({part: earlier.get(part, 0.0) for part in TIMED_PARTS})
        self._earlier = earlier.get("total", 0.0)

    def so_far(self):
        """The run's seconds until now: per part, and in all ("total"), earlier invocations' included."""
        return {**self.seconds, "total": self._earlier + time.perf_counter() - self._started}


class _TimedPolicy:
    """The guiding policy with its log-likelihood gradients timed as "guidance".

    Those gradients are what guidance adds to sampling (about 90 % of `PolicyGuidance.apply`'s time);
    the sampler and the guidance code stay as they are.
    """

    def __init__(self, policy, watch):
        self.policy, self.watch = policy, watch

    def __getattr__(self, name):  # obs_dim, act_dim, ...
        return getattr(self.policy, name)

    def grad_log_prob_and_std(self, states, actions):
        with self.watch("guidance"):
            return self.policy.grad_log_prob_and_std(states, actions)


def time_breakdown(seconds):
    """One line: where a run's time went."""
    s = seconds
    other = s["total"] - s["generation"] - s["updates"] - s["evaluation"]
    return (f"time: {s['total']:.1f} s = generation {s['generation']:.1f} s (guidance {s['guidance']:.1f} s) "
            f"+ agent updates {s['updates']:.1f} s + evaluation {s['evaluation']:.1f} s + other {other:.1f} s")


@under_thread_policy
def train_agent(agent, real, config, rng, model=None, evaluate=None, log=print, checkpoint=None, provenance=None,
                timings=None, generations=None, pool=None, inspect=None):
    """Algorithm 2 with `agent` (TD3 or IQL: `update(batch, rng)`, `policy()`) on real transitions `real`.

    `model`: a TrajectoryDiffusion (needed unless source == "real"); `evaluate()`
    -> a score (mean return or normalized score), called every `config.eval_every` steps and at the last
    step. `checkpoint`: an `.npz` path written at every evaluation and at the end; if it exists the run
    resumes there (agent, optimizers, generator, synthetic data, seconds so far) without repeating finished
    steps, unless it was made from other settings, data, model or `provenance` (a JSON-able dict of anything
    else the run depends on, e.g. the algorithm and seed). `timings`: a dict to fill with the run's seconds in
    all ("total") and per part (TIMED_PARTS), a resumed run's earlier invocations included (up to their last
    checkpoint); the last log line says the same. `generations`: a list to
    which every generation of the run (a resumed run's earlier ones too) is appended as {"epoch", "lambda"
    (with guidance_scale "auto": the λ chosen), "pooled"}. `pool`: unguided generations (transition dicts)
    sampled beforehand from `model`, `pool[e]` taken as epoch e's generation when it is unguided instead of
    sampling one (runs that share a model share them). `inspect(epoch, transitions, policy)`: a dict of
    measurements of each generation (e.g. against a simulator, which this layer does not know), recorded with
    it in `generations` ("inspected"); `policy` is the agent's at that moment. Returns [(step, score)].
    """
    watch = _Stopwatch({} if timings is None else timings)
    if config.source != "real":
        _check_model_fits(model, real)
        _check_pool(config, pool)
    kept = deque(maxlen=GENERATIONS[config.generation])
    history, step, total, made = [], 0, config.n_epochs * config.steps_per_epoch, []
    if checkpoint is not None:
        provenance = _provenance(config, real, model, provenance)
        if os.path.exists(checkpoint):
            step, history, made, earlier = _resume(checkpoint, agent, provenance, rng, kept)
            watch.resume(earlier)
            log(f"resumed from {checkpoint} at step {step}")
    for epoch in range(step // config.steps_per_epoch, config.n_epochs):  # l. 4
        synthetic = None
        if config.source != "real":
            if step % config.steps_per_epoch == 0:  # not when resuming inside the epoch
                guided = config.source == "guided" and epoch > 0  # the first generation is unguided
                pooled = pool is not None and not guided
                policy = _TimedPolicy(agent.policy(), watch) if guided else None
                with watch("generation"):
                    scale, how = _generation_scale(config, guided, model, policy, real, rng)
                    kept.append(pool[epoch] if pooled else generate_transitions(
                        model, policy, scale, config.n_trajectories, rng, config.sampler_steps))  # l. 5
                made.append({"epoch": epoch, "lambda": scale, "pooled": pooled})
                if inspect is not None:  # outside the timed parts, with its own randomness: the run is unchanged
                    made[-1]["inspected"] = inspect(epoch, kept[-1], agent.policy())
                log(f"epoch {epoch}: {'took the pooled' if pooled else 'generated'} {config.n_trajectories} "
                    f"trajectories (λ = {scale}{how}), {sum(len(d['rewards']) for d in kept)} synthetic "
                    "transitions in use")
            synthetic = _concatenate(list(kept))
        while step < (epoch + 1) * config.steps_per_epoch:  # l. 6
            adapt_threads("agent updates")  # a safe point for the thread policy
            with watch("updates"):
                agent.update(mixed_batch(synthetic, real, config, rng), rng)  # l. 7–8
            step += 1
            if evaluate is not None and (step % config.eval_every == 0 or step == total):
                with watch("evaluation"):
                    history.append((step, float(evaluate())))
                if checkpoint is not None:
                    _save(checkpoint, agent, provenance, rng, kept, step, history, made, watch.so_far())
                log(f"  step {step:>8}  evaluation {history[-1][1]:.1f}")  # after the save: the line means it is kept
    watch.seconds.update(watch.so_far())
    if checkpoint is not None:
        _save(checkpoint, agent, provenance, rng, kept, step, history, made, watch.seconds)
    if generations is not None:
        generations.extend(made)
    log(time_breakdown(watch.seconds))
    return history


def _generation_scale(config, guided, model, policy, real, rng):
    """(λ of this generation, how it was chosen: "" or the automatic search's summary for the log)."""
    if not guided:
        return 0.0, ""
    if config.guidance_scale != AUTO:
        return config.guidance_scale, ""
    states = real["observations"][rng.integers(0, len(real["observations"]), AUTO_TARGET_STATES)]
    choice = choose_scale(model, policy, rng, config.sampler_steps, target=config.auto_target, states=states)
    tried = ", ".join(f"{scale:g}: {value:.2f}" for scale, value in choice.tried.items())
    return choice.scale, f", auto: target log π {choice.target:.2f}; probes {tried}"


def unguided_generations(config):
    """How many of a run's generations are unguided: all of an unguided run's, a guided run's first."""
    return {"real": 0, "unguided": config.n_epochs}.get(config.source, 1)


def _check_pool(config, pool):
    """Before any training: a pool must hold every unguided generation the run will take from it."""
    unguided = unguided_generations(config)
    if pool is not None and len(pool) < unguided:
        raise ValueError(f"a {config.source} run of {config.n_epochs} epochs takes {unguided} unguided generation(s) "
                         f"from the pool, which holds {len(pool)}")


def _check_model_fits(model, real):
    """Before any sampling: the model must exist and make transitions of the real data's sizes."""
    if model is None:
        raise ValueError("synthetic data (source unguided or guided) needs a trained diffusion model")
    sizes = {"observation": (model.layout.obs_dim, real["observations"].shape[1]),
             "action": (model.layout.act_dim, real["actions"].shape[1])}
    wrong = [f"{ours} {kind} channels, the dataset has {theirs}" for kind, (ours, theirs) in sizes.items()
             if ours != theirs]
    if wrong:
        raise ValueError(f"the diffusion model has {'; it has '.join(wrong)}: use a model trained on this dataset")


def _provenance(config, real, model, extra):
    """What a run is made from, recorded in its checkpoint: the settings, the real data, the model, `extra`."""
    used = model if config.source != "real" else None
    return {"config": asdict(config), "dataset": fingerprint(real),
            "diffusion_model": None if used is None else used.fingerprint(), **(extra or {})}


def _save(path, agent, provenance, rng, kept, step, history, made, seconds):
    arrays = prefixed(agent.state_dict(), "agent/")
    for i, data in enumerate(kept):
        arrays.update(prefixed(data, f"synthetic.{i}/"))
    meta = {"kind": "Algorithm2Run", "provenance": provenance, "step": step, "history": history,
            "rng": rng.bit_generator.state, "n_kept": len(kept), "generations": made, "seconds": seconds}
    save_checkpoint(path, arrays, meta)


def _resume(path, agent, provenance, rng, kept):
    what = "agent training checkpoint"
    arrays, meta = load_checkpoint(path, kind="Algorithm2Run", what=what)
    check_provenance(path, meta, provenance, what)
    agent.load_state_dict(unprefixed(arrays, "agent/"))
    for i in range(meta["n_kept"]):
        kept.append(unprefixed(arrays, f"synthetic.{i}/"))
    rng.bit_generator.state = meta["rng"]
    return (meta["step"], [tuple(pair) for pair in meta["history"]], meta.get("generations", []),  # older: none
            meta.get("seconds", {}))  # older: none
