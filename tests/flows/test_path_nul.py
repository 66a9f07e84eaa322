"""A NUL byte (or another script) in any path parameter of any page is never a 500: every
GET route of the app, with each string parameter replaced by such a value, answers each
role of the access matrix below 500. (PostgreSQL refuses NUL in a query parameter with an
error, where SQLite simply finds nothing: a route that sends it to the database fails on
PostgreSQL only.)"""
from __future__ import annotations

import re

from tests.flows.test_access import ROLES, world  # noqa: F401  (the fixture)

BAD_VALUES = ("01AB%00345678", "０１ＡＢ")


def _paths(app, bad: str) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or not rule.arguments:
            continue
        path = rule.rule
        path = re.sub(r"<int:\w+>", "999999", path)
        path = re.sub(r"<path:\w+>", bad, path)
        path = re.sub(r"<(?:string:)?\w+>", bad, path)
        paths.append(path)
    return sorted(set(paths))


def test_no_path_parameter_makes_a_500(world, app):
    clients, _dealer_code = world
    wrong = []
    for bad in BAD_VALUES:
        for path in _paths(app, bad):
            for role in ROLES:
                status = clients[role].get(path).status_code
                if status >= 500:
                    wrong.append(f"{role:9} GET {path} → {status}")
    assert wrong == [], "\n".join(wrong)
