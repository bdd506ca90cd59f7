"""Polar and cartesian resampling of image batches, differentiable and on any device.

Diffraction patterns, powder rings and many micrographs are organised around a
centre: in polar coordinates a ring becomes a straight line and a rotation a
shift. :func:`to_polar` and :func:`to_cartesian` resample whole batches with
one ``grid_sample`` each, so they are differentiable, run on the images'
device, and serve both as preprocessing and as a contrastive "view"
(:class:`contrastlearn.CPLR`). :func:`central_mask` blanks the centre of a
pattern (a beam stop, or the saturated direct beam) with a blurred edge.

Conventions: pixel ``(row, col)`` has its centre at integer coordinates; the
polar image has radius along its rows (row ``i`` at radius ``r_i``, from the
centre outwards) and angle along its columns (column ``j`` at
``theta_j = 2 pi j / n_angles``, or evenly from ``start`` to ``stop`` for an
``angle_range``). The angle is measured from the +col axis towards +row:
the sample for ``(r, theta)`` is taken at ``row = c_row + r sin(theta)``,
``col = c_col + r cos(theta)``. With rows drawn downwards, as images are
shown, increasing ``theta`` turns clockwise on screen.

Relation to the reference study (Zimmermann et al. 2023, contrastive
projection learning): its projection puts azimuth along the rows and radius
along the columns, and samples ``row = c - rho sin(phi)``,
``col = c + rho cos(phi)``, i.e. ``phi`` turns counter-clockwise on screen
(rows going up). So its azimuth ``phi`` is the angle ``theta = -phi`` here, and its
projection is the transpose of :func:`to_polar` with
``angle_range=(-phi_start, -phi_stop)``.
:data:`REFERENCE_PROJECTION_SETTINGS` holds the :class:`PolarProjection`
settings of its crop; :func:`contrastlearn.datasets.preprocess_diffraction`
reproduces its whole preprocessing.
"""

from ._module import REFERENCE_PROJECTION_SETTINGS, PolarProjection
from ._resample import central_mask, to_cartesian, to_polar

__all__ = [
    "to_polar",
    "to_cartesian",
    "central_mask",
    "PolarProjection",
    "REFERENCE_PROJECTION_SETTINGS",
]
