"""Free-text reports for the simulators: what a scientist would log about each image.

The reports are written from the parameter tables of :func:`make_diffraction`
and :func:`make_lenses` with varied templates and synonyms, clauses in random
order and secondary facts sometimes left out, from a random stream of their
own (:func:`child_rng`), so that asking for reports changes no image, label or
parameter.
"""

import numpy as np

__all__ = []

#: Real-space extent of the simulation grid in nm (a nominal scale for the radii in reports).
GRID_NM = 500.0
#: Chance that a secondary fact (size, orientation, brightness, ...) is left out.
OMIT_SECONDARY = 0.35
#: Chance that a secondary label (dimer, layered) is left out of a report.
OMIT_LABEL = 0.1
#: Chance that a number is given with a fact that has one.
WITH_NUMBER = 0.4


def child_rng(rng):
    """A new Generator seeded from ``rng`` (a RandomState or Generator): one draw from it."""
    if isinstance(rng, np.random.Generator):
        words = rng.integers(0, 2**32, size=4, dtype=np.uint64)
    else:
        words = rng.randint(0, 2**32, size=4, dtype=np.uint64)
    return np.random.default_rng([int(w) for w in words])


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _chance(rng, p):
    return bool(rng.random() < p)


def _article(phrase):
    """``"a"`` or ``"an"`` for ``phrase``."""
    head = phrase.lstrip().lower()
    return "an" if head[:1] in "aeiou8" else "a"


def _with_article(phrase):
    return f"{_article(phrase)} {phrase}"


def _compose(rng, primary, secondary):
    """One report: the primary clause (kept) and the secondary ones, shuffled and joined."""
    clauses = [primary] + [c for c in secondary if c]
    order = [int(i) for i in rng.permutation(len(clauses))]
    # the primary clause leads more often than not, as in most log books
    if _chance(rng, 0.6):
        order = [0] + [i for i in order if i != 0]
    clauses = [clauses[i] for i in order]
    style = int(rng.integers(3))
    if style == 0:  # sentences
        return " ".join(c[:1].upper() + c[1:] + "." for c in clauses)
    if style == 1:  # a terse log line
        return "; ".join(clauses)
    return ", ".join(clauses) + "."


# --------------------------------------------------------------------- diffraction

_EMPTY = (
    "no hit",
    "empty frame",
    "nothing on the detector",
    "empty shot",
    "blank frame, no particle in the beam",
    "miss: background only",
    "no particle hit",
    "empty, just background",
)
_SHAPE_WORDS = {
    "spherical": ("round", "spherical", "sphere-like", "circular", "ball-shaped"),
    "oblate": ("flattened", "oblate", "disc-like", "squashed", "pancake-shaped"),
    "prolate": ("elongated", "prolate", "cigar-shaped", "stretched", "egg-shaped"),
    "streak": ("streak", "rod-like", "needle-like", "very elongated, rod", "streaky"),
}
_NOUNS = ("particle", "droplet", "cluster", "nanoparticle", "object")
_PRIMARY = (
    "{shape} {noun}",
    "hit: {shape} {noun}",
    "{art} {shape} {noun}",
    "diffraction from {art} {shape} {noun}",
    "looks like {art} {shape} {noun}",
    "{noun} appears {shape}",
    "pattern of {art} {shape} {noun}",
    "shape {shape}",
)
_SIZE = {
    "small": ("small", "tiny", "compact", "smallish"),
    "medium": ("medium-sized", "mid-sized", "average size", "moderate size"),
    "large": ("large", "big", "sizeable", "largish"),
}
_DIMER = (
    "dimer",
    "two particles",
    "a pair",
    "a pair of particles",
    "two droplets stuck together",
    "twin particles",
    "doublet",
    "second particle next to it",
)
_LAYERED = (
    "layered",
    "core-shell",
    "has a core",
    "with an inner core",
    "core-shell structure",
    "layered particle",
)


def _tercile(value, low, high):
    third = (high - low) / 3
    return "small" if value < low + third else "medium" if value < low + 2 * third else "large"


