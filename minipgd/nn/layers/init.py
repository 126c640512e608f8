"""PyTorch's default initialization for Linear and Conv1d.

kaiming_uniform(a=sqrt(5)) for the weight and the bias both reduce to
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_features * kernel_size.
"""
import numpy as np


def uniform_fan_in(rng, shape, fan_in, dtype):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)
