"""Simulated multi-band survey cut-outs of galaxy-scale strong gravitational lenses."""

import numpy as np
import pandas as pd

from .._validation import BOOL, POSITIVE, PROBABILITY, ints
from ..validation import Predicate, validate_params
from ._diffraction import RANDOM_STATE_OR_GENERATOR, _as_rng
from ._reports import child_rng, lens_reports

__all__ = ["make_lenses"]

_INSTALL_HINT = 'pip install "contrastlearn[astro]"  (or: pip install lenstronomy)'

#: Dark Energy Survey (3-year co-add) settings per band, as in lenstronomy's
#: ``SimulationAPI.ObservationConfig.DES``: seconds per exposure, number of exposures,
#: AB zero point (magnitude of 1 e-/s), sky brightness (mag / arcsec^2) and seeing
#: (FWHM of the Gaussian PSF, arcsec).
BANDS = {
    "g": {
        "exposure_time": 90.0,
        "num_exposures": 10,
        "magnitude_zero_point": 26.58,
        "sky_brightness": 22.01,
        "seeing": 1.12,
    },
    "r": {
        "exposure_time": 90.0,
        "num_exposures": 10,
        "magnitude_zero_point": 26.78,
        "sky_brightness": 21.15,
        "seeing": 0.96,
    },
    "i": {
        "exposure_time": 90.0,
        "num_exposures": 10,
        "magnitude_zero_point": 26.75,
        "sky_brightness": 19.89,
        "seeing": 0.88,
    },
    "z": {
        "exposure_time": 90.0,
        "num_exposures": 10,
        "magnitude_zero_point": 26.48,
        "sky_brightness": 18.72,
        "seeing": 0.84,
    },
    "Y": {
        "exposure_time": 45.0,
        "num_exposures": 10,
        "magnitude_zero_point": 25.40,
        "sky_brightness": 17.96,
        "seeing": 0.90,
    },
}
_CAMERA = {"read_noise": 7.0, "ccd_gain": 4.0}  # DECam: e- per read, e- per ADU
_PIXEL_SCALE = 0.263  # DECam, arcsec per pixel
_SUPERSAMPLING = 3  # sub-pixels a side at which the surface brightness is evaluated

# Mass: singular isothermal ellipsoid (SIE) + external shear. Angles in arcsec.
_THETA_E = (0.8, 2.5)  # Einstein radius
_MASS_Q = (0.6, 1.0)  # axis ratio of the mass
_SHEAR = (0.0, 0.1)  # external shear strength
_CENTRE = 0.1  # lens centre uniform in [-0.1, 0.1] a side
# Lens (or non-lens) galaxy light: elliptical Sersic, aligned with the mass up to a scatter.
_LIGHT_R = (0.5, 1.5)  # half-light radius
_LIGHT_N = (2.5, 5.0)  # Sersic index (early-type)
_LIGHT_Q_SCATTER = 0.1  # light axis ratio = mass axis ratio +- this (clipped)
_LIGHT_PHI_SCATTER = np.deg2rad(10.0)  # sd of the light position angle about the mass'
_LIGHT_MAG_R = (18.5, 21.0)  # r-band apparent magnitude
# Background source: elliptical Sersic.
_SOURCE_R = (0.15, 0.5)  # half-light radius
_SOURCE_N = (0.5, 2.0)  # Sersic index (disc-like, star-forming)
_SOURCE_Q = (0.4, 1.0)
_SOURCE_OFFSET = 0.5  # |source - lens centre| <= this * theta_E (uniform in the disc)
_SOURCE_MAG_R = (21.0, 24.0)  # r-band apparent magnitude, unlensed
# Non-lenses: with this probability an unlensed companion galaxy drawn like a source.
_COMPANION_PROBABILITY = 0.5
_COMPANION_DISTANCE = (1.0, 3.5)  # from the galaxy centre
_COMPANION_BRIGHTER = 1.5  # magnitudes brighter than a source (a typical magnification)
# Colours: successive differences g-r, r-i, i-z, z-Y, each uniform in these ranges.
_LIGHT_COLOURS = ((1.0, 1.8), (0.4, 0.7), (0.2, 0.4), (0.0, 0.2))  # red early-type
_SOURCE_COLOURS = ((0.0, 0.6), (0.0, 0.4), (0.0, 0.3), (0.0, 0.2))  # blue star-forming


