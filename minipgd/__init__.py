"""minipgd: Policy-Guided Diffusion (Jackson et al., 2024) in NumPy + Numba, from scratch."""
__version__ = "0.1.0"
