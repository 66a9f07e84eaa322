"""The registry: what each service hands the shell and the other services.

Core imports no service. A service registers its pieces here from its package's
`__init__.py`, the way a Flask extension registers with an app, and the shell (and any
other service) reads them back through the functions of this module:

    from blueprints.core import registry

    registry.launcher_tile(LauncherTile(...), allowed=lambda account: True)
    registry.demo_data("gateways", seed_demo_gateways, order=20)
    registry.on_account_deleted(release_gateways)
    registry.on_gateway_event("exchanged", move_history)

A new service is then a new folder listed in `SERVICES` of app.py: no file of core
changes. Registering is idempotent (a piece is kept once per name), so importing a
service twice, or building many apps in one process (the tests do), changes nothing.

Extension points, and who calls them:

| point | registered by a service | read by |
|---|---|---|
| launcher tiles | `launcher_tile` | the home page (`launcher_tiles(account)`) |
| demo data | `demo_data` | `flask seed demo` (`seed_demo()`) |
| account deletion | `on_account_deleted` | `delete_account` (`account_deleted(account)`) |
| leaving a company | `on_membership_ended` | employee removal (`membership_ended(account, company)`) |
| gateway lifecycle | `on_gateway_event` | gateway management (`gateway_event(...)`) |
| gateway states | `gateway_state_provider` | lists of gateways (`gateway_states(...)`) |
| who can see my home | `access_lines` | the owner's access page (`access_lines_for(account)`) |
| monitoring page panels | `monitoring_panel` | the monitoring page (`monitoring_panels_for(...)`) |
| alert mail actions | `alert_action` | alert mails (`alert_actions_for(...)`) |
| dealer console sections | `dealer_section` | the console's detail page (`dealer_sections_for(...)`) |
| acting for the owner | `acting_check`, `refuse_while_acting` | every request (`refused_while_acting(endpoint)`), pages (`acting_now()`) |
| page banners | `page_banner` | `templates/base.html`, above every page (`page_banners()`) |
| sections of another service's page | `page_section` | that page's template (`page_sections(slot, ...)`) |
| periodic jobs | `periodic_job` | the watch loop and `flask jobs run` (`run_periodic_jobs()`) |
| sign-out | `on_signed_out` | the account's sign-out (`signed_out(account)`) |
| sessions revoked | `on_sessions_revoked` | `revoke_login_sessions`, 端末のログアウト (`sessions_revoked(ids, now)`) |
| CLI commands | `cli_command` | `register_cli` (`cli_groups()`) |
| who must use a second sign-in step | `second_step_expected` | sign-in, set-up (`second_step_due(account)`) |
| pages behind the second step | `second_step_required` | every request (`second_step_needed(endpoint)`) |
| what stops a hand-over | `handover_blocker` | ゲートウェイの譲渡 (`handover_blockers(gateway)`) |
| personal data | `personal_data` | 個人データのダウンロード (`personal_data_of(account)`) |
| よくある質問 (FAQ) | `faq` | `/help/` and `/help/<service>`, wizards' help links (`faqs()`, `faq_of(service)`) |
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from blueprints.core.templating import page_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LauncherTile:
    """One tile of the home launcher: a service's name, what it does and where it opens."""

    title: Any
    description: Any
    endpoint: str
    icon: str

    @property
    def url(self) -> str:
        return page_url(self.endpoint)


@dataclass(frozen=True)
class AccessLine:
    """One line of the owner's "who can see my home" page: who, what they may do and for
    which gateway, since when, and where the owner ends it."""

    who: str
    what: Any
    scope: str
    since: Any = None
    manage_url: str | None = None
    # The manage button's label (default 「取り消す」), and an optional second link (e.g.
    # to a history page) with its label.
    manage_label: Any = None
    detail_url: str | None = None
    detail_label: Any = None


