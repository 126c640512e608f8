"""Hand-written autodiff: layers, the temporal U-Net, optimizers and checkpoints."""
from .module import Module
from .unet import TemporalUNet, UNetConfig

__all__ = ["Module", "TemporalUNet", "UNetConfig"]
