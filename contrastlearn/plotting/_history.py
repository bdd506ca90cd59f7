"""A fit's per-epoch loss, validation score and embedding health."""

import pandas as pd

from ..monitor import HISTORY, history_frame
from ..validation import InstanceOf, Predicate, check_parameter, validate_params
from ._common import FIGSIZE, _is_axes_sequence

__all__ = ["plot_history"]


#: The panels of :func:`plot_history`: (title, history columns drawn in it).
HISTORY_PANELS = (
    ("training loss", ("train_loss",)),
    ("k-NN score on eval_set", ("valid_knn",)),
    ("effective rank (RankMe)", ("rankme",)),
    ("alignment and uniformity", ("alignment", "uniformity")),
)


@validate_params(
    {
        "history": [InstanceOf(pd.DataFrame, name="a pandas DataFrame"), *HISTORY],
        "axes": [None, Predicate(_is_axes_sequence, "a sequence of matplotlib Axes")],
        "figsize": [None, FIGSIZE],
    }
)
def plot_history(history, *, axes=None, figsize=None):
    """Draw a fit's per-epoch loss, validation k-NN score and embedding health.

    One panel each for the training loss, ``valid_knn`` (with an
    ``eval_set``; its best epoch marked), RankMe and alignment / uniformity
    (see :mod:`contrastlearn.monitor`), against the epoch. Panels whose
    columns the history lacks are left out, so a fit without an
    ``eval_set`` gets three.

    Parameters
    ----------
    history : skorch.History, pandas.DataFrame or fitted estimator
        ``estimator.history_``, its :func:`~contrastlearn.monitor.history_frame`,
        or the estimator itself.
    axes : sequence of matplotlib Axes, default=None
        One per panel drawn; a new figure when None.
    figsize : (float, float), default=None
        Size of a new figure (about 3.2 inches per panel wide by 2.8 tall).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> clr = cl.CLR(max_epochs=2, batch_size=64, random_state=0).fit(load_digits().images[:200])
    >>> fig = cl.plotting.plot_history(clr)
    >>> [ax.get_title() for ax in fig.axes]
    ['training loss', 'effective rank (RankMe)', 'alignment and uniformity']
    >>> plt.close(fig)
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot_history needs matplotlib: pip install matplotlib") from error
    frame = history if hasattr(history, "columns") else history_frame(history)
    panels = [
        (title, [c for c in columns if c in frame and frame[c].notna().any()])
        for title, columns in HISTORY_PANELS
    ]
    panels = [(title, columns) for title, columns in panels if columns]
    if not panels:
        raise ValueError(
            "history has none of the columns plot_history draws: "
            + ", ".join(c for _, columns in HISTORY_PANELS for c in columns)
            + "."
        )
    if axes is None:
        _, axes = plt.subplots(
            1,
            len(panels),
            squeeze=False,
            layout="constrained",
            figsize=figsize or (3.2 * len(panels), 2.8),
        )
        axes = axes[0]
    else:
        check_parameter(
            "plot_history",
            "axes",
            axes,
            Predicate(
                lambda v: len(v) == len(panels),
                f"a sequence of {len(panels)} Axes, one per panel "
                f"({', '.join(title for title, _ in panels)})",
            ),
        )
    for ax, (title, columns) in zip(axes, panels):
        for column in columns:
            values = frame[column].dropna()
            ax.plot(values.index, values.to_numpy(), marker="o", markersize=3, label=column)
        if columns == ["valid_knn"]:
            values = frame["valid_knn"].dropna()
            best = values.idxmax()
            ax.axvline(best, color="grey", linestyle=":", label=f"best (epoch {best})")
        if len(columns) > 1 or columns == ["valid_knn"]:
            ax.legend(fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("epoch")
    return axes[0].figure