@dataclass(frozen=True)
class Panel:
    """A block another service adds to a page: a template and what it renders with."""

    template: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MailAction:
    """A link offered at the end of a mail (e.g. in an alert): its label and absolute URL."""

    label: Any
    url: str


GATEWAY_EVENTS = ("exchanged", "retired", "released")
# >>> handover: ゲートウェイの譲渡 — hook(gateway_pks, now, reason), run while the gateways
# still have their owner; like "released" but the history (readings, energy) stays with
# the gateway for the previous owner's CSV (see blueprints/gateways/handover.py).
GATEWAY_EVENTS += ("handed_over",)
# <<< handover


@dataclass
class _Registry:
    tiles: dict[str, tuple[int, LauncherTile, Callable]] = field(default_factory=dict)
    demo: dict[str, tuple[int, Callable[[], list[str]]]] = field(default_factory=dict)
    deletion: dict[str, Callable] = field(default_factory=dict)
    membership: dict[str, Callable] = field(default_factory=dict)
    gateway_events: dict[str, dict[str, Callable]] = field(
        default_factory=lambda: {name: {} for name in GATEWAY_EVENTS})
    states: dict[str, Callable] = field(default_factory=dict)
    access: dict[str, Callable] = field(default_factory=dict)
    panels: dict[str, Callable] = field(default_factory=dict)
    alert_actions: dict[str, Callable] = field(default_factory=dict)
    dealer_sections: dict[str, Callable] = field(default_factory=dict)
    acting: dict[str, Callable] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    banners: dict[str, Callable] = field(default_factory=dict)
    sections: dict[str, dict[str, Callable]] = field(default_factory=dict)
    jobs: dict[str, Callable] = field(default_factory=dict)
    signed_out: dict[str, Callable] = field(default_factory=dict)
    cli: dict[str, dict] = field(default_factory=dict)
    second_step_policies: dict[str, Callable] = field(default_factory=dict)
    second_step_pages: set[str] = field(default_factory=set)
    handover_blockers: dict[str, Callable] = field(default_factory=dict)
    personal_data: dict[str, tuple[int, Callable]] = field(default_factory=dict)
    sessions_revoked: dict[str, Callable] = field(default_factory=dict)


_registry = _Registry()


def _name(function: Callable) -> str:
    return f"{function.__module__}.{function.__qualname__}"


# -- launcher -------------------------------------------------------------------------
def launcher_tile(tile: LauncherTile, allowed: Callable[[Any], bool], order: int = 50) -> None:
    """Add a tile to the home launcher, shown to the accounts for which `allowed` holds."""
    _registry.tiles[tile.endpoint] = (order, tile, allowed)
    _registry.__dict__.pop("ordered_tiles", None)


def _ordered_tiles() -> tuple[tuple[LauncherTile, Callable], ...]:
    """The tiles in their order, sorted once per process (kept on the registry until a
    tile is registered); which of them an account sees is still asked per request."""
    ordered = _registry.__dict__.get("ordered_tiles")
    if ordered is None:
        ordered = tuple((tile, allowed) for _order, tile, allowed
                        in sorted(_registry.tiles.values(), key=lambda item: item[0]))
        _registry.__dict__["ordered_tiles"] = ordered
    return ordered


def launcher_tiles(account) -> list[LauncherTile]:
    return [tile for tile, allowed in _ordered_tiles() if allowed(account)]


# -- demo data --------------------------------------------------------------------------
def demo_data(name: str, seed: Callable[[], list[str]], order: int = 50) -> None:
    """`seed()` creates what is missing of a service's demo data (idempotent), commits,
    and returns lines describing it; lower `order` runs first."""
    _registry.demo[name] = (order, seed)


def seed_demo() -> list[str]:
    lines: list[str] = []
    for _order, seed in sorted(_registry.demo.values(), key=lambda item: item[0]):
        lines.extend(seed())
    return lines


