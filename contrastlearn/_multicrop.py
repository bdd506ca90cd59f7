"""Multi-crop views: two global crops of every image and a few small local ones.

DINO (and so iBOT) and SwAV compare the two global crops with each other and
with ``n_local_crops`` local crops, the same augmentation pipeline with a
smaller ``local_crop_scale``, resampled to ``local_crop_size``.
"""

import torch
from sklearn.base import clone

from ._validation import SCALE, ints

#: The multi-crop parameters' constraints, for a method's ``_parameter_constraints``.
MULTICROP_CONSTRAINTS = {
    "n_local_crops": ints(0),
    "local_crop_scale": SCALE,
    "local_crop_size": [None, ints(1)],
}


class MultiCrop:
    """Mixin: the crops of a pretrainer with ``n_local_crops`` and ``local_crop_scale``."""

    def _check_local_crops(self, X):
        if len(X.shape) != 4 and self.n_local_crops:
            raise ValueError(
                f"{type(self).__name__}'s local crops need images; pass image_shape=(H, W) for "
                "flat input or set n_local_crops=0."
            )

    def _make_local_augment(self, X):
        """Set ``local_augment_`` and ``local_crop_shape_`` (call after ``augment_`` exists)."""
        self.local_augment_ = clone(self.augment_).set_params(crop_scale=self.local_crop_scale)
        side = self.local_crop_size or max(X.shape[-1] // 2, 1)
        self.local_crop_shape_ = (side, side) if len(X.shape) == 4 else None

    def _crops(self, module, x, partner):
        """Global crops of ``x`` and of ``partner`` ``(2n, ...)``; local crops of ``x``.

        The local crops are ``(n_local * n, ...)``, or None without local crops.
        """
        global_crops = module.represent(torch.cat([self.augment_(x), self.augment_(partner)]))
        if not self.n_local_crops:
            return global_crops, None
        local_crops = module.represent(
            torch.cat(
                [
                    self.local_augment_(x, output_size=self.local_crop_shape_)
                    for _ in range(self.n_local_crops)
                ]
            )
        )
        return global_crops, local_crops
