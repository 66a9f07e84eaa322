"""The dealer console's table rows, drawn in Python (the `console_rows` template global).

A Jinja loop over a page's 20 rows resumed its generator about 35 times a row and passed
each value through Jinja's runtime, and the date filter looked the language up for each
row: with a 5,000-gateway dealer (a full page) that was most of what the page cost beyond
a one-row page, and a page must cost the same with any number of links. This draws the
same markup, byte for byte, with one escape per value. The texts stay in the templates:
the labels are the template's, and a status or state label comes from the template's
own macro, called once per value a page shows."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from markupsafe import Markup, escape

from blueprints.core.templating import datetime_formatter

# the stand-in ゲートウェイID of the row's two links, built once per page with it and
# given each row's own ID (12 letters and digits, as long as the stand-in)
STAND_IN_ID = "GATEWAYID000"
# what escaping changes: a value without any of these is its own escape (most of a row's
# values; markupsafe's escape makes a Markup object of each, several times the search)
_SPECIAL = re.compile(r"[&<>\"']")


def _text(value: str) -> str:
    return str(escape(value)) if _SPECIAL.search(value) else value


def console_rows(items: Iterable, states: Mapping[int, str], labels: Mapping[str, str],
                 detail_url: str, monitor_url: str, status_label: Callable[[str], str],
                 state_badge: Callable[[str], str]) -> Markup:
    """The <tr> of each LinkedGateway of a console page. `labels` are the columns'
    headings (owner_label, gateway_label, status_heading, state_label, linked_label) and
    the monitoring link's text (monitoring_label); the two URLs hold STAND_IN_ID;
    `status_label` and `state_badge` are the templates' macros."""
    text = {name: str(escape(value)) for name, value in labels.items()}
    owner_cell = f'\n      <tr>\n        <td data-label="{text["owner_label"]}">'
    gateway_cell = f'</td>\n        <td data-label="{text["gateway_label"]}"><a href="'
    status_cell = f'</td>\n        <td data-label="{text["status_heading"]}">'
    state_cell = f'</td>\n        <td data-label="{text["state_label"]}">'
    monitoring = f'">{text["monitoring_label"]}</a></td>\n        <td data-label="{text["linked_label"]}">'
    end = "</td>\n      </tr>\n      "
    detail, monitor = str(escape(detail_url)), str(escape(monitor_url))
    when = datetime_formatter()
    statuses: dict[str, str] = {}
    badges: dict[str, str] = {}
    rows = []
    for item in items:
        gateway, owner = item.gateway, item.owner
        gateway_id = _text(gateway.gateway_id)
        status = statuses.get(gateway.status)
        if status is None:
            status = statuses[gateway.status] = str(escape(status_label(gateway.status)))
        state = badges.get(states[gateway.id])
        if state is None:
            state = badges[states[gateway.id]] = str(escape(state_badge(states[gateway.id])))
        rows.append(
            f'{owner_cell}{_text(owner.full_name)}<br><span class="break">{_text(owner.email)}</span>'
            if owner else f"{owner_cell}—")
        rows.append(
            f'{gateway_cell}{detail.replace(STAND_IN_ID, gateway_id)}">{gateway_id}</a>'
            f'<br>{_text(gateway.site_name or "")}{status_cell}{status}{state_cell}{state}'
            f'<br><a href="{monitor.replace(STAND_IN_ID, gateway_id)}{monitoring}'
            f'{_text(when(item.linked_at)) if item.linked_at else ""}'
            f'{end}')
    return Markup("".join(rows))
