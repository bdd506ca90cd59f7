import os

# Idle OpenMP threads sleep instead of spinning: with other processes on the cores (the
# distributed tests' workers, a parallel search) spinning threads slowed fits ~30x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """sklearn's 1797 real 8x8 handwritten digits as (images, labels)."""
    data = load_digits()
    return data.images.astype(np.float32), data.target


@pytest.fixture(scope="session")
def small_images(digits):
    """A few hundred digit images for quick fits."""
    images, labels = digits
    return images[:240], labels[:240]


@pytest.fixture
def one_torch_thread():
    """Run torch on one thread, as joblib's workers do (float32 results depend on it)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def saved_state(checkpoint_dir):
    """The training state in the one fit folder of ``checkpoint_dir`` (checksum verified)."""
    from contrastlearn._checkpoint import CHECKPOINT_FILE, _damage, _read, find_checkpoints

    (folder,) = find_checkpoints(checkpoint_dir)
    path = os.path.join(folder, CHECKPOINT_FILE)
    assert _damage(path) is None
    return _read(path)