def _columns(bands):
    """Columns of the ``params`` table, in order."""
    return (
        [
            "is_lens",
            "theta_E",
            "lens_q",
            "lens_phi",
            "lens_e1",
            "lens_e2",
            "gamma_ext",
            "gamma_phi",
            "gamma1",
            "gamma2",
            "center_x",
            "center_y",
            "light_R_sersic",
            "light_n_sersic",
            "light_q",
            "light_phi",
            "light_e1",
            "light_e2",
        ]
        + [f"light_mag_{b}" for b in bands]
        + [
            "has_companion",
            "source_x",
            "source_y",
            "source_R_sersic",
            "source_n_sersic",
            "source_q",
            "source_phi",
            "source_e1",
            "source_e2",
        ]
        + [f"source_mag_{b}" for b in bands]
        + ["magnification", "seed"]
    )


def _is_bands(bands):
    """A non-empty sequence of distinct band names (a str: one band per letter)."""
    if isinstance(bands, str):
        bands = tuple(bands)
    return (
        isinstance(bands, (tuple, list))
        and len(bands) > 0
        and all(isinstance(band, str) and band in BANDS for band in bands)
        and len(set(bands)) == len(bands)
    )


_BANDS = Predicate(
    _is_bands,
    f"a non-empty sequence of distinct band names from {', '.join(map(repr, BANDS))} "
    "(a str such as 'gri' is one band per letter)",
)


