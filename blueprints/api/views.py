"""Gateway API v1. A gateway authenticates with its own API key (issued with its slip,
never the owner's password): `Authorization: Bearer <key>` on its own URL.

    POST /api/v1/gateways/<gateway_id>/readings   {"readings": [ {...}, ... ]}
    GET  /api/v1/gateways/<gateway_id>            what the server has (to resume a backfill)
    GET  /api/v1/gateways/<gateway_id>/settings   the newest remote settings
    POST /api/v1/gateways/<gateway_id>/settings/ack   {"version": n}: applied

Answers are JSON: 200 when every reading was stored or was a duplicate, 422 when some were
rejected (the others are stored: resending the whole batch is safe), 400 for a body that
is not a batch, 401 for a wrong key, 403 for a gateway that is not registered or was
retired, 413 for a batch over the limit, 429 (with Retry-After) when over a rate limit.

The order of the checks is what keeps a gateway reachable while others attack it (its ID
is printed on the slip, so anyone may know it):
1. The key in the header is checked first; the body is not read yet, so a request that
   announces a huge body without the right key is answered 401 and its body never read.
2. A failed key counts against the client address's allowance of failures
   (GATEWAY_API_FAILED_AUTH_LIMIT); past it, failures are answered 429. Nothing else
   counts there: a right key is never refused because of failures from its address.
3. Only an authenticated request counts against its gateway's allowance
   (GATEWAY_API_LIMIT), whatever its answer (a 400 or 413 of its own included).
4. Only then is the body read, up to MAX_BODY_BYTES."""
from __future__ import annotations

import math
import time
from functools import wraps

from flask import current_app, jsonify, request
from flask_limiter.util import get_remote_address
from limits import parse_many

from app import csrf, limiter
from blueprints.api import bp
from blueprints.gateways import credentials
from blueprints.monitoring import settings, telemetry
from models import utcnow


# A full batch (MAX_BATCH readings of 6 units, pretty-printed) is about 1.9 MB.
MAX_BODY_BYTES = 4 * 1024 * 1024
LIMIT_NAMESPACE = "gateway-api"


def _over_limit(setting: str, key: str) -> int | None:
    """Count this request against the limits in config `setting` (e.g. "60 per minute;
    600 per hour") under `key`. None while within all of them; otherwise the seconds
    until the longest breached window ends (for Retry-After)."""
    if not limiter.enabled or not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    strategy = limiter.limiter
    waits = []
    for item in parse_many(current_app.config[setting]):
        if not strategy.hit(item, LIMIT_NAMESPACE, key):
            reset = strategy.get_window_stats(item, LIMIT_NAMESPACE, key).reset_time
            waits.append(max(1, math.ceil(reset - time.time())))
    return max(waits) if waits else None


