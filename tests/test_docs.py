"""The documentation builds with warnings as errors and runs the gallery examples.

The build runs in the background from the start of the session (``docs_build`` in
``conftest.py``); this test waits for it.
"""

import pytest


def test_sphinx_site_builds_without_warnings(docs_build):
    pytest.importorskip("sphinx_gallery", reason="install the 'docs' extra")
    returncode, output = docs_build.wait(timeout=900)
    assert returncode == 0, output
    assert (docs_build.html / "generated" / "contrastlearn.CLR.html").exists()
    gallery = (docs_build.html / "auto_examples" / "plot_clr_digits.html").read_text()
    assert "sphx_glr_plot_clr_digits_002.png" in gallery  # the embedding map was drawn
