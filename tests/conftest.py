import os
import shutil
import subprocess
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: with other processes on the cores (the
# distributed tests' workers, a parallel search) spinning threads slowed fits ~30x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
from sklearn.datasets import load_digits

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOCS_TEST = "test_sphinx_site_builds_without_warnings"


class DocsBuild:
    """The Sphinx build of the site, whose gallery runs every example, in a process of its own.

    It starts once the tests are collected and its test runs last: the build takes minutes,
    and the other tests leave one of two cores idle most of the time.
    """

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="contrastlearn-docs-"))
        self.html = self.folder / "html"
        self.log = self.folder / "build.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
                + [str(DOCS), str(self.html)],
                stdout=log,
                stderr=subprocess.STDOUT,
                # conf.py runs two examples at a time: one thread each suits two cores best
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )

    def wait(self, timeout):
        """The build's exit status and the end of its output, once it has finished."""
        returncode = self.process.wait(timeout)
        return returncode, self.log.read_text()[-5000:]

    def remove(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    docs = [item for item in session.items if item.name == DOCS_TEST]
    if docs and find_spec("sphinx_gallery") is not None:
        session.items[:] = [item for item in session.items if item not in docs] + docs
        session.config.stash[DOCS_BUILD] = DocsBuild()


def pytest_unconfigure(config):
    build = config.stash.get(DOCS_BUILD, None)
    if build is not None:
        build.remove()


DOCS_BUILD = pytest.StashKey[DocsBuild]()


@pytest.fixture
def docs_build(request):
    """The :class:`DocsBuild` started for this session (or one started now)."""
    build = request.config.stash.get(DOCS_BUILD, None)
    if build is None:
        build = request.config.stash[DOCS_BUILD] = DocsBuild()
    return build


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