def _error(status: int, error: str, message: str, **extra):
    response = jsonify({"error": error, "message": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return response


def _too_many(wait: int):
    response = _error(429, "too_many_requests", "too many requests; retry later")
    response.headers["Retry-After"] = str(wait)
    return response


def _bearer() -> str | None:
    scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def gateway_request(view=None, *, statement=None):
    """Authenticate the gateway of the URL and apply the rate limits, in the order the
    module docstring gives, before `view(gateway)` runs (and reads the body, if any).
    With `statement` (a function answering credentials.BY_GATEWAY_ID with more columns),
    the view gets the authenticated row too: `view(gateway, row)`."""
    if view is None:
        return lambda view: gateway_request(view, statement=statement)

    @wraps(view)
    def authenticated(gateway_id: str):
        row = credentials.authenticate_row(
            gateway_id, _bearer(),
            statement() if statement is not None else credentials.BY_GATEWAY_ID)
        if row is None:
            wait = _over_limit("GATEWAY_API_FAILED_AUTH_LIMIT",
                               "failed-auth:" + (get_remote_address() or ""))
            if wait:
                return _too_many(wait)
            return _error(401, "unauthorized", "unknown gateway or wrong API key")
        gateway = row[0]
        wait = _over_limit("GATEWAY_API_LIMIT", "gateway:" + gateway.gateway_id)
        if wait:
            return _too_many(wait)
        if not credentials.may_report(gateway):
            if gateway.status == "retired":
                return _error(403, "gateway_retired",
                              "this gateway was exchanged or disposed of")
            return _error(403, "gateway_not_registered",
                          "this gateway has not been registered by an owner")
        return view(gateway, row) if statement is not None else view(gateway)

    return authenticated


@bp.post("/gateways/<gateway_id>/readings")
@csrf.exempt
@gateway_request(statement=telemetry.report_statement)
def post_readings(gateway, row):
    """Store a batch of 5-minute readings (see telemetry.check_reading for a reading).
    The body is read only now, after the key was checked. The gateway's units and its
    settings announcement were read with the gateway (one statement)."""
    request.max_content_length = MAX_BODY_BYTES
    readings, problem = _batch()
    if problem:
        return problem
    context = telemetry.ReportContext.of(row)
    result = telemetry.ingest(gateway, readings, context=context)
    if result.refused:
        return _error(403, "gateway_retired", "this gateway was exchanged or disposed of")
    payload = {"accepted": result.accepted, "duplicates": result.duplicates,
               "rejected": result.rejected}
    # >>> remote: announce settings the gateway has not applied yet
    if context.settings_pending:
        payload.update(settings_version=context.settings_version, settings_pending=True)
    # <<< remote
    if result.rejected:
        return _error(422, "invalid_readings",
                      f"{len(result.rejected)} reading(s) rejected; the others were stored",
                      **payload)
    return jsonify(payload)


def _batch():
    """(readings, None) from a JSON body {"readings": [...]}, or (None, error response)."""
    if not request.is_json:
        return None, _error(415, "unsupported_media_type", "send application/json")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # JSON nested too deep to parse: not a batch either
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("readings"), list):
        return None, _error(400, "malformed_batch",
                            'the body must be a JSON object {"readings": [...]}')
    readings = body["readings"]
    if not readings:
        return None, _error(400, "empty_batch", "readings is empty")
    if len(readings) > telemetry.MAX_BATCH:
        return None, _error(413, "too_many_readings",
                            f"at most {telemetry.MAX_BATCH} readings per request")
    return readings, None


@bp.get("/gateways/<gateway_id>")
@gateway_request
def gateway_state(gateway):
    """The newest stored reading's time, so that a gateway knows where to resume."""
    last = gateway.last_reading_at
    return jsonify({"gateway_id": gateway.gateway_id, "status": gateway.status,
                    "last_reading_at": last.isoformat() if last else None,
                    "server_time": utcnow().isoformat(),
                    "max_batch": telemetry.MAX_BATCH})


# >>> remote: remote settings (遠隔設定), read and acknowledged by the gateway
MAX_ACK_BYTES = 1024


def _settings_payload(row) -> dict:
    return {"version": row.version, "settings": settings.Values.of(row).api(),
            "acknowledged": row.acked_at is not None}


@bp.get("/gateways/<gateway_id>/settings")
@gateway_request
def gateway_settings(gateway):
    """The newest version of the gateway's settings (the first fetch marks it
    delivered). The gateway applies it and acknowledges its version."""
    return jsonify(_settings_payload(settings.fetch(gateway)))


@bp.post("/gateways/<gateway_id>/settings/ack")
@csrf.exempt
@gateway_request
def gateway_settings_ack(gateway):
    """{"version": n}: the gateway applied version n. 200 with the newest version and
    whether it still waits; 400 for a body that is not that, 404 for a version the
    gateway does not have, 409 for one it never fetched."""
    request.max_content_length = MAX_ACK_BYTES
    if not request.is_json:
        return _error(415, "unsupported_media_type", "send application/json")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 2**31:
        return _error(400, "malformed_ack", 'the body must be a JSON object {"version": <int>}')
    result, current = settings.acknowledge(gateway, version)
    if result is settings.AckResult.UNKNOWN:
        return _error(404, "unknown_version", f"this gateway has no settings version {version}")
    if result is settings.AckResult.NOT_DELIVERED:
        return _error(409, "version_not_fetched",
                      f"settings version {version} was never fetched by this gateway")
    return jsonify({"acknowledged": version, "settings_version": current.version,
                    "settings_pending": settings.is_pending(current)})
# <<< remote
