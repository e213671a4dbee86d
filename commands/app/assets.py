"""The app's static files, read once at start: versioned by content, gzipped once, in memory.

Everything under ``commands/app/static/`` is served at ``/app/static/<version>/<path>``, where
``<version>`` is a hash of all the files together: a changed file changes every URL, so the
browser may keep each response for a year (``immutable``) and still never runs a stale mix.
One version for the whole folder lets ES modules import each other with relative paths.
``index.html`` is the one file served elsewhere (``/app/``, never cached), with ``{{version}}``
and ``{{screens}}`` (a module script per ``screens/*.js``) filled in.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
SCREENS_DIR = "screens"
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".txt")
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    """The gzip encoding when it is smaller, else None."""
    content_type: str


@dataclass(frozen=True, slots=True)
class Assets:
    version: str
    files: dict[str, Asset]
    """By path relative to the static folder, with ``/``."""
    index: Asset

    @classmethod
    def load(cls, directory: Path = STATIC_DIR) -> Assets:
        # Notes for people (vendor/README.md) stay in the repository, not on the wire.
        paths = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix != ".md")
        digest = hashlib.sha256()
        raw: dict[str, bytes] = {}
        for path in paths:
            name = path.relative_to(directory).as_posix()
            raw[name] = path.read_bytes()
            digest.update(name.encode() + b"\0" + raw[name] + b"\0")
        version = digest.hexdigest()[:12]
        files = {name: _asset(name, body) for name, body in raw.items() if name != INDEX}
        screens = sorted(n for n in files if n.startswith(SCREENS_DIR + "/") and n.endswith(".js"))
        tags = "\n".join(
            f'<script type="module" src="/app/static/{version}/{name}"></script>'
            for name in screens
        )
        template = raw[INDEX].decode()
        page = template.replace("{{version}}", version).replace("{{screens}}", tags)
        return cls(version, files, _asset(INDEX, page.encode()))

    def compressed_size(self) -> int:
        """Bytes a browser accepting gzip downloads for every file once."""
        every = [self.index, *self.files.values()]
        return sum(len(a.gzipped if a.gzipped is not None else a.body) for a in every)


def _asset(name: str, body: bytes) -> Asset:
    suffix = Path(name).suffix
    content_type = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or suffix in (".svg", ".json"):
        content_type += "; charset=utf-8"
    gzipped = None
    if suffix in COMPRESSIBLE:
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        gzipped = packed if len(packed) < len(body) else None
    return Asset(body, gzipped, content_type)