def diffraction_reports(params, rng, *, image_size, fluence, radius_range):
    """One report (str) per row of a :func:`make_diffraction` ``params`` table.

    ``radius_range`` is the range of ``radius`` the simulator draws from (in
    real-space pixels), whose terciles are the size words.
    """
    grid = 2 * image_size
    nm_per_pixel = GRID_NM / grid
    low, high = radius_range
    reports = []
    for row in params.to_dict("records"):
        shape = row["shape"]
        if shape == "empty":
            primary = _pick(rng, _EMPTY)
            extra = []
            if _chance(rng, 0.3):
                extra.append(_pick(rng, ("only stray photons", "background noise", "dark frame")))
            if _chance(rng, 0.2):
                extra.append(f"{int(row['counts'])} counts")
            reports.append(_compose(rng, primary, extra))
            continue
        words = _pick(rng, _SHAPE_WORDS[shape])
        noun = _pick(rng, _NOUNS)
        template = _pick(rng, _PRIMARY)
        article = _article(words)
        primary = template.format(shape=words, noun=noun, art=article)
        secondary = []
        if not _chance(rng, OMIT_SECONDARY):
            size = _pick(rng, _SIZE[_tercile(row["radius"], low, high)])
            if _chance(rng, 1 / 3):
                size = f"size: {size}"
            if _chance(rng, WITH_NUMBER):
                if _chance(rng, 0.5):
                    size += f", radius about {row['radius'] * nm_per_pixel:.0f} nm"
                else:
                    size += f", radius {row['radius']:.1f} px"
            secondary.append(size)
        if shape != "spherical" and not _chance(rng, OMIT_SECONDARY):
            secondary.append(_aspect_words(rng, shape, row["aspect_ratio"]))
        if shape != "spherical" and not _chance(rng, OMIT_SECONDARY):
            secondary.append(_orientation_words(rng, row))
        if not np.isnan(row["dimer_separation"]) and not _chance(rng, OMIT_LABEL):
            secondary.append(_dimer_words(rng, row, nm_per_pixel))
        if not np.isnan(row["core_ratio"]) and not _chance(rng, OMIT_LABEL):
            secondary.append(_layered_words(rng, row))
        if not _chance(rng, OMIT_SECONDARY + 0.2):
            ratio = row["photons"] / fluence
            level = (
                ("weak", "faint", "dim")
                if ratio < 0.8
                else ("bright", "strong", "intense")
                if ratio > 1.25
                else ("normal intensity", "typical brightness", "average signal")
            )
            brightness = _pick(rng, level)
            if brightness in ("weak", "faint", "dim", "bright", "strong", "intense"):
                brightness = f"{brightness} {_pick(rng, ('signal', 'pattern', 'hit'))}"
            secondary.append(brightness)
        reports.append(_compose(rng, primary, secondary))
    return reports


def _aspect_words(rng, shape, aspect):
    elongation = aspect if aspect >= 1 else 1 / aspect
    if shape == "streak":
        words = _pick(rng, ("long thin rod", "high aspect ratio", "needle", "long axis dominant"))
    else:
        strong = elongation > 1.9
        words = _pick(
            rng,
            ("strongly", "clearly", "markedly") if strong else ("slightly", "mildly", "a little"),
        )
        words += " " + ("flattened" if shape == "oblate" else "elongated")
    if _chance(rng, WITH_NUMBER):
        words += f" (aspect ratio {elongation:.1f})"
    return words


def _orientation_words(rng, row):
    axis_z = abs(row["axis_z"])
    if axis_z > 0.8:
        return _pick(rng, ("seen end-on", "axis along the beam", "viewed down its axis"))
    angle = np.degrees(np.arctan2(row["axis_y"], row["axis_x"])) % 180
    if angle < 22.5 or angle >= 157.5:
        direction = "horizontal"
    elif 67.5 <= angle < 112.5:
        direction = "vertical"
    else:
        direction = "diagonal"
    words = _pick(
        rng,
        (
            f"axis roughly {direction}",
            f"{direction} orientation",
            f"oriented {direction}ly" if direction != "diagonal" else "oriented diagonally",
            f"{direction} axis",
        ),
    )
    if axis_z < 0.3 and _chance(rng, 0.5):
        words += ", in the detector plane"
    if _chance(rng, WITH_NUMBER):
        words += f" (at {angle:.0f} deg)"
    return words


def _dimer_words(rng, row, nm_per_pixel):
    words = _pick(rng, _DIMER)
    mean_radius = row["radius"] * (1 + row["dimer_size_ratio"]) / 2
    separation = row["dimer_separation"] / mean_radius
    if _chance(rng, 0.5):
        words += ", " + (
            _pick(rng, ("close together", "nearly touching", "tightly spaced"))
            if separation < 2.75
            else _pick(rng, ("well separated", "some distance apart", "widely spaced"))
        )
    if _chance(rng, WITH_NUMBER):
        words += f", separation about {row['dimer_separation'] * nm_per_pixel:.0f} nm"
    if _chance(rng, 0.3):
        words += ", " + (
            "similar sizes" if row["dimer_size_ratio"] > 0.9 else "one clearly smaller"
        )
    return words


