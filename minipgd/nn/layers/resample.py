"""Changing the sequence length of time-major (L, B, C) arrays: max-pooling down, nearest-neighbour up."""
import numpy as np

from ..module import Module


class MaxPool1d(Module):
    """Non-overlapping max over windows of 2 (Flax max_pool, 'VALID': an odd last row is dropped)."""

    def forward(self, x):
        """x: (L, B, C) -> (L // 2, B, C)."""
        self.in_shape = x.shape
        even, odd = x[0 : x.shape[0] - 1 : 2], x[1::2]
        self.even_wins = even >= odd  # ties go to the first row of the window
        return np.maximum(even, odd)

    def backward(self, dy):
        dx = np.zeros(self.in_shape, dy.dtype)  # the gradient goes to the row that was the max
        dx[0 : self.in_shape[0] - 1 : 2] = dy * self.even_wins
        dx[1::2][: dy.shape[0]] = dy * ~self.even_wins
        return dx


def nearest_source_index(length_in, length_out):
    """Row of the input each output row copies: jax.image.resize 'nearest' (half-pixel centres)."""
    return np.floor((np.arange(length_out) + 0.5) * length_in / length_out).astype(np.int64)


class NearestUpsample1d(Module):
    """Repeat rows to reach a target length (the authors' decoder 'deconvolution')."""

    def forward(self, x, length):
        """x: (L_in, B, C) -> (length, B, C), length >= L_in."""
        if length < x.shape[0]:
            raise ValueError(f"NearestUpsample1d cannot shrink length {x.shape[0]} to {length}")
        self.length_in = x.shape[0]
        self.source = nearest_source_index(self.length_in, length)
        return x[self.source]

    def backward(self, dy):
        # every input row was copied to a contiguous run of output rows: sum each run
        bounds = np.searchsorted(self.source, np.arange(self.length_in + 1))
        return np.stack([dy[lo:hi].sum(axis=0) for lo, hi in zip(bounds[:-1], bounds[1:])])
