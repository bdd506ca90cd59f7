"""Evaluating embeddings: linear probes, the overlap score, few-label and factor readouts.

Everything here works on embeddings (``(n_samples, n_features)`` arrays, e.g.
the output of a pretrainer's ``transform``) and is a plain scikit-learn
estimator, metric or scorer:

- :class:`LinearProbe` -- standardisation + logistic regression, multi-label
  aware, scored by macro F1, with a per-label precision/recall/F1 table;
- :func:`linear_evaluation` -- the reference CPLR study's protocol: a
  perceptron per label, 5-fold cross-validated on all images;
- :func:`overlap_score` and :func:`make_overlap_scorer` -- how much of an
  image's label set its nearest neighbours in embedding space share (the
  similarity overlap of the CPLR paper), as a metric and as a ``scoring=``
  callable for ``GridSearchCV``;
- :func:`few_label_accuracy` and :func:`make_few_label_scorer` -- accuracy of
  a readout trained on a small labelled fraction;
- :func:`latent_readout` -- how well each generative factor of the data
  (shape, scale, orientation, position, ...) can be read back linearly
  from frozen embeddings: R^2, accuracy and grid accuracy per factor;
- :func:`retrieval_recall` -- recall@k of finding each image's text (or
  measurement) among all of them, and back, in a shared embedding space.
"""

from ._few_label import few_label_accuracy, make_few_label_scorer
from ._overlap import make_overlap_scorer, overlap_score
from ._probe import LinearProbe, linear_evaluation
from ._readout import latent_readout
from ._retrieval import retrieval_recall

__all__ = [
    "LinearProbe",
    "few_label_accuracy",
    "latent_readout",
    "linear_evaluation",
    "make_few_label_scorer",
    "make_overlap_scorer",
    "overlap_score",
    "retrieval_recall",
]