def _layered_words(rng, row):
    words = _pick(rng, _LAYERED)
    if _chance(rng, 0.5):
        words += ", " + (
            _pick(rng, ("low-density core", "light core", "hollow-looking core"))
            if row["core_density"] < 1
            else _pick(rng, ("dense core", "heavy core", "high-density core"))
        )
    if _chance(rng, WITH_NUMBER):
        words += f", core about {100 * row['core_ratio']:.0f}% of the size"
    return words


# --------------------------------------------------------------------------- lenses

_LENS = (
    "strong lens",
    "gravitational lens",
    "lens system",
    "confirmed lens",
    "lensing galaxy with lensed source",
    "grade A lens",
)
_NOT_LENS = (
    "no lens",
    "not a lens",
    "non-lens",
    "no lensing features",
    "no strong lensing",
    "nothing lensed, not a lens",
)
_GALAXY = (
    "red elliptical",
    "early-type galaxy",
    "elliptical galaxy",
    "massive elliptical",
    "red galaxy",
)


def lens_reports(params, rng, *, bands, theta_range):
    """One report (str) per row of a :func:`make_lenses` ``params`` table.

    ``theta_range`` is the Einstein radius range (arcsec) whose terciles are
    the size words.
    """
    band = "r" if "r" in bands else bands[0]
    low, high = theta_range
    reports = []
    for row in params.to_dict("records"):
        secondary = []
        galaxy = _pick(rng, _GALAXY)
        if not _chance(rng, OMIT_SECONDARY):
            magnitude = row[f"light_mag_{band}"]
            bright = _pick(
                rng,
                ("bright", "prominent", "conspicuous")
                if magnitude < 19.75
                else ("faint", "dim", "faintish"),
            )
            if _chance(rng, WITH_NUMBER):
                galaxy = f"{bright} {galaxy} ({band} = {magnitude:.1f})"
            else:
                galaxy = f"{bright} {galaxy}"
        if not _chance(rng, OMIT_SECONDARY):
            if row["light_q"] < 0.75:
                galaxy += ", " + _pick(rng, ("elongated light profile", "flattened isophotes"))
            else:
                galaxy += ", " + _pick(rng, ("round light profile", "nearly circular"))
        if row["is_lens"]:
            primary = _pick(rng, _LENS)
            secondary.append(_arc_words(rng, row, low, high))
            secondary.append(f"{_pick(rng, ('deflector', 'lens galaxy', 'central'))}: {galaxy}")
        else:
            primary = _pick(rng, _NOT_LENS)
            alone = not row["has_companion"] and _chance(rng, 0.5)
            secondary.append(f"isolated {galaxy}" if alone else galaxy)
            if row["has_companion"] and not _chance(rng, OMIT_LABEL):
                secondary.append(_companion_words(rng, row))
        reports.append(_compose(rng, primary, secondary))
    return reports


def _arc_words(rng, row, low, high):
    offset = np.hypot(row["source_x"] - row["center_x"], row["source_y"] - row["center_y"])
    offset /= row["theta_E"]
    if offset < 0.1:
        feature = _pick(rng, ("{c}Einstein ring", "near-complete {c}ring", "full {c}ring"))
    elif offset < 0.3:
        feature = _pick(rng, ("{c}arcs on both sides", "two {c}arcs", "{c}arcs"))
    else:
        feature = _pick(
            rng, ("single {c}arc with a counter-image", "{c}arc and counter-image", "{c}arc")
        )
    feature = feature.format(c="blue " if _chance(rng, 0.5) else "")
    size = _tercile(row["theta_E"], low, high)
    size_word = _pick(
        rng,
        {
            "small": ("small", "compact", "tight"),
            "medium": ("medium", "moderate", "mid-sized"),
            "large": ("large", "wide", "big"),
        }[size],
    )
    words = f"{size_word} {feature}" if _chance(rng, 1 - OMIT_SECONDARY) else feature
    if _chance(rng, WITH_NUMBER):
        words += f", Einstein radius about {row['theta_E']:.1f} arcsec"
    return words


def _companion_words(rng, row):
    distance = np.hypot(row["source_x"] - row["center_x"], row["source_y"] - row["center_y"])
    words = _pick(
        rng,
        (
            "blue companion nearby",
            "a neighbouring blue galaxy",
            "small blue galaxy next to it",
            "unrelated blue companion",
            "companion galaxy in the field",
        ),
    )
    if _chance(rng, WITH_NUMBER):
        words += f", {distance:.1f} arcsec away"
    return words