@validate_params(
    {
        "n_samples": ints(1),
        "image_size": ints(16),
        "lens_fraction": PROBABILITY,
        "bands": _BANDS,
        "pixel_scale": [None, POSITIVE],
        "random_state": RANDOM_STATE_OR_GENERATOR,
        "return_params": BOOL,
        "return_reports": BOOL,
    }
)
def make_lenses(
    n_samples=1000,
    *,
    image_size=32,
    lens_fraction=0.5,
    bands=("g", "r", "i"),
    pixel_scale=None,
    random_state=None,
    return_params=False,
    return_reports=False,
):
    """Simulate multi-band survey cut-outs of strong gravitational lenses and non-lenses.

    Each image is a small, sky-subtracted cut-out centred on a massive
    (early-type) galaxy, as seen by a ground-based survey such as the Dark
    Energy Survey (DES). In a strong lens (label 1) the galaxy's mass deflects
    the light of a galaxy behind it into arcs or an Einstein ring around it; a
    non-lens (label 0) is the same kind of galaxy with nothing lensed behind
    it. The images are rendered with lenstronomy [1]_; by default they are
    32 x 32 pixel, three-band (g, r, i) cut-outs like those that lens finders
    for DES-like surveys are trained on [2]_.

    Angles are in arcseconds, positions relative to the centre of the cut-out
    (between the central pixels when ``image_size`` is even), ``x`` along the
    columns and ``y`` along the rows; position angles are in radians from the
    ``x`` axis. Every range below is sampled uniformly unless said otherwise.

    **Mass (lenses only).** A singular isothermal ellipsoid (lenstronomy
    ``SIE``) with Einstein radius ``theta_E`` in 0.8-2.5", axis ratio
    0.6-1 and a random position angle, centred within 0.1" of the centre,
    plus an external ``SHEAR`` of strength 0-0.1 in a random direction.

    **Galaxy light (every image).** An elliptical Sersic profile
    (``SERSIC_ELLIPSE``; half-light radius 0.5-1.5", circularised, index
    2.5-5) at the mass centre, its axis ratio within 0.1 of the mass' (at
    least 0.5) and its position angle the mass' plus a normal scatter of
    sd 10 degrees; r-band
    magnitude 18.5-21 with red colours g-r 1.0-1.8, r-i 0.4-0.7, i-z 0.2-0.4,
    z-Y 0-0.2.

    **Lensed source (lenses only).** An elliptical Sersic galaxy (half-light
    radius 0.15-0.5", index 0.5-2, axis ratio 0.4-1) placed uniformly in a disc
    of radius ``0.5 * theta_E`` about the lens centre, so that its images form
    arcs, rings or quads at about ``theta_E`` from the centre; unlensed r-band
    magnitude 21-24, blue colours g-r 0-0.6, r-i 0-0.4, i-z 0-0.3, z-Y
    0-0.2. Lensing brightens it (``magnification``, typically 4-12).

    **Companion (non-lenses only).** So that the classes are not separable by
    colour or total flux alone, half of the non-lenses have an unlensed
    companion: a galaxy drawn like a source (blue, the same shapes) but 1.5
    magnitudes brighter, as a magnified source would be, 1-3.5" from the
    centre in a random direction. The other non-lenses show the galaxy alone.

    **Observation.** Per band, the DES 3-year co-add settings of
    lenstronomy's ``ObservationConfig.DES`` (see ``BANDS``; pixel scale
    0.263"): a Gaussian PSF with the band's seeing (FWHM 0.84-1.12", about
    0.9"), the surface brightness evaluated on a 3 x 3 supersampled grid;
    noise from lenstronomy's ``SimAPI.noise_for_model``: Gaussian background
    noise from the sky and the read-out, plus the (Gaussian-approximated)
    Poisson noise of the sources, for an exposure of 900 s (450 s in Y).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.
    image_size : int, default=32
        Side of the square cut-outs in pixels, at least 16. At 0.263" per pixel
        32 pixels span 8.4", enough for the largest Einstein rings.
    lens_fraction : float, default=0.5
        Probability that an image is a lens; each image is drawn independently.
    bands : sequence of str, default=("g", "r", "i")
        Filters, in the channel order of ``X``; any of ``"g"``, ``"r"``,
        ``"i"``, ``"z"``, ``"Y"``, each at most once. A string is read one band
        per character (``"gri"``).
    pixel_scale : float or None, default=None
        Arcseconds per pixel; None for DES's 0.263". The physical ranges above
        stay in arcseconds, so a finer scale shows the same sky larger.
    random_state : int, RandomState, Generator or None, default=None
        Seeds everything: labels, every parameter and the noise (the per-image
        seeds in ``params["seed"]`` come from it).
    return_params : bool, default=False
        Also return the table of parameters.
    return_reports : bool, default=False
        Also return a short free-text report per image, for methods that
        contrast images with text. The reports come from a random stream of
        their own, drawn from ``random_state`` after everything else, so
        ``X``, ``y`` and ``params`` are the same with or without them.

    Returns
    -------
    X : ndarray of shape (n_samples, len(bands), image_size, image_size), dtype float32
        Sky-subtracted surface brightness in electrons per second per pixel
        (lenstronomy's data unit); a source of magnitude ``m`` yields
        ``10 ** (-0.4 * (m - zero_point))`` e-/s in all. Noise makes
        background pixels scatter about zero, some negative.
    y : ndarray of shape (n_samples,), dtype int64
        1 for a strong lens, 0 for a non-lens.
    params : pandas.DataFrame
        Only with ``return_params=True``; one row per image, in lenstronomy's
        parameter names: ``is_lens``; the mass ``theta_E``, ``lens_q``,
        ``lens_phi``, ``lens_e1``, ``lens_e2``, ``gamma_ext``, ``gamma_phi``,
        ``gamma1``, ``gamma2`` (NaN for non-lenses); the galaxy centre
        ``center_x``, ``center_y`` and light ``light_R_sersic``,
        ``light_n_sersic``, ``light_q``, ``light_phi``, ``light_e1``,
        ``light_e2``, ``light_mag_<band>`` for each band; ``has_companion``;
        the lensed source or the companion ``source_x``, ``source_y``,
        ``source_R_sersic``, ``source_n_sersic``, ``source_q``, ``source_phi``,
        ``source_e1``, ``source_e2`` and unlensed ``source_mag_<band>`` (NaN
        for a non-lens without a companion); ``magnification`` (flux of the
        lensed images inside the cut-out over the unlensed source flux, NaN for
        non-lenses); ``seed`` (the noise of band ``j`` is drawn by
        ``numpy.random.RandomState([seed, j])``).
    reports : list of str
        Only with ``return_reports=True`` (always last); one short English
        report per image, as an astronomer grading candidates might write it,
        e.g. ``"Strong lens. Wide blue Einstein ring, Einstein radius about
        2.3 arcsec. Deflector: bright red elliptical."`` or ``"not a lens;
        faint early-type galaxy; blue companion nearby, 2.4 arcsec away"``.
        Wording, clause order and punctuation vary. A lens report always
        says lens in some wording ("strong lens", "gravitational lens",
        "lens system", ...) and describes the lensed images (ring, arcs, arc
        and counter-image, from the source offset; small / medium / large by
        tercile of the Einstein radius range, sometimes with ``theta_E``); a
        non-lens report always says it is not one ("no lens", "not a lens",
        "non-lens", "no lensing features", ...) and mentions the companion
        when there is one (left out with probability 0.1). Secondary facts,
        each left out with probability about 0.35: the galaxy's brightness
        (sometimes with its r-band magnitude, or the first band's without r)
        and the roundness of its light.

    See Also
    --------
    make_diffraction : Another physically simulated, labelled image set.

    Notes
    -----
    lenstronomy is an optional dependency: ``pip install
    "contrastlearn[astro]"`` (or ``pip install lenstronomy``). On one CPU
    core, 1000 three-band 32 x 32 images take about 2.5 s (64 x 64: about 7 s),
    after about 1 s to import lenstronomy and compile its numba kernels.

    References
    ----------
    .. [1] S. Birrer and A. Amara, "lenstronomy: Multi-purpose gravitational
       lens modelling software package", Physics of the Dark Universe 22, 189
       (2018); https://github.com/lenstronomy/lenstronomy
    .. [2] C. Jacobs et al., "Finding high-redshift strong lenses in DES using
       convolutional neural networks", MNRAS 484, 5330 (2019).

    Examples
    --------
    >>> import pytest; _ = pytest.importorskip("lenstronomy")  # the optional dependency
    >>> from contrastlearn.datasets import make_lenses
    >>> X, y, params = make_lenses(8, random_state=0, return_params=True)
    >>> X.shape, X.dtype, y.shape
    ((8, 3, 32, 32), dtype('float32'), (8,))
    >>> bool((params["is_lens"] == (y == 1)).all())
    True
    >>> bool(params.loc[y == 0, "theta_E"].isna().all())  # non-lenses have no mass model
    True
    >>> *_, reports = make_lenses(2, random_state=0, return_reports=True)
    >>> len(reports)
    2
    """
    n_samples, image_size, lens_fraction = int(n_samples), int(image_size), float(lens_fraction)
    bands = tuple(bands)
    pixel_scale = _PIXEL_SCALE if pixel_scale is None else float(pixel_scale)
    rng = _as_rng(random_state)
    simulators = _simulators(bands, image_size, pixel_scale)  # imports lenstronomy

    params = _sample_params(n_samples, bands, lens_fraction, rng)
    X = np.empty((n_samples, len(bands), image_size, image_size), dtype=np.float32)
    magnification = np.full(n_samples, np.nan)
    seeds = params["seed"].to_numpy()
    for i, (row, source, light) in enumerate(_render_rows(params, bands, simulators)):
        if row["is_lens"]:
            cps = simulators[0][0].magnitude2cps(row[f"source_mag_{bands[0]}"])
            magnification[i] = source[0].sum() / cps
        model = source + light
        for j, (sim, _) in enumerate(simulators):
            X[i, j] = model[j] + sim.noise_for_model(model=model[j], seed=[int(seeds[i]), j])
    params["magnification"] = magnification
    y = params["is_lens"].to_numpy().astype(np.int64)
    out = (X, y) + ((params,) if return_params else ())
    if return_reports:  # last draw from rng: nothing above depends on it
        out += (lens_reports(params, child_rng(rng), bands=bands, theta_range=_THETA_E),)
    return out


