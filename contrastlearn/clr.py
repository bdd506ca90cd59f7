"""SimCLR-style contrastive pretraining (:class:`CLR`)."""

import torch

from ._base import BasePretrainer, _is_positive_real
from .losses import nt_xent


class CLR(BasePretrainer):
    """SimCLR-style contrastive pretrainer with the NT-Xent loss.

    Every image of a batch is augmented twice (:class:`~contrastlearn.augment.Augment`,
    on the model's device); both views pass through the same backbone and
    projection head, and :func:`~contrastlearn.losses.nt_xent` pulls the two
    views of an image together while pushing away the other ``2N - 2`` views of
    the batch. ``transform`` returns the backbone's embedding, before the
    projection head.

    Parameters
    ----------
    temperature : float, default=0.1
        NT-Xent temperature (> 0). Very low values (around 0.01) tend to
        collapse the representation; 0.1 to 0.5 is the usual range.
    backbone : str or torch.nn.Module, default="auto"
        A name from :data:`contrastlearn.backbones.BACKBONE_NAMES` ("small_cnn",
        "resnet18", "se_resnet50", "sk_resnet18_small", "mlp", ...) or any
        module mapping ``(B, C, H, W)`` images to ``(B, D)`` vectors (it is
        copied, never trained in place). ``"auto"`` picks, for images of
        side ``s``, on the CPU ``"small_cnn"`` (``s >= 32``) or
        ``"small_cnn_small"``; on CUDA ``"resnet18"`` (``s >= 64``) or
        ``"resnet18_small"``; ``"mlp"`` for flat vectors.
    projection_dims : tuple of int, default=(256, 128)
        Widths of the projection head's layers; the last is the size of the
        vectors the loss compares.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` to reshape flat ``(n_samples, n_features)``
        input into images. None treats flat input as vectors.
    normalize : {"dataset", "image", None}, default="dataset"
        Intensity normalisation: per-channel mean and standard deviation of the
        training set, each image by its own mean and standard deviation, or
        none.
    log_intensity : bool, default=False
        Apply ``log1p(max(x, 0))`` before normalising, for detector images that
        span many decades of intensity.
    augment : Augment or None, default=None
        The view-making pipeline; None means ``Augment()`` with its defaults
        (any-angle rotation and flips, which suit diffraction patterns,
        micrographs and sky images; use a small ``rotation`` and no flips for
        digits or text).
    max_epochs : int, default=20
        Passes over the data. 0 keeps the randomly initialised network: the
        "untrained backbone" baseline.
    batch_size : int, default=256
        Images per step (the negatives of an anchor are the other
        ``2 * batch_size - 2`` views). Data smaller than this trains in one
        batch; otherwise the last incomplete batch of an epoch is dropped.
    lr : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-6
        AdamW weight decay.
    lr_schedule : {"cosine", None}, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs``, or constant.
    device : str, default="auto"
        "auto" uses CUDA when available, else the CPU. On CUDA, training runs
        in bf16 autocast with channels_last tensors; on the CPU in float32.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling and augmentation. With an int,
        a CPU fit is repeatable bit for bit.
    verbose : int, default=0
        0 prints nothing; 1 prints a table line per epoch (loss, duration);
        2 adds a progress bar per epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (checkpoints, early stopping, ...), passed to
        the internal net.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (module ``net_.module_``).
    history_ : skorch.History
        Per-epoch records: ``history_[:, "train_loss"]``, ``history_[:, "dur"]``
        (seconds).
    n_features_in_ : int
        Values per sample seen in ``fit`` (``C * H * W`` for images).
    input_shape_ : tuple of int
        Shape of one sample as the network sees it: ``(C, H, W)`` or ``(F,)``.
    device_ : str
        The device training ran on.
    augment_ : Augment
        The augmentation pipeline used.

    See Also
    --------
    contrastlearn.losses.nt_xent : The loss.
    contrastlearn.augment.Augment : The view-making pipeline.

    References
    ----------
    Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive
    Learning of Visual Representations", ICML 2020, arXiv:2002.05709.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> clr = cl.CLR(max_epochs=2, batch_size=64, random_state=0).fit(X)
    >>> clr.transform(X).shape
    (200, 256)
    >>> clr.get_feature_names_out()[:3]
    array(['clr0', 'clr1', 'clr2'], dtype=object)
    """

    _parameter_checks = {
        **BasePretrainer._parameter_checks,
        "temperature": (_is_positive_real, "a float > 0"),
    }

    def __init__(self, *, temperature=0.1, backbone="auto", projection_dims=(256, 128),
                 image_shape=None, normalize="dataset", log_intensity=False, augment=None,
                 max_epochs=20, batch_size=256, lr=1e-3, weight_decay=1e-6,
                 lr_schedule="cosine", device="auto", random_state=None, verbose=0,
                 callbacks=None):
        super().__init__(
            backbone=backbone, projection_dims=projection_dims, image_shape=image_shape,
            normalize=normalize, log_intensity=log_intensity, augment=augment,
            max_epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
            lr_schedule=lr_schedule, device=device, random_state=random_state,
            verbose=verbose, callbacks=callbacks,
        )
        self.temperature = temperature

    def _training_loss(self, module, x):
        x = module.preprocess(x)
        views = torch.cat([self.augment_(x), self.augment_(x)])
        z1, z2 = module.project(views).chunk(2)
        return nt_xent(z1, z2, self.temperature)
