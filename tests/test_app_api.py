"""The app's API over real HTTP on both databases: the session exchange, /me, and every way in
that must be refused with 401 (forged, stale, unknown, removed) or 403 (a missing capability);
the static files' versioning, caching and gzip."""

from __future__ import annotations

import functools
import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import peewee
import pytest

from commands.app.api import ApiModel, ApiRegistry, load_endpoints
from commands.app.assets import Assets
from commands.app.context import ApiContext
from commands.app.serve import mount_app
from store.models import Operator
from store.permissions import set_override
from tests.admin_support import ADMIN_ID, OPERATOR_ID, make_staff
from tests.app_support import BOT_TOKEN, app_settings, serving_app, signed_init_data

API = "/app/api/v1"


class Probe(ApiModel):
    done: bool
    """Always true."""


def _registry_with_probe() -> ApiRegistry:
    """The real endpoints plus one that needs `export` (operators lack it by default)."""
    registry = ApiRegistry()
    registry.endpoints = dict(load_endpoints().endpoints)

    @registry.endpoint("POST", "/probe", Probe, "Needs export.", capability="export")
    def probe(ctx: ApiContext, _: object) -> Probe:
        return Probe(done=True)

    return registry


@pytest.fixture
async def service(db: peewee.Database) -> AsyncIterator[str]:
    make_staff()
    settings = app_settings()
    mount = functools.partial(mount_app, registry=_registry_with_probe())
    async with serving_app(settings, installers=[mount]) as url:
        yield url


async def _session(http: aiohttp.ClientSession, url: str, init_data: str) -> tuple[int, dict]:
    async with http.post(f"{url}{API}/session", json={"init_data": init_data}) as r:
        return r.status, await r.json()


async def _get(
    http: aiohttp.ClientSession, url: str, path: str, token: str | None
) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(f"{url}{API}{path}", headers=headers) as r:
        return r.status, await r.json()


def _one_line_error(body: dict) -> str:
    assert body["ok"] is False and set(body) == {"ok", "error"}
    assert "\n" not in body["error"] and body["error"]
    return str(body["error"])


async def test_session_then_me(service: str) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await _session(http, service, signed_init_data(BOT_TOKEN, OPERATOR_ID))
        assert status == 200, body
        assert 0 < body["expires_in_s"] <= 900
        status, me = await _get(http, service, "/me", body["token"])
    assert status == 200
    assert (me["telegram_id"], me["name"], me["role"]) == (OPERATOR_ID, "Boris", "operator")
    assert me["capabilities"] == ["bulk", "reply", "view_others"]
    assert me["timezone"] == "UTC" and me["now"].endswith("+00:00")
    assert me["unread"] == 0


async def test_forged_stale_unknown_and_missing_are_401(service: str) -> None:
    stale = int(time.time()) - 3601
    cases = {
        "forged": signed_init_data("42:another-bot", ADMIN_ID),
        "stale": signed_init_data(BOT_TOKEN, ADMIN_ID, auth_date=stale),
        "unknown": signed_init_data(BOT_TOKEN, 987654),
        "garbage": "user=%7B%22id%22%3A111%7D&hash=abc",
    }
    async with aiohttp.ClientSession() as http:
        for name, init_data in cases.items():
            status, body = await _session(http, service, init_data)
            assert status == 401, name
            _one_line_error(body)
        async with http.post(f"{service}{API}/session", json={}) as r:
            assert r.status == 401
        async with http.post(f"{service}{API}/session", data=b"[1]") as r:
            assert r.status == 400  # not even a JSON object
        for token in (None, "v1.1.99999999999.abc", "nonsense"):
            status, body = await _get(http, service, "/me", token)
            assert status == 401, token
            _one_line_error(body)


async def test_a_removed_operator_loses_access_at_the_next_call(service: str) -> None:
    async with aiohttp.ClientSession() as http:
        _, body = await _session(http, service, signed_init_data(BOT_TOKEN, OPERATOR_ID))
        assert (await _get(http, service, "/me", body["token"]))[0] == 200
        Operator.update(active=False).where(Operator.telegram_id == OPERATOR_ID).execute()
        status, error = await _get(http, service, "/me", body["token"])
        assert status == 401 and "no longer" in _one_line_error(error)
        status, _ = await _session(http, service, signed_init_data(BOT_TOKEN, OPERATOR_ID))
        assert status == 401


