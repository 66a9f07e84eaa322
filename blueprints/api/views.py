"""Gateway API v1. A gateway authenticates with its own API key (issued with its slip,
never the owner's password): `Authorization: Bearer <key>` on its own URL.

    POST /api/v1/gateways/<gateway_id>/readings   {"readings": [ {...}, ... ]}
    GET  /api/v1/gateways/<gateway_id>            what the server has (to resume a backfill)

Answers are JSON: 200 when every reading was stored or was a duplicate, 422 when some were
rejected (the others are stored: resending the whole batch is safe), 400 for a body that
is not a batch, 401 for a wrong key, 403 for a gateway that is not registered or was
retired, 413 for a batch over the limit, 429 when a gateway posts too often."""
from __future__ import annotations

from flask import current_app, jsonify, request

from app import csrf, limiter
from blueprints.api import bp
from blueprints.monitoring import telemetry
from models import utcnow


def _gateway_key() -> str:
    return "gateway-api:" + str((request.view_args or {}).get("gateway_id", ""))[:12]


def _limit() -> str:
    return current_app.config["GATEWAY_API_LIMIT"]


def _error(status: int, error: str, message: str, **extra):
    response = jsonify({"error": error, "message": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return response


def _bearer() -> str | None:
    scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def _authenticated(gateway_id: str):
    """(gateway, None) for a gateway that may report, or (None, error response)."""
    gateway = telemetry.authenticate(gateway_id, _bearer())
    if gateway is None:
        return None, _error(401, "unauthorized", "unknown gateway or wrong API key")
    if not telemetry.may_report(gateway):
        if gateway.status == "retired":
            return None, _error(403, "gateway_retired",
                                "this gateway was exchanged or disposed of")
        return None, _error(403, "gateway_not_registered",
                            "this gateway has not been registered by an owner")
    return gateway, None


@bp.post("/gateways/<gateway_id>/readings")
@csrf.exempt
@limiter.limit(_limit, key_func=_gateway_key)
def post_readings(gateway_id: str):
    """Store a batch of 5-minute readings (see telemetry.check_reading for a reading)."""
    gateway, refused = _authenticated(gateway_id)
    if refused:
        return refused
    if not request.is_json:
        return _error(415, "unsupported_media_type", "send application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("readings"), list):
        return _error(400, "malformed_batch",
                      'the body must be a JSON object {"readings": [...]}')
    readings = body["readings"]
    if not readings:
        return _error(400, "empty_batch", "readings is empty")
    if len(readings) > telemetry.MAX_BATCH:
        return _error(413, "too_many_readings",
                      f"at most {telemetry.MAX_BATCH} readings per request")
    result = telemetry.ingest(gateway, readings)
    payload = {"accepted": result.accepted, "duplicates": result.duplicates,
               "rejected": result.rejected}
    if result.rejected:
        return _error(422, "invalid_readings",
                      f"{len(result.rejected)} reading(s) rejected; the others were stored",
                      **payload)
    return jsonify(payload)


@bp.get("/gateways/<gateway_id>")
@limiter.limit(_limit, key_func=_gateway_key)
def gateway_state(gateway_id: str):
    """The newest stored reading's time, so that a gateway knows where to resume."""
    gateway, refused = _authenticated(gateway_id)
    if refused:
        return refused
    last = gateway.last_reading_at
    return jsonify({"gateway_id": gateway.gateway_id, "status": gateway.status,
                    "last_reading_at": last.isoformat() if last else None,
                    "server_time": utcnow().isoformat(),
                    "max_batch": telemetry.MAX_BATCH})