def _import_simapi():
    """lenstronomy's SimAPI class, or an ImportError that says how to install it."""
    try:
        import lenstronomy  # noqa: F401
        from lenstronomy.SimulationAPI.sim_api import SimAPI
    except ImportError as exc:
        raise ImportError(
            f"make_lenses needs the optional dependency lenstronomy; "
            f"install it with: {_INSTALL_HINT}"
        ) from exc
    return SimAPI


def _simulators(bands, image_size, pixel_scale):
    """One ``(SimAPI, ImageModel)`` pair per band (nothing is cached)."""
    SimAPI = _import_simapi()
    kwargs_model = {
        "lens_model_list": ["SIE", "SHEAR"],
        "source_light_model_list": ["SERSIC_ELLIPSE"],
        "lens_light_model_list": ["SERSIC_ELLIPSE"],
    }
    simulators = []
    for band in bands:
        kwargs_band = dict(BANDS[band], **_CAMERA, pixel_scale=pixel_scale, psf_type="GAUSSIAN")
        sim = SimAPI(num_pix=image_size, kwargs_single_band=kwargs_band, kwargs_model=kwargs_model)
        model = sim.image_model_class({"supersampling_factor": _SUPERSAMPLING})
        simulators.append((sim, model))
    return simulators


def _render_rows(params, bands, simulators, *, source=True, lens_light=True):
    """Yield ``(row, source_image, light_image)`` per row of ``params``.

    The images are noise-free, PSF-convolved float64 arrays of shape
    ``(len(bands), image_size, image_size)`` in e-/s per pixel: the lensed
    source (or, for a non-lens, the unlensed companion; zeros when there is
    none or ``source=False``) and the galaxy light (zeros when
    ``lens_light=False``).
    """
    sim0 = simulators[0][0]
    size = sim0.data_class.num_pixel_axes
    for row in params.to_dict("records"):
        source_img = np.zeros((len(bands),) + size)
        light_img = np.zeros((len(bands),) + size)
        kwargs_light = [
            {
                "amp": 1.0,
                "R_sersic": row["light_R_sersic"],
                "n_sersic": row["light_n_sersic"],
                "e1": row["light_e1"],
                "e2": row["light_e2"],
                "center_x": row["center_x"],
                "center_y": row["center_y"],
            }
        ]
        light_norm = sim0.lens_light_model_class.total_flux(kwargs_light, norm=True)[0]
        has_source = source and (row["is_lens"] or row["has_companion"])
        if has_source:
            kwargs_source = [
                {
                    "amp": 1.0,
                    "R_sersic": row["source_R_sersic"],
                    "n_sersic": row["source_n_sersic"],
                    "e1": row["source_e1"],
                    "e2": row["source_e2"],
                    "center_x": row["source_x"],
                    "center_y": row["source_y"],
                }
            ]
            source_norm = sim0.source_model_class.total_flux(kwargs_source, norm=True)[0]
        kwargs_lens = None
        if row["is_lens"]:
            kwargs_lens = [
                {
                    "theta_E": row["theta_E"],
                    "e1": row["lens_e1"],
                    "e2": row["lens_e2"],
                    "center_x": row["center_x"],
                    "center_y": row["center_y"],
                },
                {
                    "gamma1": row["gamma1"],
                    "gamma2": row["gamma2"],
                    "ra_0": row["center_x"],
                    "dec_0": row["center_y"],
                },
            ]
        for j, (band, (sim, model)) in enumerate(zip(bands, simulators)):
            if lens_light:
                kwargs_light[0]["amp"] = sim.magnitude2cps(row[f"light_mag_{band}"]) / light_norm
                light_img[j] = model.lens_surface_brightness(kwargs_light)
            if has_source:
                kwargs_source[0]["amp"] = sim.magnitude2cps(row[f"source_mag_{band}"]) / source_norm
                source_img[j] = model.source_surface_brightness(
                    kwargs_source, kwargs_lens, de_lensed=not row["is_lens"]
                )
        yield row, source_img, light_img


