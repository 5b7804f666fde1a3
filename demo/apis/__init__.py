"""One module per emulated source; each exposes ``handle(collection, request) -> Response``.

Shared here: how each source words an artwork's facts (artist bio lines, object-type names),
and how any of them serves an image file.
"""

from __future__ import annotations

from demo.catalog import Artist, Artwork, Copy
from demo.collection import DemoCollection
from demo.server import Response

# How museums name object types (Met classification, AIC artwork_type_title, CMA type).
TYPE_NAMES = {
    "met": {"painting": "Paintings", "drawing": "Drawings", "print": "Prints",
            "photograph": "Photographs", "sculpture": "Sculpture"},
    "aic": {"painting": "Painting", "drawing": "Drawing and Watercolor", "print": "Print",
            "photograph": "Photograph", "sculpture": "Sculpture"},
    "cleveland": {"painting": "Painting", "drawing": "Drawing", "print": "Print",
                  "photograph": "Photograph", "sculpture": "Sculpture"},
    "nga": {"painting": "Painting", "drawing": "Drawing", "print": "Print",
            "photograph": "Photograph", "sculpture": "Sculpture"},
}


# How museums file a painting's genre (AIC subject_titles, Met tags), by the painter's kind.
SUBJECTS = {"portrait": ("Portraits", "Men"), "landscape": ("Landscapes", "Trees"),
            "seascape": ("Seascapes", "Boats"), "still_life": ("Still Life", "Fruit"),
            "geometric": ("Abstraction",)}
# Movements by the latest year of a work (a crude calendar, enough for a demo).
MOVEMENTS = ((1600, "Q4692", "Renaissance"), (1720, "Q37853", "Baroque"),
             (1780, "Q122960", "Rococo"), (1830, "Q14378", "neoclassicism"),
             (1860, "Q37068", "Romanticism"), (1900, "Q40415", "Impressionism"))


def movement_of(artwork: Artwork) -> tuple[str, str] | None:
    """(Wikidata id, name) of the movement of a work's time, None after 1900."""
    return next(((q, name) for end, q, name in MOVEMENTS if artwork.date_end <= end), None)


def life_dates(artist: Artist) -> str:
    if artist.birth_year is None:
        return ""
    return f"{artist.birth_year}\u2013{artist.death_year}"


def bio_line(artist: Artist) -> str:
    """'Dutch, 1610-1685' as AIC, CMA and NGA print it (without dates when unknown)."""
    dates = life_dates(artist)
    return f"{artist.nationality}, {dates}" if dates else artist.nationality


def attributed_name(artist: Artist, artwork: Artwork) -> str:
    q = artwork.attribution_qualifier
    return f"{q} {artist.name}" if q else artist.name


def paginate(items: list, offset: int, limit: int) -> list:
    return items[max(0, offset): max(0, offset) + max(0, limit)]


def image_response(collection: DemoCollection, copy: Copy, max_side: int | None) -> Response:
    """The copy's original bytes, or a derivative no larger than ``max_side``."""
    if copy.defect == "oversized":
        return Response(200, collection.oversized_chunks(), "image/jpeg",
                        length=collection.oversized_length())
    if copy.defect == "html_error":
        return Response(200, collection.original(copy), "text/html; charset=utf-8")
    content_type = "image/png" if copy.file_format == "PNG" else "image/jpeg"
    width, height = collection.size(copy)
    if copy.defect or max_side is None or max(width, height) <= max_side:
        return Response(200, collection.original(copy), content_type)
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Response(200, collection.derived(copy, None, size, "jpg"), "image/jpeg")
