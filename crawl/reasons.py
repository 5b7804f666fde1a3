"""Reason codes for items that were not stored: one word each, documented here once.

``rejected`` items reached us but are not usable images; ``failed`` items could not be fetched
(after retries). Both end as rows in the records Parquet with ``reason`` and ``error``.
"""

import re

# Content problems (status "rejected")
NOT_IMAGE = "not_image"  # bytes are no known image format (text, JSON, noise)
HTML_PAGE = "html_page"  # an HTML page where an image was expected (often an error page, 200)
CORRUPT = "corrupt"  # starts like an image but no decoder can read it
TRUNCATED = "truncated"  # a valid header, the data cut off
DECOMPRESSION_BOMB = "decompression_bomb"  # more pixels than crawl.max_pixels
TOO_LARGE = "too_large"  # more bytes than crawl.max_bytes
NO_IMAGE_URL = "no_image_url"  # the record has no image (e.g. the Met for non-PD objects)
UNSAFE_ID = "unsafe_id"  # an id missing, not text or number, too long, path-like, or with controls
BAD_URL = "bad_url"  # the image URL is relative, blank, not http(s), malformed or over-long
# Fetch problems (status "failed")
HTTP_ERROR = "http_error"  # a 4xx/5xx status after all retries
TIMEOUT = "timeout"  # no complete answer within crawl.timeout_s, after retries
CONNECTION = "connection"  # reset, refused, lost or truncated transfer, after retries
OFFSITE = "offsite"  # redirected to a host outside the source's allowed hosts, or a non-http URL
ROBOTS = "robots"  # forbidden by the host's robots.txt
BAD_RECORD = "bad_record"  # a metadata record we could not parse
REDIRECT_LOOP = "redirect_loop"  # more than REDIRECT_MAX_TIMES redirects (e.g. to itself)
DROPPED = "dropped"  # a crawler component discarded the request or item; error says which

# Records met in a listing but deliberately not fetched (status "metadata_only")
OBJECT_TYPE = "object_type"  # not one of the object types this crawl selects
NOT_PUBLIC_DOMAIN = "not_public_domain"  # the source says it is not PD/CC0 (fetch_non_pd off)

REJECTED = {NOT_IMAGE, HTML_PAGE, CORRUPT, TRUNCATED, DECOMPRESSION_BOMB, TOO_LARGE, NO_IMAGE_URL,
            UNSAFE_ID, BAD_URL}
FAILED = {HTTP_ERROR, TIMEOUT, CONNECTION, OFFSITE, ROBOTS, BAD_RECORD, REDIRECT_LOOP, DROPPED}


def describe(exc: BaseException, limit: int = 500) -> str:
    """'Type: message' without memory addresses, so that error columns are reproducible."""
    text = re.sub(r" ?<[^<>]* at 0x[0-9a-fA-F]+>", "", f"{type(exc).__name__}: {exc}")
    return text[:limit]
