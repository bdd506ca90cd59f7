"""GLoRIA: global and local contrast between images and texts (:class:`GLoRIA`)."""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._docs import PARAMETERS_DOC
from ._trainer import float32_default
from ._validation import NONNEGATIVE, POSITIVE
from .convirt import PairedModule, _PairedPretrainer
from .losses import gloria_loss, word_region_attention
from .text import PAD

__all__ = ["GLoRIA"]


class GLoRIAModule(PairedModule):
    """:class:`PairedModule` plus the local embedders of :class:`GLoRIA`."""

    def __init__(self, paired_module, region_channels, word_features, dim):
        super().__init__(
            paired_module,  # its preprocessing, backbone, head and representation
            paired_module.paired,
            paired_module.paired_head,
            paired_module.kind,
            paired_module.paired_mean,
            paired_module.paired_std,
        )
        self.region_embedder = nn.Conv2d(region_channels, dim, kernel_size=1, bias=False)
        self.word_embedder = nn.Linear(word_features, dim)

    def regions(self, views):
        """Projected sub-region features ``(B, h * w, D)`` and the map's ``(h, w)``."""
        maps = self.region_embedder(self.backbone.feature_map(views))
        return maps.flatten(2).transpose(1, 2), tuple(maps.shape[2:])

    def words(self, ids):
        """Pooled text features, projected word features ``(B, L, D)`` and their mask."""
        pooled, tokens = self.paired_features(ids)
        return pooled, self.word_embedder(tokens), ids != PAD


class GLoRIA(_PairedPretrainer):
    __doc__ = (
        """GLoRIA: global and local (word-to-region) contrast between images and texts.

    The global part is ConVIRT's: image and text projections contrasted in
    both directions (here with GLoRIA's logit temperature). The local part
    lets every word of a text attend over the sub-regions of an image (the
    backbone's feature map before its last stage, projected by a 1x1
    convolution; the words' features projected by a linear layer) and
    contrasts the aggregated word-region similarity of matching and other
    pairs (:func:`~contrastlearn.losses.gloria_loss`).
    :meth:`attention_maps` returns where each word looked.

    Parameters
    ----------
    attention_temperature : float, default=4.0
        :math:`\\tau_1`, sharpening the attention over regions.
    word_temperature : float, default=5.0
        :math:`\\tau_2`, aggregating word-region similarities.
    logit_temperature : float, default=10.0
        :math:`\\tau_3`, scaling similarities into logits.
    local_weight, global_weight : float, default=1.0
        Weights of the local and global terms.
    paired_encoder : "auto" or torch.nn.Module, default="auto"
        As for :class:`ConVIRT`, for texts only; a module must return token
        features ``(B, L, D)``.
    vocabulary : Vocabulary or None, default=None
        As for :class:`ConVIRT`.
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)")
        + """
    paired_kind_ : "texts"
    vocabulary_ : Vocabulary
    text_length_ : int
        Token ids per text (see :class:`ConVIRT`).

    Notes
    -----
    The vilmedic study's recipe: ResNet-50 (regions from layer 3), BERT
    word features (sums of the last 4 layers), temperatures 4, 5 and 10,
    both weights 1. In contrastlearn: ``GLoRIA(backbone="resnet50")``. The
    backbone must have a ``feature_map(x)`` method (every backbone of
    :mod:`contrastlearn.backbones` has). The text start token counts as a
    word, as GLoRIA's ``[CLS]`` does. Zero-shot classification and
    retrieval use the global embeddings only (the authors also average in
    a local similarity). Under torchrun the local term contrasts each
    process's own batch.

    See Also
    --------
    ConVIRT : The global contrast alone, also for measurement vectors.

    References
    ----------
    Huang, Shen, Lungren and Yeung, "GLoRIA: A Multimodal Global-Local
    Representation Learning Framework for Label-efficient Medical Image
    Recognition", ICCV 2021.

    Examples
    --------
    >>> import contrastlearn as cl
    >>> X, captions, labels = cl.datasets.load_captioned_digits(random_state=0)
    >>> model = cl.GLoRIA(max_epochs=1, batch_size=32, backbone="small_cnn_small",
    ...                   random_state=0).fit(X[:128], captions[:128])
    >>> attention, words = model.attention_maps(X[:2], captions[:2])
    >>> attention.shape[0], words[0][0]
    (2, '<start>')
    """
    )

    _method_params = {
        "attention_temperature": 4.0,
        "word_temperature": 5.0,
        "logit_temperature": 10.0,
        "local_weight": 1.0,
        "global_weight": 1.0,
    }
    _parameter_constraints = {
        **_PairedPretrainer._parameter_constraints,
        "attention_temperature": POSITIVE,
        "word_temperature": POSITIVE,
        "logit_temperature": POSITIVE,
        "local_weight": NONNEGATIVE,
        "global_weight": NONNEGATIVE,
    }
    _text_only = True

    def _make_module(self, X, paired=None):
        module = super()._make_module(X, paired)
        if not hasattr(module.backbone, "feature_map"):
            raise ValueError(
                "GLoRIA attends over image regions: the backbone needs a feature_map(x) method "
                "returning (B, C, h, w) maps (every contrastlearn backbone has one)."
            )
        with torch.no_grad():
            sample = module.preprocess(torch.as_tensor(np.asarray(X[:2])))
            channels = module.backbone.eval().feature_map(module.represent(sample)).shape[1]
            words = module.paired.eval()(torch.as_tensor(paired[:2])).shape[-1]
        module.train()
        return GLoRIAModule(module, channels, words, self.projection_dims[-1])

    def _training_loss(self, module, x, ids):
        views = module.represent(self.augment_(x))
        image_global = module.project(views)
        regions, _ = module.regions(views)
        pooled, words, mask = module.words(ids)
        return gloria_loss(
            image_global,
            regions,
            module.paired_head(pooled),
            words,
            mask,
            attention_temperature=self.attention_temperature,
            word_temperature=self.word_temperature,
            logit_temperature=self.logit_temperature,
            local_weight=self.local_weight,
            global_weight=self.global_weight,
        )

    @float32_default()
    def attention_maps(self, X, texts):
        """Where every word of each image's own text attends in the image.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images.
        texts : sequence of str
            One text per image.

        Returns
        -------
        attention : ndarray of shape (n_samples, n_words, h, w)
            The attention of every token (the start token first, padding
            after the words) over the ``h x w`` regions of the backbone's
            feature map; each word's map sums to 1.
        words : list of list of str
            The tokens of every text, ``"<start>"`` first (unknown words as ``"<unk>"``).
        """
        check_is_fitted(self, "net_")
        images = self._validate_input(X, reset=False)
        ids = self._paired_data(texts, len(images), reset=False)
        words = [[self.vocabulary_.words_[i] for i in row if i != PAD] for row in ids.tolist()]
        maps = []
        module = self.net_.module_
        module.eval()
        with torch.no_grad():
            for start in range(0, len(images), self.batch_size):
                stop = start + self.batch_size
                x = torch.as_tensor(np.asarray(images[start:stop])).to(self.device_)
                regions, grid = module.regions(module.represent(module.preprocess(x)))
                _, token_features, mask = module.words(
                    torch.as_tensor(ids[start:stop]).to(self.device_)
                )
                for i in range(len(x)):
                    attention, _ = word_region_attention(
                        regions[i : i + 1],
                        token_features[i : i + 1],
                        mask[i : i + 1],
                        self.attention_temperature,
                    )
                    maps.append(attention[0, 0].reshape(-1, *grid).float().cpu())
        return torch.stack(maps).numpy(), words
