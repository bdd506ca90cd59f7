"""The model parts every pretrainer trains: preprocessing and the backbone + head module."""

import math
import warnings

import torch
from torch import nn

from . import distributed
from ._data import as_tensor

NAN_POLICIES = ("raise", "replace", "mask")
"""What a pretrainer may do with non-finite pixels (its ``nan_policy``)."""

NORMALIZATIONS = ("dataset", "image", "minmax", None)
"""The intensity normalisations of :class:`Preprocess` (a pretrainer's ``normalize``)."""


class Preprocess(nn.Module):
    """Cast to float32, deal with non-finite pixels, optionally ``log1p``, then normalise.

    Parameters
    ----------
    log_intensity : bool
        Apply ``log1p(max(x, 0))`` first (for data spanning many decades).
    normalize : {"dataset", "image", "minmax", None}
        ``"dataset"``: subtract the per-channel mean and divide by the
        per-channel standard deviation measured on the training set.
        ``"image"``: standardise every image by its own mean and standard
        deviation. ``"minmax"``: scale every image to [0, 1] by its own
        minimum and maximum (a constant image becomes 0), as the reference
        CPLR study does. ``None``: leave intensities as they are.
    n_channels : int
        Channels (or features, for vector inputs) the statistics are kept for.
    nan_policy : {"raise", "replace", "mask"}, default="raise"
        Non-finite values (NaN, ±inf, or too large for float32) are assumed
        absent (``"raise"``: the input was checked), replaced by 0 before
        scaling (``"replace"``), or left out of the statistics and set to 0
        after normalisation (``"mask"``).
    """

    def __init__(self, log_intensity, normalize, n_channels, nan_policy="raise"):
        super().__init__()
        self.log_intensity = log_intensity
        self.normalize = normalize
        self.nan_policy = nan_policy
        self.register_buffer("mean", torch.zeros(n_channels))
        self.register_buffer("std", torch.ones(n_channels))

    def scale(self, x):
        """Cast, replace non-finite values by 0 and apply the optional log.

        Returns
        -------
        x : torch.Tensor
            float32.
        valid : torch.Tensor or None
            Under ``nan_policy="mask"``, True where ``x`` was finite.
        """
        x = x.float()
        valid = None
        if self.nan_policy != "raise":
            finite = torch.isfinite(x)
            x = torch.where(finite, x, 0.0)
            valid = finite if self.nan_policy == "mask" else None
        return (torch.log1p(x.clamp_min(0)) if self.log_intensity else x), valid

    def fit(self, X, batch_size):
        """Measure per-channel mean and std of the scaled, valid values of a numpy array.

        Under distributed training every process reads its share of ``X``.
        """
        total = torch.zeros(self.mean.shape, dtype=torch.float64)
        total_sq, count = torch.zeros_like(total), torch.zeros_like(total)
        dims = [0] + list(range(2, X.ndim))
        rows = distributed.shard(range(len(X)))
        for start in range(rows.start, rows.stop, batch_size):
            x, valid = self.scale(as_tensor(X[start : min(start + batch_size, rows.stop)]))
            x = x.double()
            total += x.sum(dims)
            total_sq += (x * x).sum(dims)
            count += valid.sum(dims) if valid is not None else math.prod(x.shape) / x.shape[1]
        total, total_sq, count = (
            distributed.all_reduce_sum(value) for value in (total, total_sq, count)
        )
        count = count.clamp_min(1)
        mean = total / count
        std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))
        return self

    def forward(self, x):
        x, valid = self.scale(x)
        if self.normalize == "dataset":
            shape = (1, -1) + (1,) * (x.ndim - 2)
            x = (x - self.mean.view(shape)) / self.std.view(shape)
        elif self.normalize == "image":
            dims = tuple(range(1, x.ndim))
            if valid is None:
                mean, std = (
                    x.mean(dim=dims, keepdim=True),
                    x.std(dim=dims, keepdim=True, unbiased=False),
                )
            else:
                count = valid.sum(dim=dims, keepdim=True).clamp_min(1)
                mean = x.sum(dim=dims, keepdim=True) / count
                std = ((x - mean).square() * valid).sum(dim=dims, keepdim=True).div(count).sqrt()
            x = (x - mean) / std.clamp_min(1e-12)
        elif self.normalize == "minmax":
            flat = x.flatten(1)
            if valid is None:
                low, high = flat.amin(1), flat.amax(1)
            else:
                mask = valid.flatten(1)
                any_valid = mask.any(1)
                low = torch.where(any_valid, torch.where(mask, flat, math.inf).amin(1), 0.0)
                high = torch.where(any_valid, torch.where(mask, flat, -math.inf).amax(1), 0.0)
            shape = (-1,) + (1,) * (x.ndim - 1)
            low, span = low.view(shape), (high - low).view(shape)
            x = torch.where(span > 0, (x - low) / span.clamp_min(1e-30), 0.0)
        return x if valid is None else x * valid


class PretrainModule(nn.Module):
    """Preprocessing, representation, backbone and projection head of a pretrainer.

    ``forward`` gives the backbone embedding of the images in the model's
    representation (what ``transform`` returns); :meth:`project` maps
    augmented views, already in their representation, through backbone and
    head for the loss. Methods may attach further submodules (a second
    representation or backbone).

    Parameters
    ----------
    preprocess : Preprocess
    backbone : torch.nn.Module
    head : torch.nn.Module
    represent : torch.nn.Module
        Puts images in the representation the backbone sees (identity for
        cartesian images, :class:`~contrastlearn.projection.PolarProjection`
        for polar).
    """

    def __init__(self, preprocess, backbone, head, represent):
        super().__init__()
        self.preprocess = preprocess
        self.represent = represent
        self.backbone = backbone
        self.head = head

    @property
    def view(self):
        """Deprecated name of :attr:`represent` (a "view" is an augmented image)."""
        warnings.warn(
            "PretrainModule.view was renamed PretrainModule.represent; the old name will be "
            "removed in a future release.",
            FutureWarning,
            stacklevel=2,
        )
        return self.represent

    def __setstate__(self, state):
        # Models pickled by older versions hold the representation under "view".
        modules = state.get("_modules", {})
        if "view" in modules:
            state["_modules"] = type(modules)(
                ("represent" if name == "view" else name, module)
                for name, module in modules.items()
            )
        super().__setstate__(state)

    def forward(self, x):
        return self.backbone(self.represent(self.preprocess(x)))

    def project(self, views):
        return self.head(self.backbone(views))