def _render(
    params,
    bands=("g", "r", "i"),
    image_size=32,
    pixel_scale=_PIXEL_SCALE,
    *,
    source=True,
    lens_light=True,
):
    """Noise-free images ``(len(params), len(bands), image_size, image_size)`` (float64, e-/s)
    of the rows of a :func:`make_lenses` ``params`` table."""
    simulators = _simulators(tuple(bands), image_size, pixel_scale)
    out = np.empty((len(params), len(bands), image_size, image_size))
    for i, (_, src, light) in enumerate(
        _render_rows(params, tuple(bands), simulators, source=source, lens_light=lens_light)
    ):
        out[i] = src + light
    return out


def _ellipticity(phi, q):
    """lenstronomy's (e1, e2) of position angle ``phi`` and axis ratio ``q``."""
    e = (1.0 - q) / (1.0 + q)
    return e * np.cos(2 * phi), e * np.sin(2 * phi)


def _magnitudes(reference, colours, rng, n):
    """Magnitudes in every band of ``BANDS`` from the r-band one and colour ranges."""
    g_r, r_i, i_z, z_y = (rng.uniform(*bounds, size=n) for bounds in colours)
    mags = {"r": reference, "g": reference + g_r, "i": reference - r_i}
    mags["z"] = mags["i"] - i_z
    mags["Y"] = mags["z"] - z_y
    return mags


