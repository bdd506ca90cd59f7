"""The small networks a method puts on its backbone, and the momentum teacher.

- :func:`projection_head` -- the MLP between backbone and loss (SimCLR, CPLR,
  SimSiam's projector, BYOL, ...);
- :func:`prediction_head` -- the bottleneck MLP of SimSiam and BYOL that
  predicts one view's projection from the other's;
- :class:`DINOHead` -- DINO's MLP onto L2-normalised prototypes;
- :class:`MemoryBank` -- a ring buffer of unit vectors from earlier batches
  (MoCo's queue of keys, NNCLR's support set);
- :class:`MomentumTeacher` -- the exponential-moving-average update that
  keeps one network the slowly moving teacher of another (DINO, iBOT; BYOL
  and MoCo's target network), with its step count in a buffer, so a
  checkpoint of the module carries it.

Every head is a plain :class:`torch.nn.Module` and can be used outside the
estimators, as lightly's heads are.
"""

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validation import DIMS, PROBABILITY, ints
from .validation import InstanceOf, Options, validate_params

__all__ = [
    "DINOHead",
    "MemoryBank",
    "MomentumTeacher",
    "frozen_copy",
    "prediction_head",
    "projection_head",
]


@validate_params({"in_features": ints(1), "dims": DIMS, "batchnorm": Options(["hidden", "all"])})
def projection_head(in_features, dims, batchnorm="hidden"):
    """MLP projection head: Linear-BN-ReLU for every width but the last.

    Parameters
    ----------
    in_features : int
    dims : tuple of int
        Layer widths; the last is the projection size.
    batchnorm : {"hidden", "all"}, default="hidden"
        ``"hidden"``: the last layer is a plain Linear (SimCLR v1).
        ``"all"``: every Linear is bias-free and followed by BatchNorm, the
        last one scaling without shifting and no ReLU after it (SimCLR v2
        and the reference CPLR study's 512-512-128 head).

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.heads import projection_head
    >>> head = projection_head(64, (256, 128))
    >>> head(torch.randn(8, 64)).shape
    torch.Size([8, 128])
    """
    layers, width = [], in_features
    normed = batchnorm == "all"
    for hidden in dims[:-1]:
        layers += [
            nn.Linear(width, hidden, bias=not normed),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
        ]
        width = hidden
    layers.append(nn.Linear(width, dims[-1], bias=not normed))
    if normed:
        last = nn.BatchNorm1d(dims[-1])
        last.bias.requires_grad_(False)  # scale only: the reference's BN(center=False)
        layers.append(last)
    return nn.Sequential(*layers)


@validate_params({"in_features": ints(1), "hidden": ints(1)})
def prediction_head(in_features, hidden):
    """SimSiam's and BYOL's predictor: Linear-BN-ReLU-Linear back to ``in_features``.

    Parameters
    ----------
    in_features : int
        Width of the projections it predicts (and of its output).
    hidden : int
        Bottleneck width (SimSiam: a quarter of ``in_features``; BYOL: 4096
        for 256-d projections).

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.heads import prediction_head
    >>> prediction_head(128, 32)(torch.randn(8, 128)).shape
    torch.Size([8, 128])
    """
    return projection_head(in_features, (hidden, in_features))


class DINOHead(nn.Module):
    """DINO's projection head: an MLP with GELUs, L2 normalisation, then prototypes.

    The last layer is a weight-normalised linear map onto ``n_prototypes``
    unit vectors (weight norm fixed at 1), so its outputs are cosine
    similarities in [-1, 1].

    Parameters
    ----------
    in_features : int
    dims : tuple of int
        MLP widths; the last is the bottleneck the prototypes live in.
    n_prototypes : int

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.heads import DINOHead
    >>> DINOHead(16, (32, 8), n_prototypes=10)(torch.randn(4, 16)).shape
    torch.Size([4, 10])
    """

    @validate_params({"in_features": ints(1), "dims": DIMS, "n_prototypes": ints(1)})
    def __init__(self, in_features, dims, n_prototypes):
        super().__init__()
        layers, width = [], in_features
        for hidden in dims[:-1]:
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        layers.append(nn.Linear(width, dims[-1]))
        self.mlp = nn.Sequential(*layers)
        self.prototypes = nn.Parameter(torch.randn(n_prototypes, dims[-1]) * 0.02)

    def forward(self, x):
        return F.normalize(self.mlp(x), dim=-1) @ F.normalize(self.prototypes, dim=-1).T


@validate_params({"module": InstanceOf(nn.Module, name="a torch.nn.Module")})
def frozen_copy(module):
    """A deep copy of ``module`` that gradients never reach: a teacher's starting point.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> from torch import nn
    >>> from contrastlearn.heads import frozen_copy
    >>> student = nn.Linear(4, 2)
    >>> teacher = frozen_copy(student)
    >>> teacher.weight.requires_grad, student.weight.requires_grad
    (False, True)
    """
    return copy.deepcopy(module).requires_grad_(False)


