"""Particle detection: from embeddings of tomogram crops to particle / background labels.

- :class:`ParticleDetector` -- k-means on embeddings turned into a particle /
  no-particle classifier (``predict``, ``decision_function`` for ROC AUC),
  with label-free ways to orient its clusters and place its threshold;
- :class:`EdgeFrameFilter` -- keeps the crops whose edge energy shows structure
  (also importable as ``contrastlearn.datasets.EdgeFrameFilter``);
- :func:`contrast_score` -- a label-free particle score of a crop (the
  contrast of its centre against its rim);
- :func:`detection_report` -- precision, recall, F1 and ROC AUC in one table.
"""

from ._detector import ParticleDetector, contrast_score, detection_report
from ._frames import EdgeFrameFilter

__all__ = ["EdgeFrameFilter", "ParticleDetector", "contrast_score", "detection_report"]
