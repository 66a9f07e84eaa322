"""safe_next: the one check of every redirect target that came with a request."""
from __future__ import annotations

import pytest

from blueprints.core.redirects import safe_next

HOSTILE = [
    "/\t/evil.example",        # browsers drop the tab: //evil.example
    "/%09/evil.example",
    "/\r\n/evil.example",      # a newline in a header: was a 500
    "/%0D%0A/evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "//evil.example",
    "///evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",  # encoded twice
    "https:",
    "https:evil.example",
    "https://evil.example/account",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    " /account/settings",
    "/\u3000/evil.example",    # ideographic space
    "/\u200b/evil.example",    # zero-width space
    "/%FF",                     # not UTF-8
    "",
    None,
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_become_the_home_page(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", [
    "/",
    "/account/settings",
    "/monitoring/gateways/01AB12345678/monitor?range=day&date=2026-11-23",
    "/dealers/?q=yamada+taro",
    "/account/login?next=/account/settings",
])
def test_local_paths_are_kept(target):
    assert safe_next(target) == target


def test_a_path_in_japanese_is_written_as_the_location_header_will_be():
    assert safe_next("/help/山田") == "/help/%E5%B1%B1%E7%94%B0"
