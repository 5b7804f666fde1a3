"""One module per emulated source; each exposes ``handle(collection, request) -> Response``.

Shared here: how each source words an artwork's facts (artist bio lines, object-type names).
"""

from __future__ import annotations

from crawl.demo.catalog import Artist, Artwork

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
