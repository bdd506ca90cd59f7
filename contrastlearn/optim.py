"""Optimisers and learning-rate schedules the pretrainers train with.

- :class:`LARS` -- layer-wise adaptive rate scaling (You et al. 2017), the
  optimiser of SimCLR and of the contrastive projection learning study;
- :class:`MomentumSGD` -- SGD with momentum 0.9, the optimiser of SimSiam;
- :class:`WarmupCosine` -- linear warm-up, then cosine decay, per step.

A pretrainer picks them with ``optimizer="lars"`` or ``"sgd"`` (``"adamw"``
is the default), ``lr_schedule="cosine"`` and ``warmup_epochs``.
"""

import math

import torch

__all__ = ["LARS", "MomentumSGD", "WarmupCosine"]


class LARS(torch.optim.Optimizer):
    r"""SGD with momentum and a layer-wise trust ratio (LARS).

    For every parameter tensor :math:`w` with gradient :math:`g` that is
    *adapted* (by default every tensor of two or more dimensions: weights of
    convolutions and linear layers), weight decay joins the gradient and the
    step is scaled by the trust ratio:

    .. math::

        g' = g + \lambda w, \qquad
        \rho = \begin{cases} \eta \, \lVert w \rVert / \lVert g' \rVert &
               \text{if } \lVert w \rVert > 0 \text{ and } \lVert g' \rVert > 0 \\
               1 & \text{otherwise} \end{cases}, \qquad
        v \leftarrow m v + \text{lr}\, \rho\, g', \qquad w \leftarrow w - v .

    Biases and normalisation parameters (tensors of one dimension or fewer)
    get neither weight decay nor adaptation: plain momentum SGD
    (:math:`\rho = 1`, :math:`\lambda = 0`). This is the update of the
    TensorFlow ``LARSOptimizer`` of SimCLR (classic momentum, the learning
    rate inside the velocity), which the contrastive projection learning
    study trained with (momentum 0.9, weight decay 1e-4, trust coefficient
    0.001, learning rate :math:`0.1 \sqrt{\text{batch size}}`).

    Parameters
    ----------
    params : iterable of torch.Tensor or dict
        Parameters or parameter groups, as for any torch optimiser.
    lr : float
        Learning rate (> 0).
    momentum : float, default=0.9
        Momentum factor in [0, 1).
    weight_decay : float, default=0.0
        L2 penalty added to the gradient of adapted tensors (>= 0).
    trust_coefficient : float, default=0.001
        :math:`\eta`, the trust coefficient (> 0).
    exclude_bias_and_norm : bool, default=True
        Leave tensors of one dimension or fewer (biases, BatchNorm and
        LayerNorm parameters) out of weight decay and adaptation.

    References
    ----------
    Y. You, I. Gitman and B. Ginsburg, "Large Batch Training of Convolutional
    Networks", arXiv:1708.03888 (2017).

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.optim import LARS
    >>> layer = torch.nn.Linear(4, 2)
    >>> optimizer = LARS(layer.parameters(), lr=0.1, weight_decay=1e-4)
    >>> layer(torch.ones(3, 4)).sum().backward()
    >>> optimizer.step()
    """

    def __init__(
        self,
        params,
        lr,
        momentum=0.9,
        weight_decay=0.0,
        trust_coefficient=0.001,
        exclude_bias_and_norm=True,
    ):
        for name, value, valid in [
            ("lr", lr, lr > 0),
            ("momentum", momentum, 0 <= momentum < 1),
            ("weight_decay", weight_decay, weight_decay >= 0),
            ("trust_coefficient", trust_coefficient, trust_coefficient > 0),
        ]:
            if not valid:
                raise ValueError(f"LARS got an invalid {name}: {value!r}.")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                weight_decay=weight_decay,
                trust_coefficient=trust_coefficient,
                exclude_bias_and_norm=exclude_bias_and_norm,
            ),
        )

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimisation step.

        Parameters
        ----------
        closure : callable, default=None
            Re-evaluates the model and returns the loss.

        Returns
        -------
        torch.Tensor or None
            The closure's loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if not (group["exclude_bias_and_norm"] and param.ndim <= 1):
                    if group["weight_decay"]:
                        grad = grad.add(param, alpha=group["weight_decay"])
                    param_norm, grad_norm = (
                        torch.linalg.vector_norm(param),
                        torch.linalg.vector_norm(grad),
                    )
                    trust = torch.where(
                        (param_norm > 0) & (grad_norm > 0),
                        group["trust_coefficient"] * param_norm / grad_norm,
                        torch.ones_like(param_norm),
                    )
                    grad = grad * trust
                state = self.state[param]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(param)
                velocity = state["velocity"]
                velocity.mul_(group["momentum"]).add_(grad, alpha=group["lr"])
                param.sub_(velocity)
        return loss


class MomentumSGD(torch.optim.SGD):
    """:class:`torch.optim.SGD` with momentum 0.9 unless told otherwise.

    The optimiser of SimSiam (momentum 0.9, weight decay 1e-4 as an L2 term
    on every parameter, ``lr = 0.05 * batch_size / 256``); a pretrainer
    takes it with ``optimizer="sgd"``.

    Parameters
    ----------
    params : iterable of torch.Tensor or dict
        Parameters or parameter groups.
    lr : float
        Learning rate (> 0).
    momentum : float, default=0.9
        Momentum factor.
    weight_decay : float, default=0.0
        L2 penalty added to every gradient.
    **kwargs
        Further :class:`torch.optim.SGD` settings (``nesterov``, ...).

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.optim import MomentumSGD
    >>> MomentumSGD(torch.nn.Linear(4, 2).parameters(), lr=0.05).defaults["momentum"]
    0.9
    """

    def __init__(self, params, lr, momentum=0.9, weight_decay=0.0, **kwargs):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kwargs)


class WarmupCosine:
    """Learning-rate factor per step: linear warm-up, then cosine decay to 0.

    ``factor(step) = step / warmup_steps`` for ``step < warmup_steps`` (as
    in SimCLR, the first step has learning rate 0), then
    ``0.5 * (1 + cos(pi * (step - warmup_steps) / (total_steps - warmup_steps)))``;
    with ``cosine=False`` the factor stays 1 after the warm-up. Use it as
    the ``lr_lambda`` of :class:`torch.optim.lr_scheduler.LambdaLR`, stepped
    once per optimiser step. It is a plain object, so schedules pickle and
    their state is checkpointed.

    Parameters
    ----------
    total_steps : int
        Optimiser steps of the whole training.
    warmup_steps : int, default=0
        Steps of linear warm-up.
    cosine : bool, default=True
        Decay along a half cosine after the warm-up.

    Examples
    --------
    >>> from contrastlearn.optim import WarmupCosine
    >>> schedule = WarmupCosine(total_steps=10, warmup_steps=2)
    >>> [round(schedule(step), 3) for step in range(10)]
    [0.0, 0.5, 1.0, 0.962, 0.854, 0.691, 0.5, 0.309, 0.146, 0.038]
    """

    def __init__(self, total_steps, warmup_steps=0, cosine=True):
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.cosine = cosine

    def __call__(self, step):
        if step < self.warmup_steps:
            return step / self.warmup_steps
        if not self.cosine:
            return 1.0
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / decay_steps, 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress))
