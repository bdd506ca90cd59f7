"""Docstring pieces shared by the network estimators: parameters, attributes, raises."""

#: Docstring entries of the parameters shared by the networks' estimators, by name.
PARAMETER_DOCS = {
    "backbone": """backbone : str or torch.nn.Module, default="auto"
        A name from :data:`contrastlearn.backbones.BACKBONE_NAMES` ("small_cnn",
        "resnet18", "se_resnet50", "sk_resnet18_small", "cplr_resnet18", "mlp",
        ...) or any module mapping ``(B, C, H, W)`` images to ``(B, D)``
        vectors (it is copied, never trained in place). ``"auto"`` picks, for
        images of side ``s``, on the CPU ``"small_cnn"`` (``s >= 32``) or
        ``"small_cnn_small"``; on CUDA ``"resnet18"`` (``s >= 64``) or
        ``"resnet18_small"``; ``"mlp"`` for flat vectors.""",
    "projection_dims": """projection_dims : tuple of int, default={projection_dims}
        Widths of the projection head's layers; the last is the size of the
        vectors the loss compares.""",
    "image_shape": """image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` to reshape flat ``(n_samples, n_features)``
        input into images. None treats flat input as vectors.""",
    "normalize": """normalize : {"dataset", "image", "minmax", None}, default="dataset"
        Intensity normalisation: per-channel mean and standard deviation of the
        training set, each image by its own mean and standard deviation, each
        image scaled to [0, 1] by its own minimum and maximum (the reference
        CPLR study's scaling), or none.""",
    "log_intensity": """log_intensity : bool, default=False
        Apply ``log1p(max(x, 0))`` before normalising, for detector images that
        span many decades of intensity.""",
    "nan_policy": """nan_policy : {"raise", "replace", "mask"}, default="raise"
        What to do with NaN and infinite pixels (and finite values beyond the
        float32 range that training computes in), such as dead or saturated
        detector pixels: ``"raise"`` a ``ValueError`` saying how many there
        are and which image holds the first; ``"replace"`` them by 0 before
        ``log_intensity`` and normalisation (a pixel that counted nothing);
        or ``"mask"`` them: they are left out of the normalisation statistics
        and enter the network at the normalised mean, 0, carrying no signal.
        ``transform`` applies the same policy.""",
    "augment": """augment : Augment, str or None, default=None
        The view-making pipeline: an :class:`~contrastlearn.augment.Augment`,
        the name of a preset in :data:`contrastlearn.augment.PRESETS`, or
        None for the method's default (``"isotropic"``, except DINO's larger
        crops). ``"isotropic"``: any-angle rotation and flips, for images
        without a preferred orientation (diffraction patterns, micrographs,
        sky images); ``"upright"``: rotation by at most 15 degrees and no
        flips, for images with one (digits, text); ``"cplr-reference"``:
        the reference CPLR study's list, for ``normalize="minmax"``.""",
    "pairing": """pairing : "augment" or LatentNeighbors, default="augment"
        How positive pairs are formed: two augmentations of one image, or an
        augmentation of the image and one of another image whose latent
        factors lie within a small step
        (:class:`~contrastlearn.pairing.LatentNeighbors`; give the factor
        table to ``fit`` as ``latents``).""",
    "max_epochs": """max_epochs : int, default=20
        Passes over the data. 0 keeps the randomly initialised network: the
        "untrained backbone" baseline.""",
    "batch_size": """batch_size : int, default=256
        Images per step (the negatives of an anchor are the other
        ``2 * batch_size - 2`` views). Data smaller than this trains in one
        batch; otherwise the last incomplete batch of an epoch is dropped.""",
    "lr": """lr : float, default=1e-3
        Peak learning rate. For ``optimizer="lars"`` use a far larger one: the
        reference CPLR study took ``0.1 * sqrt(batch_size)``.""",
    "weight_decay": """weight_decay : float, default=1e-6
        Weight decay (AdamW's decoupled decay; LARS's L2 term, not applied to
        biases and normalisation parameters).""",
    "lr_schedule": """lr_schedule : {"cosine", None}, default="cosine"
        Cosine decay of the learning rate, per optimiser step, from ``lr``
        after the warm-up to 0 at the end of ``max_epochs``; or constant.""",
    "optimizer": """optimizer : {"adamw", "lars", "sgd"}, default="adamw"
        :class:`torch.optim.AdamW`; :class:`contrastlearn.optim.LARS`
        (momentum 0.9, trust coefficient 0.001; biases and normalisation
        parameters excluded from adaptation and decay), the optimiser of
        SimCLR and of the reference CPLR study; or
        :class:`contrastlearn.optim.MomentumSGD` (momentum 0.9, L2 weight
        decay on every parameter), the optimiser of SimSiam.""",
    "warmup_epochs": """warmup_epochs : float, default=0
        Epochs of linear learning-rate warm-up from 0, counted in optimiser
        steps (the reference CPLR study: 10 of 1000 epochs).""",
    "accumulate_batches": """accumulate_batches : int, default=1
        Add up the gradients of that many consecutive batches before each
        optimiser step (gradient accumulation: the step of a batch that does
        not fit in memory). The learning-rate schedule still counts batches.
        For contrastive losses the negatives of a loss are still those of
        one batch: accumulation is not a larger batch for them.""",
    "max_grad_norm": """max_grad_norm : float or None, default=None
        Clip the gradients of every optimiser step to this global L2 norm
        (:func:`torch.nn.utils.clip_grad_norm_`); None does not clip.""",
    "device": """device : str, default="auto"
        "auto" uses CUDA when available (of several GPUs, the one with the
        most free memory when ``fit`` starts, so that the jobs of a parallel
        search spread over them), else the CPU. On CUDA, training runs in
        bf16 autocast with channels_last tensors; on the CPU in float32.""",
    "random_state": """random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling and augmentation. With an int,
        a CPU fit is repeatable bit for bit.""",
    "verbose": """verbose : int, default=0
        0 prints nothing; 1 prints a table line per epoch (loss, duration);
        2 adds a progress bar per epoch.""",
    "callbacks": """callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (checkpoints, early stopping, ...), passed to
        the internal net. Under distributed training, callbacks that print
        or write files (``PrintLog``, ``ProgressBar``, ``Checkpoint``,
        ``TrainEndCheckpoint``) run on rank 0 only.""",
    "compile": """compile : bool, default=False
        Compile the training step (augmentation, networks and loss, forward
        and backward) with :func:`torch.compile`. The first epoch pays the
        compilation (15-35 s for the small CNN on a CPU); later epochs ran
        1.2-1.4x faster on a 2-core CPU. Worth it for long fits, not for
        short ones or small grid searches. ``transform`` is not compiled.""",
    "monitor_samples": """monitor_samples : int, default=256
        Training images (a fixed random sample) on which, after every epoch,
        the health of the embedding is measured and recorded in
        ``history_``: ``rankme`` (its effective rank; a fall towards 1 means
        collapse, and ``fit`` then warns), ``alignment`` (distance between
        the embeddings of an image and of an augmentation of it) and
        ``uniformity`` (how evenly embeddings spread); see
        :mod:`contrastlearn.monitor`. Costs two forward passes of the sample
        per epoch (``history_`` column ``monitor_dur``). 0 turns them off.""",
    "eval_every": """eval_every : int, default=1
        With ``fit(X, eval_set=(X_val, y_val))``, score the k-nearest-neighbour
        probe on the validation images every this many epochs (and after the
        last), as the ``history_`` column ``valid_knn``.""",
    "early_stopping": """early_stopping : bool, default=False
        Stop when ``valid_knn`` has not improved by more than ``tol`` for
        ``n_iter_no_change`` evaluations, and keep the weights of the best
        evaluated epoch (also when training runs to ``max_epochs``). Needs
        ``fit(X, eval_set=...)``.""",
    "n_iter_no_change": """n_iter_no_change : int, default=5
        Evaluations without improvement before ``early_stopping`` stops.""",
    "tol": """tol : float, default=1e-4
        The least rise of ``valid_knn`` that counts as an improvement.""",
    "checkpoint_dir": """checkpoint_dir : str, path-like or None, default=None
        Save the whole training state (weights, optimiser, learning-rate
        schedule, random generators, history) after every epoch to
        ``checkpoint_dir/<class name>-<fingerprint>/contrastlearn_checkpoint.pt``,
        one folder per fit: the fingerprint hashes the parameters and the
        training data's content, so the fits of a ``GridSearchCV`` or
        ``cross_validate`` (other parameters, other folds) never share a
        state. A ``fit`` whose folder holds a checkpoint goes on from its
        last complete epoch, e.g. after the process was killed, and on a CPU
        ends with the weights an uninterrupted fit would have reached. Each
        file is written to a temporary file, verified against a SHA-256
        checksum and renamed into place; the previous epoch's file is kept,
        and a damaged checkpoint is refused with a ``ValueError`` that says
        how to resume from the previous one. Checkpoints are loaded as
        weights only (no code runs). None saves nothing.""",
}

