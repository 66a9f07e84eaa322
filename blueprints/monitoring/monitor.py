"""The monitoring page (STEP5 遠隔モニタリング): the status line with current power and
today's energy, refreshed by partial requests, and day / month / year charts with their
figures as a table and as CSV. For the owner and for a linked dealer's employees; anyone
else gets 404. Views parse input, call the services of energy.py, render.

The chart section (its tabs, navigation, SVG, totals, table and CSV link) depends only on
what `_chart_key` names, never on the viewer or the session (no CSRF token in it): it is
rendered once per key and process and kept (energy.cache), which is what makes a
finished day, month or year cheap to show again."""
from __future__ import annotations

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required
from markupsafe import Markup

from app import htmx
from blueprints.core import registry
from blueprints.core.transactions import read_only
from blueprints.monitoring import bp, charts, energy


def _viewer(gateway_id: str, with_status: bool = False,
            period: energy.Period | None = None) -> energy.Viewer:
    viewer = energy.viewable_gateway(current_user, gateway_id, with_status=with_status,
                                     period=period)
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
    series = energy.series(gateway, period, viewer.period_rows)
    view = charts.view(series)
    current = energy.current_period(period.kind)
    return dict(viewer=viewer, gateway=gateway, series=series, chart=view.chart, view=view,
                period=period, is_current=period == current,
                previous=period.shifted(-1) if energy.has_history_before(gateway, period,
                                                                           series)
                else None,
                following=period.shifted(1) if period != current else None,
                current=current,
                tabs=[(kind, energy.switch_period(period, kind)) for kind in energy.PERIODS])


def _chart_key(context: dict) -> tuple | None:
    """Everything the chart section's HTML is made of, or None when the series cannot
    be keyed."""
    series = context["series"]
    if series.key is None:
        return None
    return (str(get_locale()), request.script_root, context["gateway"].gateway_id,
            series.key, series.totals, series.pruned, context["period"],
            context["is_current"], context["previous"], context["following"],
            context["current"], tuple(context["tabs"]))


def _chart_html(context: dict) -> Markup:
    key = _chart_key(context)
    cache = energy.cache("chart_html")
    if key is not None and (cached := cache.get(key)) is not None:
        return cached
    html = Markup(render_template("monitoring/_monitor_chart.html", **context))
    return html if key is None else cache.put(key, html)


def _now_html(gateway, status: energy.Status) -> Markup:
    """The status line and current values (monitoring/_monitor_now.html), kept per
    process for what it shows: the state, the newest reading's values, today's totals."""
    reading, config = status.reading, current_app.config
    refresh = config["MONITOR_REFRESH_SECONDS"]
    key = (str(get_locale()), request.script_root, gateway.gateway_id, status.state,
           status.at, status.today, tuple(status.errors), refresh,
           config["GATEWAY_SILENCE_MINUTES"],
           None if reading is None else (reading.pv_w, reading.load_w, reading.sell_w,
                                         reading.buy_w, reading.battery_state, reading.soc))
    cache = energy.cache("now_html")
    if (cached := cache.get(key)) is not None:
        return cached
    return cache.put(key, Markup(render_template(
        "monitoring/_monitor_now.html", gateway=gateway, status=status, refresh=refresh)))


@bp.context_processor
def _labels():
    return {"battery_labels": energy.BATTERY_LABELS}


@bp.get("/gateways/<gateway_id>/monitor")
@login_required
@read_only
def monitor(gateway_id: str):
    """遠隔モニタリング: the status line and the chart of `period` (day, month, year) at
    `date`. An htmx request aimed at the chart gets the chart alone, one aimed at its
    table of figures (fetched when its box is first opened) the table alone."""
    partial, figures, period = _partial("chart"), _partial("chart-figures"), _period()
    # The gateway, the page's status line and the period's rows in one statement.
    viewer = _viewer(gateway_id, with_status=not (partial or figures), period=period)
    context = _chart_context(viewer, period)
    if figures:
        return render_template("monitoring/_monitor_figures.html", **context)
    chart_html = _chart_html(context)
    if partial:
        return chart_html
    return render_template("monitoring/monitor.html",
                           now_html=_now_html(viewer.gateway, viewer.status),
                           panels=registry.monitoring_panels_for(viewer.gateway, current_user),
                           chart_html=chart_html, **context)


@bp.get("/gateways/<gateway_id>/monitor/now")
@login_required
@read_only
def monitor_now(gateway_id: str):
    """The status line and current values, for the page's periodic partial request
    (without JavaScript the page itself is reloaded instead)."""
    viewer = _viewer(gateway_id, with_status=bool(htmx))
    if not htmx:
        return redirect(url_for("monitoring.monitor", gateway_id=gateway_id), code=303)
    return _now_html(viewer.gateway, viewer.status)


@bp.get("/gateways/<gateway_id>/monitor.csv")
@login_required
@read_only
def monitor_csv(gateway_id: str):
    """The chart's figures as a CSV download."""
    period = _period()
    viewer = _viewer(gateway_id, period=period)
    series = energy.series(viewer.gateway, period, viewer.period_rows)
    response = make_response(energy.series_csv(viewer.gateway, series))
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{energy.csv_filename(viewer.gateway, series)}"')
    return response
