"""Gateway API v1. A gateway authenticates with its own API key (issued with its slip,
never the owner's password): `Authorization: Bearer <key>` on its own URL.

    POST /api/v1/gateways/<gateway_id>/readings   {"readings": [ {...}, ... ]}
    GET  /api/v1/gateways/<gateway_id>            what the server has (to resume a backfill)

Answers are JSON: 200 when every reading was stored or was a duplicate, 422 when some were
rejected (the others are stored: resending the whole batch is safe), 400 for a body that
is not a batch, 401 for a wrong key, 403 for a gateway that is not registered or was
retired, 413 for a batch over the limit, 429 when a gateway posts too often (only
authenticated requests count against a gateway; failed keys count per address)."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_limiter.util import get_remote_address

from app import csrf, limiter
from blueprints.api import bp
from blueprints.gateways import credentials
from blueprints.monitoring import telemetry
from models import utcnow


# A full batch (MAX_BATCH readings of 6 units, pretty-printed) is about 1.9 MB.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Failed authentications per client address: enough for a misconfigured device to be seen
# in the logs, too few to matter for guessing a 256-bit key.
FAILED_AUTH_LIMIT = "20 per minute; 200 per hour"


def _gateway_key() -> str:
    return "gateway-api:" + str((request.view_args or {}).get("gateway_id", ""))[:12]


def _limit() -> str:
    return current_app.config["GATEWAY_API_LIMIT"]


def _authenticated_only(response) -> bool:
    """Only requests that passed authentication use up a gateway's allowance: anyone who
    knows a gateway's ID (it is on the slip) must not be able to silence it."""
    return response.status_code != 401


def _failed_authentication(response) -> bool:
    return response.status_code == 401


def limited(view):
    """The gateway API's rate limits, per gateway and, for failed keys, per address."""
    view = limiter.limit(FAILED_AUTH_LIMIT, key_func=get_remote_address,
                         deduct_when=_failed_authentication)(view)
    return limiter.limit(_limit, key_func=_gateway_key, deduct_when=_authenticated_only)(view)


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
    gateway = credentials.authenticate(gateway_id, _bearer())
    if gateway is None:
        return None, _error(401, "unauthorized", "unknown gateway or wrong API key")
    if not credentials.may_report(gateway):
        if gateway.status == "retired":
            return None, _error(403, "gateway_retired",
                                "this gateway was exchanged or disposed of")
        return None, _error(403, "gateway_not_registered",
                            "this gateway has not been registered by an owner")
    return gateway, None


@bp.post("/gateways/<gateway_id>/readings")
@csrf.exempt
@limited
def post_readings(gateway_id: str):
    """Store a batch of 5-minute readings (see telemetry.check_reading for a reading).
    The body is read before the database is touched (a wrong key still gets 401 first)."""
    request.max_content_length = MAX_BODY_BYTES
    readings, problem = _batch()
    gateway, refused = _authenticated(gateway_id)
    if refused:
        return refused
    if problem:
        return problem
    result = telemetry.ingest(gateway, readings)
    if result.refused:
        return _error(403, "gateway_retired", "this gateway was exchanged or disposed of")
    payload = {"accepted": result.accepted, "duplicates": result.duplicates,
               "rejected": result.rejected}
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
@limited
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
