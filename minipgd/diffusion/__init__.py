"""EDM trajectory diffusion and policy guidance (Sec. 2.2 and 4, Algorithm 1, Appendix A)."""
from .denoiser import Denoiser, edm_loss
from .guidance import PolicyGuidance, guidance_schedule, score_guided_denoiser
from .sampler import guided_heun_sample
from .model import TrajectoryDiffusion
from .trainer import DiffusionTrainConfig, train_diffusion
from .trajectory import TrajectoryLayout, TrajectoryNormalizer

__all__ = [
    "Denoiser",
    "DiffusionTrainConfig",
    "PolicyGuidance",
    "TrajectoryDiffusion",
    "TrajectoryLayout",
    "TrajectoryNormalizer",
    "edm_loss",
    "guidance_schedule",
    "guided_heun_sample",
    "score_guided_denoiser",
    "train_diffusion",
]
