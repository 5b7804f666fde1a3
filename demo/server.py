"""The demo collection's HTTP server: eight real APIs and a URL list on one loopback port.

Each source lives under its own path prefix and speaks that site's real format, so a spider
only needs its API root changed::

    real                                         demo
    https://collectionapi.metmuseum.org          http://127.0.0.1:PORT/met
    https://api.artic.edu                        http://127.0.0.1:PORT/aic
    https://openaccess-api.clevelandart.org      http://127.0.0.1:PORT/cleveland
    https://github.com/NationalGalleryOfArt/...  http://127.0.0.1:PORT/nga   (CSVs + IIIF)
    https://commons.wikimedia.org                http://127.0.0.1:PORT/commons
    https://query.wikidata.org (+ www.wikidata.org, commons)  http://127.0.0.1:PORT/wikidata
    https://api.si.edu/openaccess/api/v1.0 (+ ids.si.edu)    http://127.0.0.1:PORT/smithsonian
    https://api.europeana.eu (+ the providers' hosts)        http://127.0.0.1:PORT/europeana
    (a CSV of image URLs)                        http://127.0.0.1:PORT/urls/list.csv

Run by hand (port 0 picks a free port)::

    python -m demo serve --root data/demo --port 8765 --faults "error_500=0.1"
    python -m demo serve --root data/demo --hostile   # + demo/hostile.py's corpus

Tests use it as a context manager::

    with DemoServer("data/demo") as server:
        requests.get(server.api_roots["met"] + "/public/collection/v1/objects")
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from demo.collection import DemoCollection
from demo.faults import FaultConfig, FaultInjector

ROBOTS_TXT = b"""# Demo collection: the rules a polite crawler must follow.
User-agent: *
Disallow: /private/
Disallow: /urls/private/
"""


@dataclass
class Request:
    path: str  # below the source prefix, e.g. "/public/collection/v1/objects/42"
    query: dict[str, list[str]]
    root: str  # the server's root URL, "http://127.0.0.1:PORT"
    source_root: str  # the source's API root, "http://127.0.0.1:PORT/met"
    headers: dict[str, str] = field(default_factory=dict)
    hostile: bool = False  # hostile mode: emulators append demo/hostile.py's records

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def listing_key(self, source: str, *paging: str) -> tuple:
        """This query without its ``paging`` arguments: the same key for every page of one
        listing (``DemoCollection.listing``). The source's root is part of it, since records
        name their URLs and two servers may serve one collection."""
        return (source, self.source_root, self.path,
                tuple(sorted((k, tuple(v)) for k, v in self.query.items() if k not in paging)))


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None  # Content-Length of a streamed (iterable) body
    chunked: bool = False  # send an iterable body with Transfer-Encoding: chunked


def json_response(obj, status: int = 200) -> Response:
    return Response(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                    "application/json; charset=utf-8")


def error_response(status: int, message: str, as_json: bool = True) -> Response:
    if as_json:
        return json_response({"status": status, "error": message}, status)
    return Response(status, message.encode(), "text/plain; charset=utf-8")


Handler = Callable[[DemoCollection, Request], Response]


def _handlers() -> dict[str, Handler]:
    from demo.apis import aic, cleveland, commons, europeana, met, nga, smithsonian, urls, wikidata
    return {"met": met.handle, "aic": aic.handle, "cleveland": cleveland.handle,
            "nga": nga.handle, "commons": commons.handle, "urls": urls.handle,
            "wikidata": wikidata.handle, "smithsonian": smithsonian.handle,
            "europeana": europeana.handle}


class DemoServer:
    """The demo collection served on loopback; start/stop or use as a context manager."""

    def __init__(self, collection: DemoCollection | str | Path, host: str = "127.0.0.1",
                 port: int = 0, faults: FaultConfig | str | dict | None = None,
                 hostile: bool = False):
        self.collection = collection if isinstance(collection, DemoCollection) \
            else DemoCollection(collection)
        self.faults = FaultInjector(faults if isinstance(faults, FaultConfig)
                                    else FaultConfig.parse(faults))
        self.handlers = _handlers()
        self.hostile = bool(hostile)
        self.status_counts: Counter[int] = Counter()
        self.served: Counter[str] = Counter()  # successful (2xx) answers per path, for tests
        self.hostile_hits: Counter[str] = Counter()  # hostile image paths asked, per path
        self._httpd = _HTTPServer((host, port), _RequestHandler)
        self._httpd.demo = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_roots(self) -> dict[str, str]:
        return {source: f"{self.url}/{source}" for source in self.handlers}

    def start(self) -> DemoServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-server",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def respond(self, method: str, raw_path: str, headers: dict[str, str]) -> Response:
        parts = urlsplit(raw_path)
        path = parts.path
        if path == "/robots.txt":
            return Response(200, ROBOTS_TXT, "text/plain; charset=utf-8")
        if self.hostile:  # before routing: a hostile URL may have lost its prefix to "../"
            from demo import hostile
            found = hostile.serve(path, self.hostile_hits)
            if found is not None:
                return found
        prefix, _, rest = path.lstrip("/").partition("/")
        handler = self.handlers.get(prefix)
        if handler is None:
            return error_response(404, f"no such source: /{prefix}", as_json=False)
        request = Request(path="/" + rest, query=parse_qs(parts.query, keep_blank_values=True),
                          root=self.url, source_root=f"{self.url}/{prefix}", headers=headers,
                          hostile=self.hostile)
        try:
            return handler(self.collection, request)
        except Exception as exc:  # a bug in an emulator must show up as a 500, not a hang
            return error_response(500, f"demo server error: {type(exc).__name__}: {exc}")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    demo: DemoServer

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that hung up (a size limit, a timeout): no traceback
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs and Scrapy use
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls
    server: _HTTPServer

    def log_message(self, format, *args):  # noqa: A002 - quiet; counts live in status_counts
        pass

    def do_HEAD(self):
        self._serve(send_body=False)

    def do_GET(self):
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        demo = self.server.demo
        fault = None if self.path == "/robots.txt" else demo.faults.mode_for(self.path)
        if fault == "reset":
            # SO_LINGER with a zero timeout turns close() into a TCP RST.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "slow":
            time.sleep(demo.faults.config.slow_s)
        if fault == "error_500":
            response = error_response(500, "Internal Server Error (injected)", as_json=False)
        elif fault == "retry_after":
            status = 429 if zlib.crc32(self.path.encode()) % 2 else 503
            response = error_response(status, "Too many requests (injected)", as_json=False)
            response.headers["Retry-After"] = str(demo.faults.config.retry_after_s)
        else:
            response = demo.respond(self.command, self.path, dict(self.headers.items()))
        if response.status == 200 and isinstance(response.body, bytes):
            etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
            response.headers.setdefault("ETag", etag)
            if self.headers.get("If-None-Match") == etag and fault is None:
                response = Response(304, b"", response.content_type, {"ETag": etag})
        demo.status_counts[response.status] += 1
        if 200 <= response.status < 300 and fault is None:
            demo.served[self.path.split("?", 1)[0]] += 1
        body = response.body
        length = len(body) if isinstance(body, bytes) else response.length
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        chunked = response.chunked and not isinstance(body, bytes)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in response.headers.items():
            self.send_header(key, value)
        if fault == "truncate" and isinstance(body, bytes):
            self.send_header("Connection", "close")
        self.end_headers()
        if not send_body:
            return
        try:
            if fault == "truncate" and isinstance(body, bytes):
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if isinstance(body, bytes):
                self.wfile.write(body)
            elif chunked:  # flushed chunk by chunk: a slow body really trickles
                for chunk in body:
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            else:
                for chunk in body:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a size limit): fine

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the socket was reset on purpose