def _integers(rng, high, size):
    if isinstance(rng, np.random.Generator):
        return rng.integers(0, high, size=size)
    return rng.randint(0, high, size=size)


def _sample_params(n, bands, lens_fraction, rng):
    """Draw the parameter table. Every parameter is drawn for every row (and for every band
    of ``BANDS``), then masked, so the random stream does not depend on the labels or bands."""
    is_lens = rng.uniform(size=n) < lens_fraction
    companion = ~is_lens & (rng.uniform(size=n) < _COMPANION_PROBABILITY)
    has_source = is_lens | companion

    theta_e = rng.uniform(*_THETA_E, size=n)
    lens_q = rng.uniform(*_MASS_Q, size=n)
    lens_phi = rng.uniform(0.0, np.pi, size=n)
    gamma = rng.uniform(*_SHEAR, size=n)
    gamma_phi = rng.uniform(0.0, np.pi, size=n)
    centre = rng.uniform(-_CENTRE, _CENTRE, size=(n, 2))

    light_r = rng.uniform(*_LIGHT_R, size=n)
    light_n = rng.uniform(*_LIGHT_N, size=n)
    light_q = np.clip(lens_q + rng.uniform(-_LIGHT_Q_SCATTER, _LIGHT_Q_SCATTER, size=n), 0.5, 1.0)
    light_phi = np.mod(lens_phi + _LIGHT_PHI_SCATTER * rng.standard_normal(size=n), np.pi)
    light_mag = _magnitudes(rng.uniform(*_LIGHT_MAG_R, size=n), _LIGHT_COLOURS, rng, n)

    source_r = rng.uniform(*_SOURCE_R, size=n)
    source_n = rng.uniform(*_SOURCE_N, size=n)
    source_q = rng.uniform(*_SOURCE_Q, size=n)
    source_phi = rng.uniform(0.0, np.pi, size=n)
    source_mag = _magnitudes(rng.uniform(*_SOURCE_MAG_R, size=n), _SOURCE_COLOURS, rng, n)
    offset_angle = rng.uniform(0.0, 2 * np.pi, size=n)
    lensed_offset = _SOURCE_OFFSET * theta_e * np.sqrt(rng.uniform(size=n))
    companion_offset = rng.uniform(*_COMPANION_DISTANCE, size=n)
    offset = np.where(is_lens, lensed_offset, companion_offset)
    brighter = np.where(companion, _COMPANION_BRIGHTER, 0.0)
    seeds = _integers(rng, 2**31 - 1, n)

    nan = np.nan
    mass = lambda v: np.where(is_lens, v, nan)  # noqa: E731
    src = lambda v: np.where(has_source, v, nan)  # noqa: E731
    lens_e1, lens_e2 = _ellipticity(lens_phi, lens_q)
    light_e1, light_e2 = _ellipticity(light_phi, light_q)
    source_e1, source_e2 = _ellipticity(source_phi, source_q)
    table = {
        "is_lens": is_lens,
        "theta_E": mass(theta_e),
        "lens_q": mass(lens_q),
        "lens_phi": mass(lens_phi),
        "lens_e1": mass(lens_e1),
        "lens_e2": mass(lens_e2),
        "gamma_ext": mass(gamma),
        "gamma_phi": mass(gamma_phi),
        "gamma1": mass(gamma * np.cos(2 * gamma_phi)),
        "gamma2": mass(gamma * np.sin(2 * gamma_phi)),
        "center_x": centre[:, 0],
        "center_y": centre[:, 1],
        "light_R_sersic": light_r,
        "light_n_sersic": light_n,
        "light_q": light_q,
        "light_phi": light_phi,
        "light_e1": light_e1,
        "light_e2": light_e2,
        **{f"light_mag_{b}": light_mag[b] for b in bands},
        "has_companion": companion,
        "source_x": src(centre[:, 0] + offset * np.cos(offset_angle)),
        "source_y": src(centre[:, 1] + offset * np.sin(offset_angle)),
        "source_R_sersic": src(source_r),
        "source_n_sersic": src(source_n),
        "source_q": src(source_q),
        "source_phi": src(source_phi),
        "source_e1": src(source_e1),
        "source_e2": src(source_e2),
        **{f"source_mag_{b}": src(source_mag[b] - brighter) for b in bands},
        "magnification": np.full(n, nan),
        "seed": seeds.astype(np.int64),
    }
    return pd.DataFrame(table)[_columns(bands)]