# -- account deletion -------------------------------------------------------------------
def on_account_deleted(hook: Callable[[Any], None]) -> None:
    """`hook(account)` removes what a service keeps for an account, inside the deletion's
    transaction (it must not commit)."""
    _registry.deletion[_name(hook)] = hook


def account_deleted(account) -> None:
    for hook in list(_registry.deletion.values()):
        hook(account)


# -- leaving a company -----------------------------------------------------------------
def on_membership_ended(hook: Callable[[Any, Any], None]) -> None:
    """`hook(account, company)` ends what a service gave the account as a member of the
    company (e.g. its address among a dealer's maintenance contacts), inside the
    transaction that removes the member (it must not commit)."""
    _registry.membership[_name(hook)] = hook


def membership_ended(account, company) -> None:
    for hook in list(_registry.membership.values()):
        hook(account, company)


# -- gateway lifecycle ------------------------------------------------------------------
def on_gateway_event(event: str, hook: Callable[..., None]) -> None:
    """Run `hook` inside the transaction of a gateway's lifecycle change:
    "exchanged" → hook(old_pk, new_pk, now); "retired" and "released" →
    hook(gateway_pks, now, reason). Hooks must not commit."""
    if event not in GATEWAY_EVENTS:
        raise ValueError(f"unknown gateway event {event!r}")
    _registry.gateway_events[event][_name(hook)] = hook


def gateway_event(event: str, *args) -> None:
    for hook in list(_registry.gateway_events[event].values()):
        hook(*args)


# -- gateway states -------------------------------------------------------------------
def gateway_state_provider(provider: Callable[[list], dict[int, str]]) -> None:
    """`provider(gateways)` answers {gateway pk: state} (e.g. "normal", "alert",
    "silent", "waiting") for lists that show gateways."""
    _registry.states[_name(provider)] = provider


def gateway_states(gateways: list) -> dict[int, str]:
    states: dict[int, str] = {}
    for provider in _registry.states.values():
        states.update(provider(gateways))
    return states


# -- who can see my home ----------------------------------------------------------------
def access_lines(provider: Callable[[Any], Iterable[AccessLine]]) -> None:
    """`provider(account)` lists who the service lets see or act on the owner's home."""
    _registry.access[_name(provider)] = provider


def access_lines_for(account) -> list[AccessLine]:
    return [line for provider in _registry.access.values() for line in provider(account)]


# -- panels and sections ----------------------------------------------------------------
def monitoring_panel(provider: Callable[[Any, Any], Panel | None]) -> None:
    """`provider(gateway, account)` answers a panel for the monitoring page, or None."""
    _registry.panels[_name(provider)] = provider


def monitoring_panels_for(gateway, account) -> list[Panel]:
    return [panel for provider in _registry.panels.values()
            if (panel := provider(gateway, account)) is not None]


def dealer_section(provider: Callable[[Any, Any], Panel | None]) -> None:
    """`provider(dealer, gateway)` answers a section of the dealer console's gateway page."""
    _registry.dealer_sections[_name(provider)] = provider


def dealer_sections_for(dealer, gateway) -> list[Panel]:
    return [panel for provider in _registry.dealer_sections.values()
            if (panel := provider(dealer, gateway)) is not None]


def alert_action(provider: Callable[[Any, Any], MailAction | None]) -> None:
    """`provider(gateway, alert)` answers a link for the end of an alert mail, or None."""
    _registry.alert_actions[_name(provider)] = provider


def alert_actions_for(gateway, alert) -> list[MailAction]:
    return [action for provider in _registry.alert_actions.values()
            if (action := provider(gateway, alert)) is not None]


# -- acting for the owner ---------------------------------------------------------------
def acting_check(check: Callable[[], bool]) -> None:
    """`check()` tells whether the current request is made by someone acting for the
    signed-in owner (e.g. a dealer's proxy login)."""
    _registry.acting[_name(check)] = check


def refuse_while_acting(*endpoints: str) -> None:
    """Endpoints nobody may use while acting for the owner (password, deletion …)."""
    _registry.refused.update(endpoints)


