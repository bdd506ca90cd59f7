"""Checks and small helpers the losses share."""

import torch

from .._validation import POSITIVE
from ..validation import InstanceOf

TENSOR = InstanceOf(torch.Tensor, name="a torch tensor")
#: A temperature: a float > 0, or a 0-d tensor a compiled step reads without recompiling.
TEMPERATURE = [POSITIVE, InstanceOf(torch.Tensor, name="a 0-d torch tensor")]


def _check_pair(a, b, name_a, name_b):
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must be 2-D tensors of the same shape "
            f"(n_samples, n_dims); got {tuple(a.shape)} and {tuple(b.shape)}."
        )


def _off_diagonal(matrix):
    """The off-diagonal entries of a square matrix, flattened."""
    n = matrix.shape[0]
    return matrix.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def _standardise(z, eps=1e-5):
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)
