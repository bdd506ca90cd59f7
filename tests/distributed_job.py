"""Training job that ``test_distributed.py`` runs alone and under ``torchrun``.

``python tests/distributed_job.py OUT_DIR`` and ``torchrun --nproc_per_node=2
tests/distributed_job.py OUT_DIR`` run the same code; rank 0 saves to
``OUT_DIR/results.npz`` the loss and gradients of each pair loss (NT-Xent,
InfoNCE, Barlow Twins, VICReg, SwAV) over one fixed global batch, the loss
history, embeddings and final weights of a CLR and a DINO fit, the class of
the module CLR's training step calls, and the error an uneven batch size
gives, for the test to compare.
The CLR fit prints its epoch table and saves skorch checkpoints to
``OUT_DIR/checkpoints_rank<rank>``.
"""

import os
import sys

import numpy as np
import torch
from skorch.callbacks import Callback, Checkpoint

import contrastlearn as cl
from contrastlearn import distributed
from contrastlearn.losses import (
    barlow_twins_loss,
    convirt_loss,
    info_nce,
    nt_xent,
    swav_loss,
    vicreg_loss,
)

NO_AUGMENTATION = cl.Augment(
    crop_scale=(1.0, 1.0),
    crop_ratio=(1.0, 1.0),
    rotation=0.0,
    hflip=0.0,
    vflip=0.0,
    jitter_prob=0.0,
    blur_prob=0.0,
)


#: Each loss of a pair of views, as its method calls it under torchrun.
PAIR_LOSSES = {
    "nt_xent": lambda z1, z2: nt_xent(z1, z2, temperature=0.5, gather_distributed=True),
    "info_nce": lambda z1, z2: info_nce(z1, z2, 0.2, gather_distributed=True),
    "barlow_twins": lambda z1, z2: barlow_twins_loss(z1, z2, 0.1, gather_distributed=True),
    "vicreg": lambda z1, z2: vicreg_loss(z1, z2, gather_distributed=True),
    "convirt": lambda z1, z2: convirt_loss(z1, z2, 0.1, 0.75, gather_distributed=True),
    "swav": lambda z1, z2: swav_loss(
        torch.nn.functional.normalize(torch.stack([z1, z2]), dim=-1), gather_distributed=True
    ),
}


def loss_gradients(name):
    """A loss of a linear layer's outputs on this process's share of 8 fixed image pairs."""
    generator = torch.Generator().manual_seed(0)
    pairs = torch.randn(8, 2, 6, generator=generator)
    layer = torch.nn.Linear(6, 4)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(4, 6, generator=generator))
        layer.bias.copy_(torch.randn(4, generator=generator))
    mine = distributed.shard(pairs)
    z = layer(mine.flatten(0, 1)).view(len(mine), 2, 4)
    loss = PAIR_LOSSES[name](z[:, 0], z[:, 1])
    loss.backward()
    distributed.average_gradients(layer.parameters())
    return {
        f"{name}_loss": distributed.all_reduce_mean(loss.detach()).numpy(),
        f"{name}_weight_grad": layer.weight.grad.numpy(),
        f"{name}_bias_grad": layer.bias.grad.numpy(),
    }


class RecordStepModule(Callback):
    """Keep the class name of the module the training step calls."""

    name = ""

    def on_train_begin(self, net, **kwargs):
        RecordStepModule.name = type(net.loss_modules["loss"]).__name__


def fitted(name, model, X):
    """Loss history and weights of ``model`` fitted on ``X``, keyed by ``name``."""
    model.fit(X)
    weights = {
        f"{name}_weight_{key}": value.numpy()
        for key, value in model.net_.module_.state_dict().items()
    }
    return {
        f"{name}_loss": np.array(model.history_[:, "train_loss"]),
        f"{name}_embedding": model.transform(X[:8]),
        **weights,
    }


def uneven_batch_error(X):
    """The message of the error a batch size not divisible by the processes gives."""
    try:
        cl.CLR(batch_size=31, max_epochs=1, device="cpu").fit(X)
    except ValueError as error:
        return str(error)
    return ""


def main(out_dir):
    distributed.setup("cpu")
    X = np.random.default_rng(0).random((64, 1, 16, 16)).astype(np.float32)
    common = {
        "backbone": "vit_tiny_p4",
        "augment": NO_AUGMENTATION,
        "batch_size": 32,
        "max_epochs": 3,
        "device": "cpu",
        "random_state": 0,
    }
    checkpoint = Checkpoint(
        monitor="train_loss_best",
        dirname=os.path.join(out_dir, f"checkpoints_rank{distributed.rank()}"),
    )
    results = {
        **{key: value for name in PAIR_LOSSES for key, value in loss_gradients(name).items()},
        **fitted(
            "clr",
            cl.CLR(
                projection_dims=(16,),
                verbose=1,
                callbacks=[checkpoint, RecordStepModule()],
                **common,
            ),
            X,
        ),
        "step_module": RecordStepModule.name,
        **fitted(
            "dino", cl.DINO(projection_dims=(32, 16), n_prototypes=32, n_local_crops=0, **common), X
        ),
        "world_size": distributed.world_size(),
        "uneven_batch_error": uneven_batch_error(X),
    }
    if distributed.rank() == 0:
        np.savez(os.path.join(out_dir, "results.npz"), **results)


if __name__ == "__main__":
    main(sys.argv[1])
