"""``GET /ops`` (the on-call dashboard), its job and message actions and ``GET /metrics``,
behind the ops token (``commands.ops_auth``: cookie or Bearer, CSRF on every form).
"""

from __future__ import annotations

import asyncio
import functools

from aiohttp import web

from bots.webhook import secrets_match, store_call
from commands.delivery import ENGINE_KEY
from commands.health import Health, to_json
from commands.health_check import check
from commands.ops_auth import AUTH_KEY, CONFIRM, COOKIE, DISABLED, OpsAuth, checked_form, engine_of
from commands.ops_data import OpsView, collect, error_filter
from commands.ops_jobs import confirm_page
from commands.ops_page import STYLE, login_page, render
from commands.web import SETTINGS_KEY, VERBOSE_HEALTH_KEY
from config import Settings
from store.errors import NotFound, StoreUnavailable
from store.jobs import Progress, progress
from workers.engine import Engine

COOKIE_MAX_AGE_S = 12 * 3600
HEALTH_TIMEOUT_S = 20.0  # the store probe waits 2 s for a lock, Redis 2 s; never hang the page


def _notice(request: web.Request) -> str | None:
    q = request.query
    if q.get("cancelled", "").isdigit():
        return f"Job {q['cancelled']} cancelled."
    if q.get("requeued", "").isdigit():
        return f"Dead letter requeued: outbox message {q['requeued']} is queued again."
    if q.get("retried", "").isdigit():
        return f"Message {q['retried']} is queued again, due now."
    if q.get("not_failed", "").isdigit():
        return f"Message {q['not_failed']} is no longer failed (retried or sent meanwhile)."
    if q.get("message_cancelled", "").isdigit():
        return f"Message {q['message_cancelled']} cancelled: it will not be sent."
    if q.get("not_queued", "").isdigit():
        return f"Message {q['not_queued']} is no longer queued (sent, sending or cancelled)."
    if "deleted" in q:
        return f"Dead letter deleted; message {q['deleted'] or '?'} will not be sent."
    if "gone" in q:
        return "That dead letter was already requeued or expired."
    return None


async def ops_page(request: web.Request) -> web.Response:
    auth = request.app[AUTH_KEY]
    if auth.token is None:
        return web.Response(status=403, text=DISABLED)
    given = request.query.get("token")
    if given is not None:
        if not secrets_match(given, auth.token):
            html = login_page("Wrong ops token.")
            return web.Response(status=401, text=html, content_type="text/html")
        response = web.HTTPSeeOther("/ops")
        response.set_cookie(
            COOKIE,
            auth.session,
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        raise response
    if not auth.authorized(request):
        html = login_page("Enter the ops token (ops_token in config.yaml).")
        return web.Response(status=401, text=html, content_type="text/html")
    settings = request.app[SETTINGS_KEY]
    try:
        wanted = error_filter(request.query, [b.name for b in settings.bots])
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"ops: {exc}") from None
    health = await _health(request)
    view: OpsView | None = None
    if health.service.store_ok:
        try:
            view = await store_call(collect, settings, engine_of(request), wanted)
        except StoreUnavailable as exc:
            health.service.problems.append(f"store unreachable while reading the page: {exc}")
    live = request.query.get("live") == "1"
    html = render(view, health, settings.zone, auth.csrf, _notice(request), fragment=live)
    return web.Response(
        text=html,
        content_type="text/html",
        status=200 if view is not None else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _health(request: web.Request) -> Health:
    """Health now, asked off the loop; bounded by ``HEALTH_TIMEOUT_S``."""
    check_health = functools.partial(check, request.app[SETTINGS_KEY], engine_of(request))
    try:
        return await asyncio.wait_for(asyncio.to_thread(check_health), HEALTH_TIMEOUT_S)
    except TimeoutError:
        raise web.HTTPServiceUnavailable(
            text=f"ops: the health check took over {HEALTH_TIMEOUT_S:g} s (store or broker hang)"
        ) from None


async def verbose_health(request: web.Request) -> web.StreamResponse:
    """``/healthz?verbose=1``: ``commands.health.to_json``; 503 when the service cannot
    deliver. Needs the ops token (Bearer or the ops cookie): it names hosts and errors."""
    request.app[AUTH_KEY].guard(request)
    health = await _health(request)
    return web.json_response(to_json(health), status=200 if health.deliverable else 503)


async def _job_progress(request: web.Request) -> Progress:
    try:
        return await store_call(progress, int(request.match_info["job_id"]))
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text=f"ops: no job {request.match_info['job_id']!r}") from None


