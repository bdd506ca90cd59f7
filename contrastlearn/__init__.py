"""contrastlearn: self-supervised contrastive learning for scientific images, the sklearn way.

A pretrainer is an sklearn transformer: ``fit(X)`` learns a representation from
unlabelled images (on the GPU when there is one) and ``transform(X)`` returns
embeddings for linear probes, k-means, nearest neighbours and ``GridSearchCV``.
"""

from . import (
    augment,
    backbones,
    baselines,
    datasets,
    detection,
    distributed,
    evaluation,
    heads,
    losses,
    model_selection,
    monitor,
    optim,
    pairing,
    plotting,
    projection,
    selection,
    similarity,
    text,
    validation,
)
from ._base import BasePretrainer
from .augment import Augment
from .clr import CLR, CPLR
from .convirt import ConVIRT
from .dalle import DALLE
from .decorrelation import BarlowTwins, VICReg
from .detection import ParticleDetector
from .dino import DINO
from .discrete_vae import DiscreteVAE
from .evaluation import LinearProbe, make_overlap_scorer, overlap_score
from .finetune import FineTunedClassifier
from .gloria import GLoRIA
from .ibot import iBOT
from .jigsaw import Jigsaw
from .mae import MAE
from .momentum import BYOL, MoCo
from .nnclr import NNCLR
from .pairing import LatentNeighbors
from .simsiam import SimSiam
from .swav import SwAV
from .vae import VAE

__version__ = "0.1.0"

__all__ = [
    "CLR",
    "CPLR",
    "DINO",
    "SimSiam",
    "iBOT",
    "BYOL",
    "MoCo",
    "BarlowTwins",
    "VICReg",
    "NNCLR",
    "SwAV",
    "MAE",
    "Jigsaw",
    "ConVIRT",
    "GLoRIA",
    "VAE",
    "DiscreteVAE",
    "DALLE",
    "Augment",
    "LatentNeighbors",
    "LinearProbe",
    "FineTunedClassifier",
    "ParticleDetector",
    "BasePretrainer",
    "overlap_score",
    "make_overlap_scorer",
    "augment",
    "backbones",
    "baselines",
    "datasets",
    "detection",
    "distributed",
    "evaluation",
    "heads",
    "losses",
    "model_selection",
    "monitor",
    "optim",
    "pairing",
    "plotting",
    "projection",
    "selection",
    "similarity",
    "text",
    "validation",
    "__version__",
]
