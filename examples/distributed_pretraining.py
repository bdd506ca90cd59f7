"""
Pretraining on several GPUs with torchrun
=========================================

A pretrainer's ``fit`` trains data-parallel when the script is launched by
``torchrun``: no change to the estimator code. Every process takes its share
of each global batch of ``batch_size`` images, NT-Xent compares every anchor
with the views of all processes, and the gradients are averaged, so the fit
follows a one-process fit on the same batches. Only rank 0 prints and writes
checkpoints; after ``fit`` every process holds the same model.

Run it on four GPUs, or on two CPU processes (gloo) to try it out::

    torchrun --nproc_per_node=4 examples/distributed_pretraining.py
    torchrun --nproc_per_node=2 examples/distributed_pretraining.py

Run plainly (``python examples/distributed_pretraining.py``) it trains on
one process, with the same result up to BatchNorm statistics (per process
under torchrun) and augmentation draws.
"""

import joblib
from sklearn.datasets import load_digits

import contrastlearn as cl
from contrastlearn import distributed
from contrastlearn.demo import DIGITS_AUGMENT

digits = load_digits()
images, labels = digits.images, digits.target

# batch_size is the global batch: 256 images per step over all processes,
# so it must divide by the number of processes.
clr = cl.CLR(augment=DIGITS_AUGMENT, batch_size=256, max_epochs=10, random_state=0, verbose=1)
clr.fit(images)

# Every process has the model; let one of them evaluate and save it.
if distributed.rank() == 0:
    probe = cl.LinearProbe().fit(clr.transform(images[:1200]), labels[:1200])
    f1 = probe.score(clr.transform(images[1200:]), labels[1200:])
    print(f"{distributed.world_size()} process(es): linear probe macro F1 {f1:.3f}")
    joblib.dump(clr, "clr_digits.joblib")