#: The training parameters of every estimator built on :class:`NetworkTransformer`.
TRAINING_PARAMETERS = (
    "image_shape",
    "normalize",
    "log_intensity",
    "nan_policy",
    "max_epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "lr_schedule",
    "optimizer",
    "warmup_epochs",
    "accumulate_batches",
    "max_grad_norm",
    "device",
    "random_state",
    "verbose",
    "callbacks",
    "compile",
    "checkpoint_dir",
)

#: The monitoring parameters of every pretrainer (see :mod:`contrastlearn.monitor`).
MONITOR_PARAMETERS = ("monitor_samples", "eval_every", "early_stopping", "n_iter_no_change", "tol")

ATTRIBUTES_DOC = """

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (module ``net_.module_``).
    history_ : skorch.History
        Per-epoch records: ``history_[:, "train_loss"]``, ``history_[:, "dur"]``
        (seconds of training), and for pretrainers the monitors ``rankme``,
        ``alignment``, ``uniformity``, ``monitor_dur`` and, with an
        ``eval_set``, ``valid_knn``. :func:`contrastlearn.monitor.history_frame`
        makes it a pandas DataFrame.
    n_features_in_ : int
        Values per sample seen in ``fit`` (``C * H * W`` for images).
    input_shape_ : tuple of int
        Shape of one sample as the network sees it: ``(C, H, W)`` or ``(F,)``.
    device_ : str
        The device training ran on."""


