"""The monitoring page (STEP5 遠隔モニタリング): the status line with current power and
today's energy, refreshed by partial requests, and day / month / year charts with their
figures as a table and as CSV. For the owner and for a linked dealer's employees; anyone
else gets 404. Views parse input, call the services of energy.py, render."""
from __future__ import annotations

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app import htmx
from blueprints.core import registry
from blueprints.monitoring import bp, charts, energy


def _viewer(gateway_id: str) -> energy.Viewer:
    viewer = energy.viewable_gateway(current_user, gateway_id)
    if viewer is None:
        abort(404)
    return viewer


def _period() -> energy.Period:
    period = energy.parse_period(request.args.get("period"), request.args.get("date"))
    if period is None:
        abort(404)
    return period


def _partial(target: str) -> bool:
    return bool(htmx) and not htmx.history_restore_request and htmx.target == target


def _chart_context(viewer: energy.Viewer, period: energy.Period) -> dict:
    gateway = viewer.gateway
    series = energy.series(gateway, period)
    view = charts.view(series)
    current = energy.current_period(period.kind)
    return dict(viewer=viewer, gateway=gateway, series=series, chart=view.chart, view=view,
                period=period, is_current=period == current,
                previous=period.shifted(-1) if energy.has_history_before(gateway, period)
                else None,
                following=period.shifted(1) if period != current else None,
                current=current,
                tabs=[(kind, energy.switch_period(period, kind)) for kind in energy.PERIODS])


@bp.context_processor
def _labels():
    return {"battery_labels": energy.BATTERY_LABELS}


@bp.get("/gateways/<gateway_id>/monitor")
@login_required
def monitor(gateway_id: str):
    """遠隔モニタリング: the status line and the chart of `period` (day, month, year) at
    `date`. An htmx request aimed at the chart gets the chart alone."""
    viewer = _viewer(gateway_id)
    context = _chart_context(viewer, _period())
    if _partial("chart"):
        return render_template("monitoring/_monitor_chart.html", **context)
    return render_template("monitoring/monitor.html", status=energy.status(viewer.gateway),
                           refresh=current_app.config["MONITOR_REFRESH_SECONDS"],
                           panels=registry.monitoring_panels_for(viewer.gateway, current_user),
                           **context)


@bp.get("/gateways/<gateway_id>/monitor/now")
@login_required
def monitor_now(gateway_id: str):
    """The status line and current values, for the page's periodic partial request
    (without JavaScript the page itself is reloaded instead)."""
    viewer = _viewer(gateway_id)
    if not htmx:
        return redirect(url_for("monitoring.monitor", gateway_id=gateway_id), code=303)
    return render_template("monitoring/_monitor_now.html", viewer=viewer,
                           gateway=viewer.gateway, status=energy.status(viewer.gateway),
                           refresh=current_app.config["MONITOR_REFRESH_SECONDS"])


@bp.get("/gateways/<gateway_id>/monitor.csv")
@login_required
def monitor_csv(gateway_id: str):
    """The chart's figures as a CSV download."""
    viewer = _viewer(gateway_id)
    series = energy.series(viewer.gateway, _period())
    response = make_response(energy.series_csv(viewer.gateway, series))
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{energy.csv_filename(viewer.gateway, series)}"')
    return response