async def confirm_cancel(request: web.Request) -> web.Response:
    """GET ``/ops/jobs/N/cancel``: the job's figures and the form that cancels it."""
    auth = request.app[AUTH_KEY]
    auth.guard(request)
    p = await _job_progress(request)
    html = confirm_page(p, auth.csrf, request.app[SETTINGS_KEY].zone, STYLE)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def cancel_job(request: web.Request) -> web.Response:
    """POST ``/ops/jobs/N/cancel``: cancels only with ``confirm=yes`` (the confirm page's
    button); without it, sends the browser to that page."""
    await checked_form(request)
    from store.jobs import cancel

    p = await _job_progress(request)
    if (await request.post()).get("confirm") != CONFIRM:
        raise web.HTTPSeeOther(f"/ops/jobs/{p.id}/cancel")
    await store_call(cancel, p.id)
    raise web.HTTPSeeOther(f"/ops?cancelled={p.id}")


async def requeue_dead(request: web.Request) -> web.Response:
    await checked_form(request)
    from workers.queues import requeue

    outbox_id = await store_call(requeue, engine_of(request), request.match_info["key"])
    if outbox_id is None:
        raise web.HTTPSeeOther("/ops?gone=1")
    raise web.HTTPSeeOther(f"/ops?requeued={outbox_id}")


async def retry_message(request: web.Request) -> web.Response:
    await checked_form(request)
    from workers.queues import retry_now

    try:
        message_id = int(request.match_info["message_id"])
    except ValueError:
        raise web.HTTPNotFound(text="ops: a message id is a number") from None
    if not await store_call(retry_now, engine_of(request), message_id):
        raise web.HTTPSeeOther(f"/ops?not_failed={message_id}")
    raise web.HTTPSeeOther(f"/ops?retried={message_id}")


def install_ops(app: web.Application, settings: Settings) -> None:
    """Mount ``/ops`` and ``/metrics``; needs ``install_delivery`` installed before it."""
    from commands.metrics import REGISTRY_KEY, build_registry, metrics
    from commands.ops_actions import install_actions
    from commands.ops_client import install_client_page
    from commands.ops_job_page import job_page

    if ENGINE_KEY not in app:
        raise RuntimeError("install_ops needs install_delivery first (the engine it shows)")
    token = settings.ops_token.get_secret_value() if settings.ops_token else None
    app[AUTH_KEY] = OpsAuth(token)
    engine = app[ENGINE_KEY]
    assert isinstance(engine, Engine)
    app[REGISTRY_KEY] = build_registry(settings, engine)
    app.router.add_get("/ops", ops_page)
    app.router.add_get(r"/ops/jobs/{job_id}/cancel", confirm_cancel)
    app.router.add_post(r"/ops/jobs/{job_id}/cancel", cancel_job)
    app.router.add_post(r"/ops/dead/{key}/requeue", requeue_dead)
    app.router.add_post(r"/ops/messages/{message_id}/retry", retry_message)
    install_actions(app)
    app.router.add_get(r"/ops/jobs/{job_id}", job_page)
    install_client_page(app)
    app.router.add_get("/metrics", metrics)
    app[VERBOSE_HEALTH_KEY] = verbose_health