def parameters_doc(names, **defaults):
    """The numpydoc entries of the named shared parameters, ``{key}`` replaced from ``defaults``."""
    text = "\n    ".join(PARAMETER_DOCS[name] for name in names)
    for key, value in defaults.items():
        text = text.replace(f"{{{key}}}", str(value))
    return text


PARAMETERS_DOC = (
    parameters_doc(
        (
            "backbone",
            "projection_dims",
            "image_shape",
            "normalize",
            "log_intensity",
            "nan_policy",
            "augment",
            "pairing",
            "max_epochs",
            "batch_size",
            "lr",
            "weight_decay",
            "lr_schedule",
            "optimizer",
            "warmup_epochs",
            "accumulate_batches",
            "max_grad_norm",
            "device",
            "random_state",
            "verbose",
            "callbacks",
            "compile",
            "checkpoint_dir",
        )
        + MONITOR_PARAMETERS
    )
    + ATTRIBUTES_DOC
    + """
    augment_ : Augment
        The augmentation pipeline used.
    best_epoch_ : int
        With an ``eval_set``: the epoch of the best ``valid_knn`` (whose
        weights the estimator keeps with ``early_stopping=True``).
    best_validation_score_ : float
        With an ``eval_set``: that best ``valid_knn``."""
)
"""The parameters every pretrainer shares, for the methods' docstrings.

``{projection_dims}`` stands for the method's default head widths.
"""
