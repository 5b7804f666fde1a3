"""A plain website holding images, and a CSV list of their URLs (img2dataset-style input).

``/list.csv`` has columns ``url,title,artist,date,license`` (metadata optional, licence often
blank); images live at ``/web/{copy_id}.{ext}``.
"""

from __future__ import annotations

import csv
import io

from demo import hostile
from demo.apis import image_response
from demo.collection import DemoCollection
from demo.server import Request, Response, error_response


def handle(collection: DemoCollection, request: Request) -> Response:
    if request.path == "/list.csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["url", "title", "artist", "date", "license"])
        for c in sorted(collection.catalog.by_source("urls"), key=lambda c: c.copy_id):
            artwork, artist = collection.artwork(c), collection.artist(c)
            writer.writerow([f"{request.source_root}/web/{c.copy_id}.{c.extension}",
                             artwork.title, artist.name, artwork.date_text, c.license])
        if request.hostile:
            writer.writerows(hostile.url_rows(request.source_root))
            return Response(200, hostile.encode_text(buf.getvalue()), "text/csv; charset=utf-8")
        return Response(200, buf.getvalue().encode(), "text/csv; charset=utf-8")
    if request.path.startswith("/web/"):
        copy = collection.copies.get(request.path[len("/web/"):].rsplit(".", 1)[0])
        if copy is None or copy.source != "urls":
            return error_response(404, "Not Found", as_json=False)
        return image_response(collection, copy, max_side=None)
    return error_response(404, "Not Found", as_json=False)
