"""A checkpointed CLR fit that ``test_checkpoint.py`` runs, and kills, in a subprocess.

``python tests/resume_job.py CHECKPOINT_DIR OUT.npz [KILL_AT]`` fits CLR
for 5 epochs on 512 digits with ``checkpoint_dir=CHECKPOINT_DIR`` and saves
the embedding and loss history to ``OUT.npz``. With ``KILL_AT`` an epoch
number, the process sends itself SIGKILL after the second batch of that
epoch; with ``save:N``, it sends itself SIGTERM (as a batch system does;
its default action ends the process at once) while it saves the checkpoint
of epoch N, after the previous epoch's file has been moved aside and before
the new one is moved in (the new one complete in its temporary file).
"""

import os
import signal
import sys

import numpy as np
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

import contrastlearn as cl

PARAMS = dict(max_epochs=5, batch_size=64, random_state=0, device="cpu")


def images():
    return load_digits().images[:512].astype(np.float32)


def labels():
    return load_digits().target[:512]


class KillMidEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 2:
            self.interrupt()

    def interrupt(self):
        os.kill(os.getpid(), signal.SIGKILL)


def kill_while_saving(epoch):
    """SIGTERM between the two renames of the ``epoch``-th checkpoint save."""
    replace, saves = os.replace, []

    def replace_or_die(source, target):
        if source.endswith(".partial"):
            saves.append(target)
            if len(saves) == epoch:
                os.kill(os.getpid(), signal.SIGTERM)
        replace(source, target)

    os.replace = replace_or_die


def main(directory, out, kill_at=None):
    X = images()
    callbacks = None
    if kill_at and kill_at.startswith("save:"):
        kill_while_saving(int(kill_at.removeprefix("save:")))
    elif kill_at:
        callbacks = [KillMidEpoch(int(kill_at))]
    clr = cl.CLR(checkpoint_dir=directory, callbacks=callbacks, **PARAMS).fit(X)
    weights = {
        f"weight:{name}": value.cpu().numpy()
        for name, value in clr.net_.module_.state_dict().items()
    }
    np.savez(
        out,
        embedding=clr.transform(X),
        loss=np.array(clr.history_[:, "train_loss"]),
        epoch=np.array(clr.history_[:, "epoch"]),
        **weights,
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