def refused_while_acting(endpoint: str | None) -> bool:
    if endpoint not in _registry.refused:
        return False
    return acting_now()


def acting_now() -> bool:
    """Whether the current request acts for the owner (pages use it to hide what would
    be refused, e.g. the revoke buttons of the access page)."""
    return any(check() for check in _registry.acting.values())


# -- page banners -----------------------------------------------------------------------
def page_banner(provider: Callable[[], Panel | None]) -> None:
    """`provider()` answers a banner shown above every whole page of the current request
    (e.g. 「…様として操作中」 during a proxy login), or None. It is called on every page,
    so it must be cheap when it has nothing to say. Partials (htmx) show no banner."""
    _registry.banners[_name(provider)] = provider


def page_banners() -> list[Panel]:
    return [panel for provider in _registry.banners.values()
            if (panel := provider()) is not None]


# -- sections of another service's page --------------------------------------------------
# The slots pages offer, with the arguments their providers get. A page lists its slot
# here and includes `page_sections(slot, ...)`; a service fills it with a Panel.
PAGE_SLOTS = {
    # the gateways main menu (ゲートウェイの管理): provider(account), e.g. the eco entry
    "gateways.menu": "account",
    # 本登録完了 (monitoring STEP3 → STEP4): provider(account, gateways), e.g. the eco
    # programme's offer
    "gateways.registration_complete": "account, gateways",
}


def page_section(slot: str, provider: Callable[..., Panel | None]) -> None:
    """`provider(...)` answers a section for the page that offers `slot` (see
    PAGE_SLOTS for its arguments), or None when it has nothing to show there."""
    if slot not in PAGE_SLOTS:
        raise KeyError(f"no page offers the slot {slot!r}")
    _registry.sections.setdefault(slot, {})[_name(provider)] = provider


def page_sections(slot: str, *args) -> list[Panel]:
    return [panel for provider in _registry.sections.get(slot, {}).values()
            if (panel := provider(*args)) is not None]


# -- periodic jobs ------------------------------------------------------------------------
def periodic_job(job: Callable[[], Any]) -> None:
    """`job()` runs in an app context every round of the watch loop (in-process under
    `make run`, every GATEWAY_WATCH_SECONDS) and on `flask --app app jobs run` (cron in
    production). It commits its own work and must be cheap when there is nothing to do."""
    _registry.jobs[_name(job)] = job


def run_periodic_jobs() -> list[str]:
    """Run every periodic job, each whatever the others did (a failure is rolled back
    and logged); answers the names of those that failed."""
    from models import db
    failed = []
    for name, job in list(_registry.jobs.items()):
        try:
            job()
        except Exception:  # one job's fault must not stop the others
            db.session.rollback()
            log.exception("periodic job %s failed", name)
            failed.append(name)
    return failed


# -- sign-out -----------------------------------------------------------------------------
def on_signed_out(hook: Callable[[Any], None]) -> None:
    """`hook(account)` runs inside the transaction of a browser's sign-out (it must not
    commit); `account.login_session_key` is the key of the session being ended (e.g. a
    proxy login ends the dealer's own session with it)."""
    _registry.signed_out[_name(hook)] = hook


def signed_out(account) -> None:
    for hook in list(_registry.signed_out.values()):
        hook(account)


def on_sessions_revoked(hook: Callable[[list[int], Any], None]) -> None:
    """`hook(session_ids, now)` runs inside the transaction that revoked these sign-in
    sessions (password change or reset, 「すべての端末からログアウト」, one browser signed
    out, a second step reset), so that what rides on them ends at once (e.g. a proxy
    login). It must not commit."""
    _registry.sessions_revoked[_name(hook)] = hook


def sessions_revoked(session_ids: list[int], now) -> None:
    if not session_ids:
        return
    for hook in list(_registry.sessions_revoked.values()):
        hook(session_ids, now)


