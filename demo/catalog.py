"""The demo collection's catalogue: fictional artists, their artworks, and what each source serves.

Everything here is a pure function of ``(seed, n_artworks, reference_year)``: no clock, no global
random state, so two builds with the same params describe the same collection byte for byte.

The catalogue plants what the real web throws at a crawler and a curator, with ground truth:

- the same artwork held by two or three sources, each copy a different "scan" of one master
  (re-encoded, resized, cropped, colour-graded mildly or strongly, framed, squashed,
  watermarked, mirrored, photographed at an angle or on a wall, a small web image, a detail,
  PNG);
- series: distinct works of one artist that share a composition and must *not* be merged;
- distractors: artists who died too recently, non-PD flags, flags that disagree with the dates,
  works outside 1400-1900, drawings/prints/photographs/sculpture, tiny images, attribution
  qualifiers ("after", "workshop of");
- broken bytes: corrupt and truncated files, a decompression bomb, a text body served as
  image/jpeg, an HTML error page with status 200, an oversized body.

Try it::

    python -c "from demo.catalog import *; print(describe(build_catalog(0, 50)))"
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from dataclasses import dataclass, field

import numpy as np

from demo.painter import GENRES, Style
from demo.transforms import low_resolution_scale, wall_size

SOURCES = ("met", "aic", "cleveland", "nga", "commons", "urls", "wikidata", "smithsonian",
           "europeana")
MUSEUMS = ("met", "aic", "cleveland", "nga")
OBJECT_TYPES = ("painting", "drawing", "print", "photograph", "sculpture")

# Byte-level defects a crawler must turn into reject rows (never crash, never store as an image).
DEFECTS = ("corrupt", "truncated", "decompression_bomb", "not_image", "html_error", "oversized")
TINY_LONG_SIDE = 150  # px: the "tiny" trap, under the resolution rule whatever its aspect

# Attribution qualifiers as museums write them; "after"/"follower of" usually mean a later hand.
QUALIFIERS = ("Workshop of", "Follower of", "After", "Attributed to", "Circle of", "Possibly by")

# Public-domain rule the ground truth is written against (life + 70, counted to the end of the
# death year): an artist's work is PD when they died at least 71 years before reference_year.
PD_DEATH_MARGIN_YEARS = 71
# With no usable death year, a work counts as PD only when created this long ago: a working life
# after the work (up to 100 years) plus 70.
UNDATED_MIN_AGE_YEARS = 170
FIRST_YEAR, LAST_YEAR = 1200, 1990  # creation dates of the collection


@dataclass(frozen=True)
class Artist:
    artist_id: int
    name: str
    nationality: str
    birth_year: int | None
    death_year: int | None
    birth_place: str
    death_place: str
    genres: tuple[str, ...]  # the artist's favourite painting genres
    style: Style


@dataclass(frozen=True)
class Artwork:
    artwork_id: int
    artist_id: int
    title: str
    object_type: str  # one of OBJECT_TYPES
    kind: str  # what the painter renders: a genre, or the object type for non-paintings
    medium: str
    date_start: int
    date_end: int
    date_text: str  # as a museum writes it: "ca. 1650", "1650-55", "1650"
    attribution_qualifier: str  # "" or one of QUALIFIERS
    composition_seed: int
    variant: int  # > 0 for later works of a series
    series_id: int  # -1 when not part of a series
    width: int  # master size, the largest any source serves
    height: int
    hand: int = 0  # > 0: a replica, the same work painted again by another hand (painter.paint)


@dataclass(frozen=True)
class Copy:
    """One record with one image at one source: what a spider will see as an item."""

    copy_id: str  # "{source}-{n}", also the served file's stem
    artwork_id: int
    source: str
    source_id: str  # the id in the source's own namespace (objectID, id, pageid, row number)
    image_id: str  # IIIF image id (uuid) for aic/nga, "" elsewhere
    is_public_domain_flag: bool  # the source's own judgement
    license: str  # the source's licence value in its own vocabulary
    transforms: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]  # (name, params) in order
    file_format: str  # JPEG or PNG
    jpeg_quality: int
    defect: str  # "" or one of DEFECTS
    is_exact_copy_of: str  # copy_id whose bytes this copy repeats exactly, else ""
    distractor: str  # the planted trap, "" for a plain good record
    expected_reject: tuple[str, ...]  # rules a correct pipeline must reject it by (default params)
    has_image: bool = True  # False: the source withholds the image (e.g. Met for non-PD objects)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def transform_names(self) -> str:
        return "+".join(name for name, _ in self.transforms) or "original"

    @property
    def extension(self) -> str:
        return "png" if self.file_format == "PNG" else "jpg"


@dataclass(frozen=True)
class Catalog:
    seed: int
    reference_year: int
    artists: tuple[Artist, ...]
    artworks: tuple[Artwork, ...]
    copies: tuple[Copy, ...]
    size_scale: float = 1.0  # every pixel size times this (build_catalog)

    def artist(self, artist_id: int) -> Artist:
        return self.artists[artist_id]

    def artwork(self, artwork_id: int) -> Artwork:
        return self.artworks[artwork_id]

    def by_source(self, source: str) -> list[Copy]:
        return [c for c in self.copies if c.source == source]


# ----------------------------------------------------------------------------------------------
# Names and places: syllable soup, so nobody mistakes a demo artist for a real one.

_FIRST = ("Jan Pieter Anna Maria Giovanni Lucia Hans Clara Pierre Sofia Willem Elena Matthias "
          "Camille Joaquin Isabel Frans Agnes Lorenzo Beatrix Anton Helene Tomas Rosa Emil Ida "
          "Cornelis Margit Bartolome Judith Ottavio Greta").split()
_LAST_A = ("Van Del Bor Mar Hol Ster Lin Vel Cas Rou Ber Mon Gal Fer Kre Wit Dor Sal Tes "
           "Quin").split()
_LAST_B = ("meer dano bruck elli stein aert oux mann ezzi ard ijn ozzi hoek ier ando berg "
           "ini").split()
_NATIONS = ("Dutch", "Flemish", "Italian", "French", "Spanish", "German", "English",
            "American", "Danish", "Austrian")
_TOWNS = ("Haarlem", "Antwerp", "Siena", "Rouen", "Toledo", "Nuremberg", "Norwich", "Boston",
          "Aarhus", "Linz", "Delft", "Ghent", "Bruges", "Lyon", "Seville", "Bergamo")

_TITLE_WORDS = {
    "landscape": ("Landscape with {x}", ("a Mill", "Cattle", "a River", "Ruins", "a Road",
                                         "Dunes")),
    "seascape": ("{x}", ("Ships in a Calm", "Stormy Sea", "Beach at Low Tide", "Harbour View")),
    "portrait": ("Portrait of {x}", ("a Young Woman", "a Merchant", "a Boy", "an Old Man",
                                     "a Lady in Black", "the Artist's Wife")),
    "still_life": ("Still Life with {x}", ("Lemons", "a Vase of Flowers", "Fruit and a Jug",
                                           "Oysters", "a Silver Cup")),
    "geometric": ("{x}", ("Composition", "Study in Planes", "Rhythm", "Counterpoint")),
    "drawing": ("{x}", ("Study of Hands", "Sketch of a Tree", "Figure Study", "View of a Town")),
    "print": ("{x}", ("The Mill", "Christ Preaching", "View of the Harbour", "The Hunters")),
    "photograph": ("{x}", ("Street Scene", "Portrait of a Sitter", "The Cathedral", "Orchard")),
    "sculpture": ("{x}", ("Bust of a Woman", "Head of a Youth", "Standing Figure", "Horse")),
}
_SEASONS = ("Morning", "Noon", "Evening", "Winter", "Spring", "Autumn", "Fog", "Snow")

_MEDIUM = {
    "painting": ("Oil on canvas", "Oil on panel", "Tempera on panel", "Oil on copper"),
    "drawing": ("Black chalk on paper", "Pen and brown ink", "Red chalk", "Graphite"),
    "print": ("Etching", "Engraving", "Woodcut", "Lithograph"),
    "photograph": ("Albumen silver print", "Gelatin silver print", "Salted paper print"),
    "sculpture": ("Marble", "Bronze", "Terracotta", "Limewood"),
}

# Aspect ratio (width / height) ranges per kind; paintings are neither square nor uniform.
_ASPECT = {"landscape": (1.15, 1.7), "seascape": (1.3, 2.4), "portrait": (0.62, 0.85),
           "still_life": (0.85, 1.35), "geometric": (0.75, 1.3), "drawing": (0.7, 1.45),
           "print": (0.7, 1.5), "photograph": (0.75, 1.35), "sculpture": (0.6, 0.9)}


# ----------------------------------------------------------------------------------------------


def build_catalog(seed: int, n_artworks: int, reference_year: int = 2026,
                  defect_share: float = 0.004, min_defects: int = 1,
                  size_scale: float = 1.0) -> Catalog:
    """Describe a collection of ``n_artworks`` artworks (copies, and a few replicas of them by
    other hands, come on top of that).

    ``size_scale`` multiplies every painting's pixel size (the tiny trap's too) and changes
    nothing else: the same artworks, copies, transforms and traps, smaller. A scaled demo must
    scale the curate stage's size rules alike (``min_short_side_px`` by ``size_scale``,
    ``min_pixels`` by its square) for ``expected_reject`` to hold."""
    if n_artworks < 10:
        raise ValueError(f"demo collection needs at least 10 artworks, got {n_artworks}")
    if not 0.05 <= size_scale <= 1:
        raise ValueError(f"demo.size_scale must be in [0.05, 1], got {size_scale}")
    rng = np.random.Generator(np.random.PCG64(seed))
    pd_cutoff = reference_year - PD_DEATH_MARGIN_YEARS  # artists dead in or before it are PD
    artists = _make_artists(rng, max(8, n_artworks // 25), pd_cutoff)
    artworks = _make_artworks(rng, artists, n_artworks)
    copies = _make_copies(rng, artists, artworks, pd_cutoff, defect_share, min_defects)
    # Later sources come from streams of their own: the other sources' copies stay what they
    # were before these joined. Wikidata last: its items link the museums' records.
    copies += _make_smithsonian_records(
        np.random.Generator(np.random.PCG64([seed, SMITHSONIAN_STREAM])), artists, artworks,
        pd_cutoff)
    copies += _make_europeana_records(
        np.random.Generator(np.random.PCG64([seed, EUROPEANA_STREAM])), artists, artworks,
        copies, pd_cutoff)
    copies += _make_wikidata_items(np.random.Generator(np.random.PCG64([seed, WIKIDATA_STREAM])),
                                   artists, artworks, copies, pd_cutoff)
    # Replicas last: new artworks and records on top of everything above, which stays as it was.
    artworks, replica_copies = _make_replicas(
        np.random.Generator(np.random.PCG64([seed, REPLICA_STREAM])), artists, artworks, copies,
        pd_cutoff)
    copies += replica_copies
    # Scaled last, so that every random draw above is the same as at full size.
    artworks = [dataclasses.replace(a, width=max(1, round(a.width * size_scale)),
                                    height=max(1, round(a.height * size_scale)))
                for a in artworks] if size_scale != 1 else artworks
    return Catalog(seed, reference_year, tuple(artists), tuple(artworks), tuple(copies),
                   size_scale)


def _make_artists(rng: np.random.Generator, n: int, pd_cutoff: int) -> list[Artist]:
    artists = []
    names = set()
    for artist_id in range(n):
        while True:
            name = (f"{rng.choice(_FIRST)} {rng.choice(_LAST_A)}{rng.choice(_LAST_B)}")
            if name not in names:
                names.add(name)
                break
        # Most lives fall where the 1400-1900 window wants them; some before and some modern
        # artists whose work is still in copyright.
        era = rng.random()
        if era < 0.07:
            birth = int(rng.integers(1180, 1370))
        elif era < 0.87:
            birth = int(rng.integers(1370, 1850))
        else:
            birth = int(rng.integers(1850, pd_cutoff - 30))
        death = birth + int(rng.integers(28, 92))
        if era >= 0.87 and rng.random() < 0.6:
            death = max(death, pd_cutoff + 1 + int(rng.integers(0, 30)))  # still in copyright
        unknown_dates = artist_id > 0 and rng.random() < 0.05  # "Anonymous"-style record
        genres = tuple(rng.choice(GENRES, size=2, replace=False).tolist())
        artists.append(Artist(
            artist_id=artist_id, name=name,
            nationality=str(rng.choice(_NATIONS)),
            birth_year=None if unknown_dates else birth,
            death_year=None if unknown_dates else death,
            birth_place=str(rng.choice(_TOWNS)), death_place=str(rng.choice(_TOWNS)),
            genres=genres, style=Style.random(rng)))
    return artists


def _life(artist: Artist, rng: np.random.Generator) -> tuple[int, int]:
    """The span in which an artist could have made a work (approximate for undated artists)."""
    if artist.birth_year is None:
        start = int(rng.integers(1250, 1850))
        return start, start + 60
    return artist.birth_year + 16, artist.death_year or artist.birth_year + 70


def _make_artworks(rng: np.random.Generator, artists: list[Artist], n: int) -> list[Artwork]:
    artworks: list[Artwork] = []
    series_id = 0
    while len(artworks) < n:
        artist = artists[int(rng.integers(len(artists)))]
        start, end = _life(artist, rng)
        year = int(rng.integers(start, max(start + 1, end)))
        object_type = str(rng.choice(OBJECT_TYPES, p=(0.72, 0.08, 0.08, 0.06, 0.06)))
        if object_type == "photograph" and year < 1840:
            object_type = "painting"
        kind = str(rng.choice(artist.genres)) if object_type == "painting" else object_type
        # A tenth of paintings start a series: the same composition seen three or four times.
        in_series = object_type == "painting" and rng.random() < 0.1
        count = int(rng.integers(3, 5)) if in_series else 1
        composition_seed = int(rng.integers(2**31))
        aspect = float(rng.uniform(*_ASPECT[kind]))
        long_side = _long_side(rng)
        for variant in range(min(count, n - len(artworks))):
            w, h = _size(long_side, aspect)
            title_form, things = _TITLE_WORDS[kind]
            title = title_form.format(x=str(rng.choice(things)))
            if in_series:
                title = f"{title}, {_SEASONS[(composition_seed + variant) % len(_SEASONS)]}"
            y = min(year + variant, end)
            date_start, date_end, date_text = _date(rng, y)
            qualifier = str(rng.choice(QUALIFIERS)) if rng.random() < 0.06 else ""
            if qualifier in ("After", "Follower of"):  # a later hand, often a generation later
                shift = int(rng.integers(20, 160))
                date_start, date_end = date_start + shift, date_end + shift
            # Keep every creation date inside the collection's span.
            date_start = min(max(date_start, FIRST_YEAR), LAST_YEAR)
            date_end = min(max(date_end, date_start), LAST_YEAR)
            if qualifier in ("After", "Follower of"):
                date_text = f"after {date_start}"
            artworks.append(Artwork(
                artwork_id=len(artworks), artist_id=artist.artist_id, title=title,
                object_type=object_type, kind=kind,
                medium=str(rng.choice(_MEDIUM[object_type])),
                date_start=date_start, date_end=date_end, date_text=date_text,
                attribution_qualifier=qualifier, composition_seed=composition_seed,
                variant=variant, series_id=series_id if in_series else -1,
                width=w, height=h))
        series_id += in_series
    return artworks


def _long_side(rng: np.random.Generator) -> int:
    u = rng.random()
    if u < 0.6:
        return int(rng.integers(500, 1200))
    if u < 0.9:
        return int(rng.integers(1200, 2000))
    return int(rng.integers(2000, 3001))


def _size(long_side: int, aspect: float) -> tuple[int, int]:
    if aspect >= 1:
        return long_side, max(1, round(long_side / aspect))
    return max(1, round(long_side * aspect)), long_side


def _date(rng: np.random.Generator, year: int) -> tuple[int, int, str]:
    form = rng.random()
    if form < 0.5:
        return year, year, str(year)
    if form < 0.8:
        return year - 5, year + 5, f"ca. {year}"
    end = year + int(rng.integers(1, 10))
    return year, end, f"{year}-{end % 100:02d}"


# ----------------------------------------------------------------------------------------------
# Copies: who serves what, how each copy was "scanned", and which traps are planted.


REAL_WORLD_SHARE = 0.4  # copies that also show one of the transforms no hash sees
REAL_WORLD = ("colour_strong", "mirror", "perspective", "wall", "low_res")
SMALL_DETAIL_SHARE = 0.5  # details cut down further, to a sixth to a half per axis


def _scan_transforms(rng: np.random.Generator, detail_ok: bool) -> tuple:
    """One to two degradations that another institution's photograph of a work would show
    (a re-encode, resize, crop, mild grading, a frame or mat, a squashed aspect ratio, a
    watermark, a close-up), and for some copies one more that real collections show and no
    hash sees (`REAL_WORLD`: a strong regrading, a mirrored print, a photograph at an angle,
    the picture on a wall, a small web image); some close-ups are small parts of the work.

    The real-world additions are drawn from a stream jumped off ``rng``, which consumes
    nothing of it: every other draw of the catalogue is what it was without them."""
    more = np.random.Generator(rng.bit_generator.jumped())
    menu = ["reencode", "resize", "crop", "colour", "frame", "squash", "watermark"]
    if detail_ok:
        menu.append("detail")
    chosen = rng.choice(menu, size=int(rng.integers(1, 3)), replace=False).tolist()
    out = []
    for name in chosen:
        if name == "reencode":
            continue  # the quality is drawn for every copy anyway
        if name == "resize":
            params = (("scale", round(float(rng.uniform(0.35, 0.8)), 3)),)
        elif name == "crop":
            sides = rng.uniform(0.0, 0.12, size=4) * (rng.random(4) < 0.7)
            params = tuple(zip(("left", "top", "right", "bottom"),
                               (round(float(s), 3) for s in sides), strict=True))
        elif name == "colour":
            params = (("gamma", round(float(rng.uniform(0.8, 1.25)), 3)),
                      ("saturation", round(float(rng.uniform(0.7, 1.3)), 3)),
                      ("warmth", round(float(rng.uniform(-0.5, 0.5)), 3)))
        elif name == "frame":
            params = (("border_frac", round(float(rng.uniform(0.04, 0.12)), 3)),
                      ("style", float(rng.integers(3))), ("seed", float(rng.integers(1000))))
        elif name == "squash":
            params = (("x_factor", round(float(rng.choice([rng.uniform(0.85, 0.95),
                                                            rng.uniform(1.05, 1.15)])), 3)),)
        elif name == "watermark":
            params = (("opacity", round(float(rng.uniform(0.25, 0.5)), 3)),)
        else:  # detail: a museum's close-up of part of the work
            left, top = rng.uniform(0.05, 0.35, size=2)
            width, height = rng.uniform(0.45, 0.6, size=2)
            if more.random() < SMALL_DETAIL_SHARE:
                width, height = width * more.uniform(0.35, 0.8), height * more.uniform(0.35, 0.8)
            params = (("left", round(float(left), 3)), ("top", round(float(top), 3)),
                      ("right", round(float(left + width), 3)),
                      ("bottom", round(float(top + height), 3)))
        out.append((name, params))
    # Only on copies already transformed: a copy without any stays one (the traps are
    # planted on those), so the rest of the catalogue is drawn as before.
    if out and more.random() < REAL_WORLD_SHARE:
        out.append(_real_world_transform(more))
    return tuple(out)


def _real_world_transform(rng: np.random.Generator) -> tuple:
    name = str(rng.choice(REAL_WORLD))
    if name == "colour_strong":  # another photographer's lights and white balance
        gamma = rng.uniform(0.45, 0.7) if rng.random() < 0.5 else rng.uniform(1.45, 2.2)
        params = (("gamma", round(float(gamma), 3)),
                  ("saturation", round(float(rng.uniform(0.3, 1.7)), 3)),
                  ("warmth", round(float(rng.uniform(-1, 1)), 3)))
    elif name == "mirror":
        params = ()
    elif name == "perspective":
        params = (("turn", round(float(rng.uniform(0.08, 0.3) * rng.choice((-1, 1))), 3)),
                  ("tilt", round(float(rng.uniform(-0.12, 0.12)), 3)),
                  ("seed", float(rng.integers(1000))))
    elif name == "wall":
        share = float(rng.uniform(0.35, 0.75))
        params = (("share", round(share, 3)),
                  ("height_share", round(float(rng.uniform(share, min(0.95, 1.25 * share))), 3)),
                  ("seed", float(rng.integers(1000))))
    else:  # low_res: a small web image, at most half the size it had
        params = (("long_side", float(rng.integers(240, 480))),)
    return name, params


def _source_licence(source: str, is_pd: bool) -> str:
    """The licence value each source publishes, in its own vocabulary."""
    return {
        "met": "Public Domain" if is_pd else "",
        "aic": "CC0" if is_pd else "",
        "cleveland": "CC0" if is_pd else "Copyrighted",
        "nga": "CC0" if is_pd else "",
        "commons": "pd" if is_pd else "cc-by-sa-4.0",
        "urls": "Public Domain" if is_pd else "",  # a free-text licence column, often blank
        "wikidata": "pd" if is_pd else "cc-by-sa-4.0",  # the Commons file's licence template
        "smithsonian": "CC0" if is_pd else "Usage conditions apply",  # metadata_usage.access
        "europeana": EUROPEANA_RIGHTS["PDM"] if is_pd else EUROPEANA_RIGHTS["InC"],
    }[source]


def _make_copies(rng: np.random.Generator, artists: list[Artist], artworks: list[Artwork],
                 pd_cutoff: int, defect_share: float, min_defects: int) -> list[Copy]:
    counters = {s: 0 for s in SOURCES}
    used_ids: dict[str, set] = {s: set() for s in SOURCES}
    copies: list[Copy] = []

    def new_copy(artwork: Artwork, source: str, flag: bool, transforms: tuple,
                 distractor: str = "", defect: str = "", exact_of: str = "",
                 fmt: str | None = None) -> Copy:
        counters[source] += 1
        source_id = _source_id(rng, source, used_ids[source])
        image_id = _image_id(rng, source)
        if fmt is None:  # PNG only where files stay small enough to encode quickly
            small = max(artwork.width, artwork.height) <= 1400
            fmt = "PNG" if small and rng.random() < 0.12 else "JPEG"
        copy = Copy(
            copy_id=f"{source}-{counters[source]:06d}", artwork_id=artwork.artwork_id,
            source=source, source_id=source_id, image_id=image_id, is_public_domain_flag=flag,
            license=_source_licence(source, flag), transforms=transforms, file_format=fmt,
            jpeg_quality=int(rng.integers(70, 96)), defect=defect, is_exact_copy_of=exact_of,
            distractor=distractor, expected_reject=(),
            # The Met publishes image URLs only for public-domain objects.
            has_image=flag or source != "met")
        copies.append(copy)
        return copy

    for artwork in artworks:
        artist = artists[artwork.artist_id]
        truly_pd = _is_pd_by_dates(artist, artwork, pd_cutoff)
        home = str(rng.choice(("met", "aic", "cleveland", "nga", "commons"),
                              p=(0.26, 0.2, 0.2, 0.16, 0.18)))
        flag = truly_pd
        distractor = "" if truly_pd else "in_copyright"
        # Sometimes the source's flag disagrees with the dates: trust neither alone. Museums
        # err both ways; a wrong "PD" on a modern work is the dangerous one.
        if rng.random() < (0.015 if truly_pd else 0.15):
            flag = not flag
            distractor = "flag_says_pd" if flag else "flag_says_not_pd"
        home_copy = new_copy(artwork, home, flag, (), distractor)
        if not (truly_pd and flag and artwork.object_type == "painting"):
            continue
        # Good public-domain paintings travel: mirrors on Commons, a second museum's photograph.
        if home != "commons" and rng.random() < 0.05:  # byte-identical mirror
            new_copy(artwork, "commons", True, (), exact_of=home_copy.copy_id,
                     fmt=home_copy.file_format)
        if home != "commons" and rng.random() < 0.22:
            new_copy(artwork, "commons", True, _scan_transforms(rng, detail_ok=True))
        if rng.random() < 0.07:
            other = str(rng.choice([m for m in MUSEUMS if m != home]))
            new_copy(artwork, other, True, _scan_transforms(rng, detail_ok=False))
        if rng.random() < 0.1:  # a stray copy on some website, listed in the URL file
            new_copy(artwork, "urls", bool(rng.random() < 0.5),
                     _scan_transforms(rng, detail_ok=False))

    # Byte-level defects and tiny images ride on otherwise perfect records, spread over sources.
    n_defects = max(min_defects, int(round(defect_share * len(artworks))))
    good = [i for i, c in enumerate(copies) if _is_good_record(c, artworks, artists, pd_cutoff)
            and not c.transforms and not c.is_exact_copy_of]
    pick = rng.permutation(len(good))
    traps = [(d, d) for d in DEFECTS for _ in range(n_defects)] + [("", "tiny")] * n_defects
    for (defect, distractor), j in zip(traps, pick, strict=False):  # more traps than slots: stop
        i = good[int(j)]
        copies[i] = dataclasses.replace(copies[i], defect=defect, distractor=distractor)

    return _with_expected_rejects(copies, artworks, artists, pd_cutoff)


SMITHSONIAN_STREAM = 23  # the random stream of the Smithsonian's records
SMITHSONIAN_SHARE = 0.6  # share of American artists' works the Smithsonian holds
SMITHSONIAN_OTHERS = 0.04  # ...and of everybody else's (the Freer, Cooper Hewitt, ...)
EUROPEANA_STREAM = 29
EUROPEANA_SHARE = 0.2  # share of public-domain paintings aggregated by Europeana
EUROPEANA_IN_COPYRIGHT_SHARE = 0.1  # ...and of other works, with an "in copyright" statement
# Europeana's rights statements (edm:rights): only PDM and CC0 say "public domain".
EUROPEANA_RIGHTS = {"PDM": "http://creativecommons.org/publicdomain/mark/1.0/",
                    "CC0": "http://creativecommons.org/publicdomain/zero/1.0/",
                    "CC BY-SA": "http://creativecommons.org/licenses/by-sa/4.0/",
                    "InC": "http://rightsstatements.org/vocab/InC/1.0/"}
EUROPEANA_DATASETS = ("2021608", "2048128", "90402", "15508")  # provider datasets


def _make_smithsonian_records(rng: np.random.Generator, artists: list[Artist],
                              artworks: list[Artwork], pd_cutoff: int) -> list[Copy]:
    """The Smithsonian's records (Open Access): mostly American artists' works, every object type,
    each a record of its own with its own photograph; CC0 when the Smithsonian says so, and
    then with a downloadable image."""
    out: list[Copy] = []
    for artwork in artworks:
        artist = artists[artwork.artist_id]
        share = SMITHSONIAN_SHARE if artist.nationality == "American" else SMITHSONIAN_OTHERS
        if rng.random() >= share:
            continue
        truly_pd = _is_pd_by_dates(artist, artwork, pd_cutoff)
        flag, distractor = truly_pd, "" if truly_pd else "in_copyright"
        if rng.random() < 0.05:  # a record marked CC0 whose dates say otherwise, or the reverse
            flag = not flag
            distractor = "flag_says_pd" if flag else "flag_says_not_pd"
        n = len(out) + 1
        out.append(Copy(
            copy_id=f"smithsonian-{n:06d}", artwork_id=artwork.artwork_id, source="smithsonian",
            source_id=f"edanmdm-saam_{1900 + artwork.artwork_id % 120}.{n}", image_id="",
            is_public_domain_flag=flag, license=_source_licence("smithsonian", flag),
            transforms=(), file_format="JPEG", jpeg_quality=int(rng.integers(80, 96)),
            defect="", is_exact_copy_of="", distractor=distractor, expected_reject=(),
            has_image=flag))  # media under "usage conditions" are not downloadable
    return _with_expected_rejects(out, artworks, artists, pd_cutoff)


def _make_europeana_records(rng: np.random.Generator, artists: list[Artist],
                            artworks: list[Artwork], copies: list[Copy],
                            pd_cutoff: int) -> list[Copy]:
    """Europeana's records: an aggregator's copies of paintings held by museums, each under a
    rights statement (``Copy.license`` is its URI); the image is the provider's, as it is
    (a byte copy of a museum's) or as the provider photographed it."""
    home = {}
    for c in copies:
        if c.source in MUSEUMS and not c.defect and c.distractor != "tiny":
            home.setdefault(c.artwork_id, c)
    out: list[Copy] = []
    for artwork in artworks:
        artist = artists[artwork.artist_id]
        truly_pd = _is_pd_by_dates(artist, artwork, pd_cutoff)
        share = EUROPEANA_SHARE if truly_pd else EUROPEANA_IN_COPYRIGHT_SHARE
        if artwork.object_type != "painting" or rng.random() >= share:
            continue
        if truly_pd:
            rights = str(rng.choice(["PDM", "CC0", "CC BY-SA"], p=[0.75, 0.15, 0.1]))
        else:
            rights = str(rng.choice(["InC", "PDM"], p=[0.8, 0.2]))  # PDM here: a wrong label
        flag = rights in ("PDM", "CC0")
        base = home.get(artwork.artwork_id)
        exact = base is not None and rng.random() < 0.4
        dataset = str(rng.choice(EUROPEANA_DATASETS))
        n = len(out) + 1
        out.append(Copy(
            copy_id=f"europeana-{n:06d}", artwork_id=artwork.artwork_id, source="europeana",
            # Europeana's id is "/dataset/local"; ours drops the leading slash and writes the
            # other as ":" (a "/" in an id could act as a path): see crawl/spiders/europeana.py.
            source_id=f"{dataset}:{'SK_A_' if rng.random() < 0.5 else 'obj_'}{1000 + n}",
            image_id="", is_public_domain_flag=flag, license=EUROPEANA_RIGHTS[rights],
            transforms=base.transforms if exact else _scan_transforms(rng, detail_ok=False),
            file_format=base.file_format if exact else "JPEG",
            jpeg_quality=int(rng.integers(70, 96)), defect="",
            is_exact_copy_of=(base.is_exact_copy_of or base.copy_id) if exact else "",
            distractor=("" if truly_pd and flag else "flag_says_pd" if flag
                        else "flag_says_not_pd" if truly_pd else "in_copyright"),
            expected_reject=(), has_image=True))
    return _with_expected_rejects(out, artworks, artists, pd_cutoff)


REPLICA_STREAM = 37  # the random stream of the replicas
REPLICA_SHARE = 0.03  # paintings (outside a series) that a workshop or a later hand painted again
REPLICA_QUALIFIERS = ("Workshop of", "After", "Follower of")


def _make_replicas(rng: np.random.Generator, artists: list[Artist], artworks: list[Artwork],
                   copies: list[Copy], pd_cutoff: int) -> tuple[list[Artwork], list[Copy]]:
    """Replicas: a painting's composition painted again by another hand (a workshop's second
    version, a later copyist's), each a separate object that a museum holds and photographs.
    The replica and its original form a series of their own: distinct works that the
    de-duplication must keep apart as far as the pixels allow (the painter's ``hand`` draws
    other strokes over a slightly displaced drawing). Returns every artwork, the replicas
    appended, and the replicas' records."""
    used = {s: {int(c.source_id) for c in copies if c.source == s} for s in MUSEUMS}
    counters = {s: max((int(c.copy_id.rsplit("-", 1)[1]) for c in copies if c.source == s),
                       default=0) for s in MUSEUMS}
    series = max((a.series_id for a in artworks), default=-1) + 1
    everything, out = list(artworks), []
    for artwork in artworks:
        if artwork.object_type != "painting" or artwork.series_id >= 0 \
                or artwork.attribution_qualifier or rng.random() >= REPLICA_SHARE:
            continue
        qualifier = str(rng.choice(REPLICA_QUALIFIERS))
        shift = 0 if qualifier == "Workshop of" else int(rng.integers(20, 160))
        start = min(artwork.date_start + shift, LAST_YEAR)
        scale = float(rng.uniform(0.85, 1.15))
        replica = dataclasses.replace(
            artwork, artwork_id=len(everything), attribution_qualifier=qualifier,
            date_start=start, date_end=min(max(artwork.date_end + shift, start), LAST_YEAR),
            date_text=artwork.date_text if not shift else f"after {start}",
            series_id=series, hand=len(out) + 1,
            width=max(1, round(artwork.width * scale)),
            height=max(1, round(artwork.height * scale)))
        everything[artwork.artwork_id] = dataclasses.replace(artwork, series_id=series)
        everything.append(replica)
        series += 1
        source = str(rng.choice(MUSEUMS))
        flag = _is_pd_by_dates(artists[artwork.artist_id], replica, pd_cutoff)
        counters[source] += 1
        out.append(Copy(
            copy_id=f"{source}-{counters[source]:06d}", artwork_id=replica.artwork_id,
            source=source, source_id=_source_id(rng, source, used[source]),
            image_id=_image_id(rng, source),
            is_public_domain_flag=flag, license=_source_licence(source, flag), transforms=(),
            file_format="JPEG", jpeg_quality=int(rng.integers(75, 96)), defect="",
            is_exact_copy_of="", distractor="" if flag else "in_copyright", expected_reject=(),
            has_image=flag or source != "met"))
    return everything, _with_expected_rejects(out, everything, artists, pd_cutoff)


WIKIDATA_STREAM = 17  # the random stream of the Wikidata items
# Museums whose records an item names: by object-id property (Met, AIC, NGA, Europeana) or by
# inventory number with its collection (Cleveland, Smithsonian).
LINKED_SOURCES = ("met", "aic", "nga", "europeana", "cleveland", "smithsonian")
WIKIDATA_SHARE = 0.45  # share of paintings that have an item with an image
# Where item ids lie: most were created in bulk (a "sum of all paintings" bot run, dense ids,
# which makes listing queries over that range time out), the rest scattered. The bulk block
# is at least 200,000 ids wide and grows with the items in it, so that a partition of
# crawl.sources.wikidata.min_partition_ids (1,000) holds about 17 of them at any size,
# a third of what makes the demo's Query Service time out (demo/apis/wikidata.py).
WIKIDATA_DENSE_IDS = (18_000_000, 18_200_000)
WIKIDATA_DENSE_IDS_PER_ITEM = 60
WIKIDATA_DENSE_SHARE = 0.6  # of the items
WIKIDATA_SPARSE_IDS = (20_000_000, 130_000_000)  # above the people and genres the demo serves
# How the item states its copyright status (P6216), by what the dates say.
WIKIDATA_PD_STATUS = {"pd": 0.6, "": 0.4}  # "": no statement, the file's licence decides
WIKIDATA_NOT_PD_STATUS = {"copyrighted": 0.5, "pd_us": 0.3, "": 0.2}


def _make_wikidata_items(rng: np.random.Generator, artists: list[Artist],
                         artworks: list[Artwork], copies: list[Copy],
                         pd_cutoff: int) -> list[Copy]:
    """Wikidata items of paintings, each with its P18 file: one record per item.

    An item's file is the Commons copy when there is one (the same bytes), else a museum's
    photograph uploaded as it is or re-encoded. ``extra`` holds what the item states beyond
    the artwork: ``status`` (copyright status: "pd", "pd_us", "copyrighted" or ""),
    ``inception_precision`` (9, or 8 where a decade changes no rule), ``same_as`` (the other
    museums' records of the work, as ``source:id``: by their object-id properties, or by
    inventory number for Cleveland and the Smithsonian) and ``missing_file`` (P18 names a file
    deleted from Commons).
    """
    by_artwork: dict[int, list[Copy]] = {}
    for c in copies:
        by_artwork.setdefault(c.artwork_id, []).append(c)
    used: set = set()
    items = []
    paintings = sum(a.object_type == "painting" for a in artworks)
    dense_low, dense_high = WIKIDATA_DENSE_IDS
    dense_high = max(dense_high, dense_low + round(
        WIKIDATA_DENSE_IDS_PER_ITEM * WIKIDATA_DENSE_SHARE * WIKIDATA_SHARE * paintings))
    for artwork in artworks:
        if artwork.object_type != "painting" or rng.random() >= WIKIDATA_SHARE:
            continue
        artist = artists[artwork.artist_id]
        truly_pd = _is_pd_by_dates(artist, artwork, pd_cutoff)
        held = by_artwork[artwork.artwork_id]
        good = [c for c in held if not c.defect and c.distractor != "tiny"]
        on_commons = [c for c in good if c.source == "commons"]
        base = on_commons[0] if on_commons else good[0] if good else None
        exact = base is not None and (bool(on_commons) or rng.random() < 0.5)
        table = WIKIDATA_PD_STATUS if truly_pd else WIKIDATA_NOT_PD_STATUS
        status = str(rng.choice(list(table), p=list(table.values())))
        file_pd = truly_pd or status == ""  # a wrongly tagged upload, or a PD-US upload
        if status == "pd_us":
            file_pd = True  # Commons keeps PD-US files; the item says so, for the US only
        flag = file_pd and status not in ("copyrighted", "pd_us")
        distractor = "" if truly_pd else ("flag_says_pd" if flag else "in_copyright")
        decade = artwork.date_start - artwork.date_start % 10
        coarse = artwork.date_start == artwork.date_end and rng.random() < 0.3 and _same_rules(
            artist, artwork, decade, decade + 9, pd_cutoff)
        missing = rng.random() < 0.02
        number = (int(rng.integers(dense_low, dense_high)) if rng.random() < WIKIDATA_DENSE_SHARE
                  else int(rng.integers(*WIKIDATA_SPARSE_IDS)))
        while number in used:
            number += 1
        used.add(number)
        items.append(Copy(
            copy_id=f"wikidata-{len(items) + 1:06d}", artwork_id=artwork.artwork_id,
            source="wikidata", source_id=f"Q{number}", image_id="", is_public_domain_flag=flag,
            license=_source_licence("wikidata", file_pd),
            # An exact copy's bytes are its base's: so are the transforms that made them.
            transforms=base.transforms if exact else _scan_transforms(rng, detail_ok=False),
            file_format=base.file_format if exact else "JPEG",
            jpeg_quality=int(rng.integers(70, 96)), defect="",
            is_exact_copy_of=(base.is_exact_copy_of or base.copy_id) if exact else "",
            distractor=distractor,
            expected_reject=(), has_image=not missing,
            extra={"status": status, "inception_precision": 8 if coarse else 9,
                   "same_as": sorted(f"{c.source}:{c.source_id}" for c in held
                                     if c.source in LINKED_SOURCES)}))
    return _with_expected_rejects(items, artworks, artists, pd_cutoff)


def _same_rules(artist: Artist, artwork: Artwork, first: int, last: int, pd_cutoff: int) -> bool:
    """Whether dating the work to first..last instead leaves the date window and the licence
    rule as they were (then a coarser precision on Wikidata changes no expected row)."""
    wider = dataclasses.replace(artwork, date_start=first, date_end=last)
    in_window = (artwork.date_start >= 1400 and artwork.date_end <= 1900,
                 first >= 1400 and last <= 1900)
    return in_window[0] == in_window[1] and (_is_pd_by_dates(artist, artwork, pd_cutoff)
                                             == _is_pd_by_dates(artist, wider, pd_cutoff))


def _with_expected_rejects(copies: list[Copy], artworks: list[Artwork], artists: list[Artist],
                           pd_cutoff: int) -> list[Copy]:
    return [dataclasses.replace(c, expected_reject=_expected_reject(c, artworks, artists,
                                                                      pd_cutoff))
            for c in copies]


def _image_id(rng: np.random.Generator, source: str) -> str:
    """The IIIF image id (a UUID) of a record at a source that serves through IIIF, else ""."""
    if source not in ("aic", "nga"):
        return ""
    return str(uuid.UUID(int=int(rng.integers(2**63)) << 64 | int(rng.integers(2**63)),
                         version=4))


def _source_id(rng: np.random.Generator, source: str, used: set) -> str:
    low, high = {"met": (10_000, 900_000), "aic": (1_000, 250_000),
                 "cleveland": (90_000, 999_999), "nga": (1, 200_000),
                 "commons": (1_000_000, 150_000_000), "urls": (0, 10**9)}[source]
    while True:
        value = int(rng.integers(low, high))
        if value not in used:
            used.add(value)
            return str(value)


def _is_pd_by_dates(artist: Artist, artwork: Artwork, pd_cutoff: int) -> bool:
    """The legal facts, written independently of curate/licence.py so that tests can catch it.

    Life + 70 when we know who painted it and when they died. A later hand ("after",
    "follower of", ...) or an unknown death year leaves only the creation date: old enough that
    any author must have died more than 70 years ago (UNDATED_MIN_AGE_YEARS).
    """
    later_hand = artwork.attribution_qualifier in ("After", "Follower of", "Circle of")
    if artist.death_year is not None and not later_hand:
        return artist.death_year <= pd_cutoff
    return artwork.date_end <= pd_cutoff + PD_DEATH_MARGIN_YEARS - UNDATED_MIN_AGE_YEARS


def _is_good_record(copy: Copy, artworks: list[Artwork], artists: list[Artist],
                    pd_cutoff: int) -> bool:
    return copy.source != "urls" and not _expected_reject(copy, artworks, artists, pd_cutoff)


def expected_size(artwork: Artwork, copy: Copy, size_scale: float = 1.0) -> tuple[int, int]:
    """Pixel size of a copy's original file (before any server-side IIIF scaling) in a
    catalogue of ``size_scale``."""
    if copy.distractor == "tiny":
        scale = TINY_LONG_SIDE * size_scale / max(artwork.width, artwork.height)
        return max(1, round(artwork.width * scale)), max(1, round(artwork.height * scale))
    w, h = artwork.width, artwork.height
    for name, params in copy.transforms:
        p = dict(params)
        if name == "resize":
            w, h = max(1, round(w * p["scale"])), max(1, round(h * p["scale"]))
        elif name in ("crop", "detail"):
            if name == "crop":
                left, top, right, bottom = p["left"], p["top"], 1 - p["right"], 1 - p["bottom"]
            else:
                left, top, right, bottom = p["left"], p["top"], p["right"], p["bottom"]
            w, h = round(w * right) - round(w * left), round(h * bottom) - round(h * top)
        elif name == "squash":
            w = max(1, round(w * p["x_factor"]))
        elif name == "frame":
            border = round(p["border_frac"] * max(w, h))
            w, h = w + 2 * border, h + 2 * border
        elif name == "wall":
            w, h = wall_size((w, h), p["share"], p["height_share"])
        elif name == "low_res":
            scale = low_resolution_scale((w, h), p["long_side"])
            w, h = max(1, round(w * scale)), max(1, round(h * scale))
    return w, h


def _expected_reject(copy: Copy, artworks: list[Artwork], artists: list[Artist],
                     pd_cutoff: int) -> tuple[str, ...]:
    """Every rule a correct pipeline, at default params, must reject this copy by.

    Rule names: ``fetch`` (bytes are not a usable image), ``licence`` (source flag and date rule
    do not both say public domain), ``date_window`` (outside 1400-1900), ``object_type`` (not a
    painting), ``resolution`` (short side under 256 px), ``no_image``.
    """
    artwork = artworks[copy.artwork_id]
    artist = artists[artwork.artist_id]
    reasons = []
    if copy.defect:
        reasons.append("fetch")
    if not copy.has_image:
        reasons.append("no_image")
    if not (copy.is_public_domain_flag and _is_pd_by_dates(artist, artwork, pd_cutoff)):
        reasons.append("licence")
    if artwork.date_start < 1400 or artwork.date_end > 1900:
        reasons.append("date_window")
    if artwork.object_type != "painting":
        reasons.append("object_type")
    if copy.distractor == "tiny":
        reasons.append("resolution")
    return tuple(reasons)


def describe(catalog: Catalog) -> dict:
    """Counts for the README and the build's metrics file."""
    copies = catalog.copies
    return {
        "artists": len(catalog.artists),
        "artworks": len(catalog.artworks),
        "copies": len(copies),
        "copies_per_source": {s: sum(c.source == s for c in copies) for s in SOURCES},
        "series": len({a.series_id for a in catalog.artworks if a.series_id >= 0}),
        "duplicated_artworks": sum(1 for n in np.bincount([c.artwork_id for c in copies]) if n > 1),
        "defects": {d: sum(c.defect == d for c in copies) for d in DEFECTS},
        "expected_clean": sum(not c.expected_reject for c in copies),
        "mean_long_side_px": round(math.fsum(max(a.width, a.height) for a in catalog.artworks)
                                   / len(catalog.artworks), 1),
    }
