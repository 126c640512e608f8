"""Policy guidance (Sec. 4, Eq. 9–14, Algorithm 1 l. 10–11).

The target policy's closed-form action gradient ∇_a log π(a|s) (Eq. 11: actions
only, no state guidance) is taken with respect to the model's *normalized*
action channels, through the normalizer's un-normalization and tanh squashing
(the states are decoded, not differentiated). Algorithm 1 evaluates it at the
denoised estimate (l. 10), scales it to a unit vector (l. 11) and adds λ_n times
that to the noised actions; λ_n follows the cosine schedule of Eq. 14.

Two readings are ambiguous in the paper; the defaults below are the ones that
make the method work, the alternatives stay available:

* Eq. 14 writes λ_n = λ (σ_n + β σ_N sin(π n/N)). Read literally σ_N = 0 (the
  appended last level) kills the sine term and σ_n ≈ 80 makes the first steps
  take huge, noise-sized jumps. The authors' code uses the same shape with the
  decay measured in steps rather than in σ: λ_n = λ [(1 − n/N) + β sin(π(n+1)/N)],
  and no guidance on the last step (`schedule="cosine"`, default).
  `schedule="sigma"` keeps σ, normalized: λ_n = λ (σ_n/σ_0 + β sin(π n/N));
  `schedule="constant"` uses λ_n = λ.
* l. 11 normalizes g_n without saying over what. Default `norm="trajectory"`:
  one unit vector per trajectory over its H × act_dim action block, so λ is the
  length of the step taken by the whole trajectory (the authors' code option).
  `norm="transition"` makes each action's gradient unit length; `norm="none"`
  skips normalization.

Beyond the paper (its future work): `behavior_policy` subtracts ∇ log π_off (the
full Eq. 9), and `score_guided_denoiser` adds λ ∇ log q to the score itself,
without normalization or schedule (Eq. 12), so Eq. 13 can be studied exactly.
"""
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("cosine", "sigma", "constant")
NORMS = ("trajectory", "transition", "none")
EVALUATED_AT = ("denoised", "noised")
BETA = 0.3  # cosine weight, Sec. 4.2 ("set to 0.3 in all experiments")