# -- command line -----------------------------------------------------------------------
def cli_command(group: str, command, help: str | None = None) -> None:
    """Add a click command to the `flask --app app <group>` group; several services may
    fill one group."""
    entry = _registry.cli.setdefault(group, {"help": help, "commands": {}})
    if help:
        entry["help"] = help
    entry["commands"][command.name] = command


def cli_groups() -> dict[str, dict]:
    return _registry.cli


# -- the second sign-in step -------------------------------------------------------------
def second_step_expected(policy: Callable[[Any], bool]) -> None:
    """`policy(account)` tells whether the account must use a second sign-in step (TOTP
    or a passkey) before the pages of `second_step_required` open (e.g. the members of a
    dealer company). Staff always must; core knows that without a policy."""
    _registry.second_step_policies[_name(policy)] = policy


def second_step_due(account) -> bool:
    """Whether `account` must have a second sign-in step (led to its set-up at sign-in)."""
    if getattr(account, "is_staff", False):
        return True
    return any(policy(account) for policy in _registry.second_step_policies.values())


def second_step_required(*endpoints: str) -> None:
    """Endpoints (or whole blueprints, given as `"<blueprint>."`) that open only for a
    browser that passed the second sign-in step in this session: the dealer console,
    proxy login. Every staff blueprint is behind it without being listed."""
    _registry.second_step_pages.update(endpoints)


def second_step_needed(endpoint: str | None) -> bool:
    if not endpoint:
        return False
    blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else ""
    return (endpoint in _registry.second_step_pages
            or f"{blueprint}." in _registry.second_step_pages
            or blueprint.endswith("_staff"))


# -- hand-over of a gateway to the next owner ---------------------------------------------
def handover_blocker(provider: Callable[[Any], Any]) -> None:
    """`provider(gateway)` answers why the gateway cannot be handed over now (a message
    for its owner, e.g. open support cases or a running proxy login), or None."""
    _registry.handover_blockers[_name(provider)] = provider


def handover_blockers(gateway) -> list:
    return [reason for provider in _registry.handover_blockers.values()
            if (reason := provider(gateway)) is not None]


# -- personal data ---------------------------------------------------------------------
def personal_data(name: str, provider: Callable[[Any], dict[str, list[dict]]],
                  order: int = 50) -> None:
    """`provider(account)` answers what the service keeps about the account, as tables:
    `{table name: rows}` (values JSON-able: str, int, float, bool, None; dates as ISO
    strings), rows best given as the account service's `data_export.Table(columns, rows)`,
    whose CSV then has its header even when empty. Rows may be an iterator, so that a long
    table (readings) is written without holding it all in memory. Read by 個人データのダウンロード, in `order`."""
    _registry.personal_data[name] = (order, provider)


def personal_data_of(account) -> list[tuple[str, dict]]:
    """[(service name, its tables)] for the archive, in order."""
    return [(name, provider(account)) for name, (_order, provider)
            in sorted(_registry.personal_data.items(), key=lambda item: item[1][0])]


# >>> help: よくある質問 (FAQ) per service, read by blueprints/core/help.py
@dataclass(frozen=True)
class FaqSource:
    """A service's FAQ: its page's name in URLs (the service), title and file under
    HELP_DIR/faq/ (TOML the operator edits)."""

    service: str
    title: Any
    filename: str
    order: int = 50


_faqs: dict[str, FaqSource] = {}


def faq(service: str, title: Any, filename: str, order: int = 50) -> None:
    """Declare the service's FAQ page `/help/<service>`, read from `filename` in the
    operator's help folder (see blueprints/core/help.py for its format)."""
    _faqs[service] = FaqSource(service, title, filename, order)


def faqs() -> list[FaqSource]:
    """Every declared FAQ, in `order` (then by service)."""
    return sorted(_faqs.values(), key=lambda source: (source.order, source.service))


def faq_of(service: str) -> FaqSource | None:
    return _faqs.get(service)
# <<< help