async def test_capabilities_are_checked_at_every_call(service: str) -> None:
    async with aiohttp.ClientSession() as http:
        _, admin = await _session(http, service, signed_init_data(BOT_TOKEN, ADMIN_ID))
        _, boris = await _session(http, service, signed_init_data(BOT_TOKEN, OPERATOR_ID))
        auth = {"Authorization": f"Bearer {boris['token']}"}
        async with http.post(f"{service}{API}/probe", headers=auth, json={}) as r:
            assert r.status == 403
            assert "'export' permission" in _one_line_error(await r.json())
        settings = app_settings()
        operator = Operator.get(Operator.telegram_id == OPERATOR_ID)
        set_override(operator, "export", True, settings.permissions)
        async with http.post(f"{service}{API}/probe", headers=auth, json={}) as r:
            assert (r.status, await r.json()) == (200, {"done": True})
        # Demoted again: the very next call is refused, same token.
        set_override(operator, "export", False, settings.permissions)
        async with http.post(f"{service}{API}/probe", headers=auth, json={}) as r:
            assert r.status == 403
        admin_auth = {"Authorization": f"Bearer {admin['token']}"}
        async with http.post(f"{service}{API}/probe", headers=admin_auth, json={"x": 1}) as r:
            assert r.status == 400  # known, allowed, but an unknown field
            assert "x" in _one_line_error(await r.json())
        async with http.post(f"{service}{API}/probe", json={}) as r:
            assert r.status == 401  # no session: 401 before anything about the request
        huge = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
        async with http.post(f"{service}{API}/probe", headers=admin_auth, data=huge) as r:
            assert r.status == 413  # refused by its Content-Length
            _one_line_error(await r.json())

        async def chunked() -> AsyncIterator[bytes]:
            for start in range(0, len(huge), 65536):
                yield huge[start : start + 65536]

        async with http.post(f"{service}{API}/probe", headers=admin_auth, data=chunked()) as r:
            assert r.status == 413  # no length: aiohttp's limit, in the API's shape
            _one_line_error(await r.json())
        async with http.get(f"{service}{API}/nothing-here", headers=admin_auth) as r:
            assert r.status == 404
            _one_line_error(await r.json())


async def test_static_files_are_versioned_cached_and_gzipped(service: str) -> None:
    version = Assets.load().version
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(f"{service}/app/", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status == 200
            assert r.headers["Cache-Control"] == "no-cache"
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            page = gzip.decompress(await r.read()).decode()
        assert f"/app/static/{version}/app.js" in page
        assert f"/app/static/{version}/screens/home.js" in page
        assert "{{" not in page
        app_js = f"{service}/app/static/{version}/app.js"
        async with http.get(app_js, headers={"Accept-Encoding": "gzip, br"}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert "immutable" in r.headers["Cache-Control"]
            assert r.headers["Content-Type"].startswith("text/javascript")
            assert b"registerScreen" in gzip.decompress(await r.read())
        async with http.get(app_js, headers={"Accept-Encoding": "identity"}) as r:
            assert "Content-Encoding" not in r.headers
            assert b"registerScreen" in await r.read()
        async with http.get(f"{service}/app/static/000000000000/app.js") as r:
            assert r.status == 404  # an old version's URL never gets new content
        async with http.get(f"{service}/app/static/{version}/vendor/README.md") as r:
            assert r.status == 404


def test_assets_stay_under_200_kb_compressed() -> None:
    assert Assets.load().compressed_size() <= 200 * 1024


def test_the_vendored_script_is_the_recorded_one() -> None:
    import hashlib
    import re

    from commands.app.assets import STATIC_DIR

    readme = (STATIC_DIR / "vendor" / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 of `telegram-web-app.js` \| `([0-9a-f]{64})`", readme)
    assert recorded is not None
    body = (STATIC_DIR / "vendor" / "telegram-web-app.js").read_bytes()
    assert hashlib.sha256(body).hexdigest() == recorded.group(1)


def test_every_static_file_is_packaged() -> None:
    """pyproject's package-data globs take every file the app serves (no build step: a file
    left out would be missing from an installed service)."""
    import glob
    import tomllib

    from commands.app.assets import STATIC_DIR

    project = tomllib.loads((STATIC_DIR.parents[2] / "pyproject.toml").read_text("utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["commands.app"]
    root = STATIC_DIR.parent
    packaged = {
        Path(found)
        for pattern in patterns
        for found in glob.glob(pattern, root_dir=root, recursive=True)
        if (root / found).is_file()
    }
    served = {p.relative_to(root) for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert served and served <= packaged, sorted(map(str, served - packaged))