class MomentumTeacher(nn.Module):
    r"""The momentum update that keeps a teacher network an average of its student.

    Every :meth:`update` (call it after each optimiser step) moves each
    teacher parameter towards the student's,

    .. math::

        \theta_t \leftarrow m\,\theta_t + (1 - m)\,\theta_s, \qquad
        m = m_1 - (m_1 - m_0)\,\frac{1 + \cos(\pi \min(k / K, 1))}{2},

    with the momentum :math:`m` rising from ``momentum`` (:math:`m_0`) to
    ``final_momentum`` (:math:`m_1`) along a half cosine over ``total_steps``
    (:math:`K`) updates; :math:`k` is the number of updates so far (BYOL,
    DINO). The teacher and the student are the caller's modules (the
    teacher usually a :func:`frozen_copy` of the student), so the method
    decides which of them ``transform`` embeds with. The count :math:`k` is
    the buffer ``step``: it is part of ``state_dict()``, so checkpointing the
    module that holds this one saves and restores it. It is also kept on
    the host, so no update reads the device.

    Parameters
    ----------
    momentum : float, default=0.996
        :math:`m_0`, the momentum of the first update.
    final_momentum : float, default=1.0
        :math:`m_1`, reached after ``total_steps`` updates.
    total_steps : int, default=1
        Updates over which the momentum rises (a fit's optimiser steps).

    Attributes
    ----------
    step : torch.Tensor
        Buffer, the number of updates made (a 0-d int64 tensor).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from contrastlearn.heads import MomentumTeacher, frozen_copy
    >>> student = nn.Linear(3, 1)
    >>> teacher = frozen_copy(student)
    >>> ema = MomentumTeacher(momentum=0.9, total_steps=100)
    >>> with torch.no_grad():
    ...     _ = student.weight.add_(1.0)
    >>> before = teacher.weight.clone()
    >>> ema.update(teacher, student)
    >>> torch.allclose(teacher.weight, before + 0.1)
    True
    >>> ema.steps_taken, int(ema.step)
    (1, 1)
    """

    @validate_params(
        {"momentum": PROBABILITY, "final_momentum": PROBABILITY, "total_steps": ints(0)}
    )
    def __init__(self, momentum=0.996, final_momentum=1.0, total_steps=1):
        super().__init__()
        self.momentum = momentum
        self.final_momentum = final_momentum
        self.total_steps = max(int(total_steps), 1)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self._steps_taken = 0

    @property
    def steps_taken(self):
        """int: Updates made so far (the host's copy of ``step``)."""
        return self._steps_taken

    def set_step(self, step):
        """Set the update count (for instance to replay a schedule).

        Parameters
        ----------
        step : int
        """
        self._steps_taken = int(step)
        self.step.fill_(self._steps_taken)

    def current_momentum(self):
        """float: The momentum the next :meth:`update` applies."""
        progress = min(self._steps_taken / self.total_steps, 1.0)
        return (
            self.final_momentum
            - (self.final_momentum - self.momentum) * (math.cos(math.pi * progress) + 1) / 2
        )

    @torch.no_grad()
    def update(self, teacher, student):
        """Move ``teacher``'s parameters towards ``student``'s and count the step.

        Parameters
        ----------
        teacher, student : torch.nn.Module or sequence of torch.nn.Module
            Networks of the same architecture; their parameters are paired
            in order.
        """
        teacher_params, student_params = _parameters(teacher), _parameters(student)
        if len(teacher_params) != len(student_params):
            raise ValueError(
                f"The teacher has {len(teacher_params)} parameter tensors and the "
                f"student {len(student_params)}: they must be the same network."
            )
        momentum = self.current_momentum()
        torch._foreach_mul_(teacher_params, momentum)
        torch._foreach_add_(teacher_params, student_params, alpha=1 - momentum)
        self.step += 1
        self._steps_taken += 1

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "step" in state_dict:
            self._steps_taken = int(state_dict[prefix + "step"])

    def extra_repr(self):
        return (
            f"momentum={self.momentum}, final_momentum={self.final_momentum}, "
            f"total_steps={self.total_steps}"
        )


def _parameters(modules):
    modules = [modules] if isinstance(modules, nn.Module) else modules
    return [param for module in modules for param in module.parameters()]


class MemoryBank(nn.Module):
    """A ring buffer of L2-normalised vectors from earlier batches, in the model's buffers.

    MoCo v2 takes its negatives from such a queue of keys, NNCLR its
    positives (nearest neighbours) from such a support set. The vectors and
    the write position are buffers, so they move with the model, and a
    checkpoint saves and restores them; :meth:`push` overwrites the oldest
    rows without reading the device. It starts as random unit vectors.

    Parameters
    ----------
    size : int
        Number of vectors kept.
    dim : int
        Their length.

    Attributes
    ----------
    vectors : torch.Tensor of shape (size, dim)
        Buffer: the stored unit vectors.
    pointer : torch.Tensor
        Buffer: the row the next :meth:`push` starts at (0-d int64).

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.heads import MemoryBank
    >>> bank = MemoryBank(4, 2)
    >>> bank.push(torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
    >>> bank.vectors[:2], int(bank.pointer)
    (tensor([[1., 0.],
            [0., 1.]]), 3)
    """

    @validate_params({"size": ints(1), "dim": ints(1)})
    def __init__(self, size, dim):
        super().__init__()
        self.register_buffer("vectors", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    def push(self, vectors):
        """Store ``vectors`` ``(n, dim)`` (normalised, detached) over the oldest rows."""
        size = len(self.vectors)
        vectors = F.normalize(vectors.detach().to(self.vectors.dtype), dim=1)[-size:]
        rows = (self.pointer + torch.arange(len(vectors), device=vectors.device)) % size
        self.vectors[rows] = vectors
        self.pointer.copy_((self.pointer + len(vectors)) % size)
