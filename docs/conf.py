"""Sphinx configuration for contrastlearn (builds offline: no intersphinx)."""

import contrastlearn

project = "contrastlearn"
author = "contrastlearn developers"
copyright = "2026, contrastlearn developers"
release = version = contrastlearn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
exclude_patterns = [
    "_build",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
]
templates_path = ["_templates"]

html_theme = "pydata_sphinx_theme"
html_title = "contrastlearn"
html_theme_options = {"navigation_with_keys": False}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    # Two examples at a time, each on one thread (tests/test_docs.py and `make docs` set
    # OMP_NUM_THREADS=1): 145 s for the gallery on 2 cores against 227 s one by one.
    "parallel": 2,
}
