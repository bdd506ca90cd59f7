"""The documentation builds with warnings as errors and runs the gallery examples."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_sphinx_site_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx_gallery", reason="install the 'docs' extra")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-W",
            "--keep-going",
            "-q",
            str(DOCS),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        # conf.py runs two examples at a time: one thread each suits two cores best
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-5000:]
    assert (tmp_path / "generated" / "contrastlearn.CLR.html").exists()
    gallery = (tmp_path / "auto_examples" / "plot_clr_digits.html").read_text()
    assert "sphx_glr_plot_clr_digits_002.png" in gallery  # the embedding map was drawn