def guidance_schedule(scale, sigmas, beta=BETA, schedule="cosine"):
    """λ_n for n = 0..N-1 given the N+1 noise levels of the sampler (Eq. 14)."""
    if scale < 0:
        raise ValueError(f"the guidance scale λ must be >= 0, got {scale}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    n_steps = len(sigmas) - 1
    n = np.arange(n_steps)
    if schedule == "constant":
        return np.full(n_steps, float(scale))
    if schedule == "sigma":
        return scale * (sigmas[:-1] / sigmas[0] + beta * np.sin(np.pi * n / n_steps))
    lambdas = scale * ((1.0 - n / n_steps) + beta * np.sin(np.pi * (n + 1) / n_steps))
    lambdas[-1] = 0.0  # as in the authors' code: the last step is not guided
    return lambdas


def _policy_terms(tau, policy, normalizer):
    """∇_a log π in environment units, the policy std, and d(raw action)/d(normalized action): each (B, act, H)."""
    raw = normalizer.layout.split(normalizer.decode(tau))  # (B, H, obs), (B, H, act), ...
    grad_raw, std = policy.grad_log_prob_and_std(raw["observations"], raw["actions"])  # closed form, Eq. 11
    return grad_raw.transpose(0, 2, 1), std.transpose(0, 2, 1), normalizer.action_jacobian(tau)


def action_log_likelihood_gradient(tau, policy, normalizer):
    """∇ of Σ_t log π(a_t|s_t) w.r.t. the normalized action channels of tau (B, C, H).

    Returns a (B, C, H) array that is zero outside the action channels (Eq. 11).
    """
    grad_raw, _, jacobian = _policy_terms(tau, policy, normalizer)
    grad = np.zeros(tau.shape)
    grad[:, normalizer.layout.act] = grad_raw * jacobian  # chain rule through decode
    return grad


def unit_normalize(grad, layout, norm="trajectory"):
    """g / ||g||_2 over each trajectory's action block or each action (Alg. 1, l. 11). Zero stays zero."""
    if norm == "none":
        return grad
    # BEGIN ASSIGNMENT guidance-step
    axes = (1, 2) if norm == "trajectory" else (1,)
    length = np.sqrt(np.sum(grad[:, layout.act] ** 2, axis=axes, keepdims=True))
    out = np.zeros_like(grad)
    out[:, layout.act] = grad[:, layout.act] / np.where(length > 0, length, 1.0)
    return out
    # END ASSIGNMENT


@dataclass(frozen=True)
class PolicyGuidance:
    """Everything Algorithm 1 needs to guide a sampler towards `policy`."""

    policy: object  # any Gaussian policy in environment units: obs_dim, act_dim, grad_log_prob_and_std
    normalizer: object  # TrajectoryNormalizer of the diffusion model
    scale: float = 1.0  # λ
    beta: float = BETA
    schedule: str = "cosine"
    at: str = "denoised"  # Alg. 1 l. 10; "noised" as in the authors' code default
    norm: str = "trajectory"
    behavior_policy: object = None  # Eq. 9: also subtract ∇ log π_off

    def __post_init__(self):
        layout = self.normalizer.layout
        for name, value, allowed in (("at", self.at, EVALUATED_AT), ("norm", self.norm, NORMS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.scale < 0:
            raise ValueError(f"the guidance scale λ must be >= 0, got {self.scale}")
        for policy in filter(None, (self.policy, self.behavior_policy)):
            if (policy.obs_dim, policy.act_dim) != (layout.obs_dim, layout.act_dim):
                raise ValueError(
                    f"policy acts on obs {policy.obs_dim} / act {policy.act_dim}, "
                    f"but the diffusion model's trajectories have {layout.describe()}"
                )

    def lambdas(self, sigmas):
        return guidance_schedule(self.scale, sigmas, self.beta, self.schedule)

    def gradient(self, tau):
        """Target (minus behavior) policy log-likelihood gradient on the action channels (Eq. 9 / 11)."""
        grad = action_log_likelihood_gradient(tau, self.policy, self.normalizer)
        if self.behavior_policy is not None:
            grad -= action_log_likelihood_gradient(tau, self.behavior_policy, self.normalizer)
        return grad

    def apply(self, tau_hat, denoised, lam):
        """Alg. 1 l. 10–11: τ̂ ← τ̂ + λ_n g / ||g|| on the actions, g taken at the denoised estimate."""
        # BEGIN ASSIGNMENT guidance-step
        g = self.gradient(denoised if self.at == "denoised" else tau_hat)
        return tau_hat + lam * unit_normalize(g, self.normalizer.layout, self.norm)
        # END ASSIGNMENT


def score_guided_denoiser(denoise, policy, normalizer, scale, noise_aware=True):
    """Eq. 12: the score gains λ ∇_â log q(τ̂), evaluated at the noised trajectory.

    With score(x; σ) = (D(x; σ) − x) / σ², adding a term h to the score is the
    same as using the denoiser D(x; σ) + σ² h. No normalization, no schedule.

    Literally (`noise_aware=False`), h = λ ∇ log q has curvature λ/std² at every
    noise level, while the data score's is only ~1/σ²: with σ up to 80 the
    explicit Heun steps then overshoot and diverge. `noise_aware=True` (default)
    uses the Gaussian policy's likelihood convolved with the diffusion noise,
    N(a; μ(s), std²/λ + σ²) per action dimension (in normalized units), whose
    gradient is λ ∇ log q · std² / (std² + λ J² σ²), J = d(raw)/d(normalized)
    action. It equals Eq. 12 as σ → 0, where Eq. 13 is defined.
    """
    if scale < 0:
        raise ValueError(f"the guidance scale λ must be >= 0, got {scale}")
    act = normalizer.layout.act

    def guided(x, sigma):
        sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64).reshape(-1), (len(x),))
        grad_raw, std, jacobian = _policy_terms(x, policy, normalizer)
        term = scale * grad_raw * jacobian
        if noise_aware:
            term *= std**2 / (std**2 + scale * jacobian**2 * sigma[:, None, None] ** 2)
        out = np.array(denoise(x, sigma), dtype=np.float64)
        out[:, act] += sigma[:, None, None] ** 2 * term
        return out

    return guided
