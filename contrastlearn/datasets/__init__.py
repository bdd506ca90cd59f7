"""Data sets: physically motivated simulators and readers for detector files.

Every generator returns numpy arrays (and pandas DataFrames for tables of
latent factors or labels); readers open files lazily.
"""

from ..detection._frames import EdgeFrameFilter
from ._captions import DIGIT_NAMES, load_captioned_digits
from ._crops import extract_crops, make_particle_crops
from ._cxi import CXIImages, CXIShots, load_cxi, save_cxi
from ._diffraction import make_diffraction
from ._lenses import make_lenses
from ._preprocess import preprocess_diffraction
from ._sprites import SpriteImages, make_sprites
from ._tomogram import make_tomogram

__all__ = [
    "CXIImages",
    "CXIShots",
    "DIGIT_NAMES",
    "EdgeFrameFilter",
    "SpriteImages",
    "extract_crops",
    "load_captioned_digits",
    "load_cxi",
    "make_diffraction",
    "make_lenses",
    "make_particle_crops",
    "make_sprites",
    "make_tomogram",
    "preprocess_diffraction",
    "save_cxi",
]
