"""Core's registry (issue 9, "a core that knows no service"): core imports no service, and
what the shell shows or does for a service comes from what the service registered —
launcher tiles, demo data, deletion hooks, gateway events, the owner's access page, panels
of the monitoring page, actions in alert mails, sections of the dealer console and the
actions refused while someone acts for the owner."""
from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
from flask_babel import lazy_gettext as _l

from blueprints.core import registry
from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.monitoring.alerts import check_silence
from models import db, utcnow
from models.gateway import Gateway
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import PASSWORD, login, outbox

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {path.name for path in (ROOT / "blueprints").iterdir()
            if path.is_dir() and (path / "__init__.py").exists()} - {"core"}


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry that a test may add to; the real one is restored after."""
    real = registry._registry
    scratch = copy.copy(real)
    for name, value in vars(real).items():
        setattr(scratch, name, {key: copy.copy(item) if isinstance(item, dict) else item
                                for key, item in value.items()}
                if isinstance(value, dict) else copy.copy(value))
    monkeypatch.setattr(registry, "_registry", scratch)
    return registry


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_core_imports_no_service():
    assert {"account", "gateways", "monitoring", "dealers", "api"} <= SERVICES
    offending = []
    for path in sorted((ROOT / "blueprints" / "core").glob("*.py")):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "blueprints" and len(parts) > 1 and parts[1] in SERVICES:
                offending.append(f"{path.name}: {name}")
    assert offending == []


def test_gateways_never_imports_monitoring():
    """Gateway ownership knows nothing of telemetry: history follows an exchange and goes
    with a disposal through registry.gateway_event."""
    offending = [f"{path.name}: {name}"
                 for path in sorted((ROOT / "blueprints" / "gateways").glob("*.py"))
                 for name in _imports(path) if name.startswith("blueprints.monitoring")]
    assert offending == []


def test_launcher_shows_a_registered_tile_to_whom_it_allows(app, scratch_registry):
    scratch_registry.launcher_tile(
        registry.LauncherTile(_l("テストサービス"), _l("説明"), "core.terms", "id"),
        allowed=lambda account: account.email == "owner@example.com")
    make_owner()
    make_owner("other@example.com", "佐藤", "次郎")
    owner, other = app.test_client(), app.test_client()
    login(owner, "owner@example.com")
    login(other, "other@example.com")
    assert "テストサービス" in owner.get("/").get_data(as_text=True)
    page = other.get("/").get_data(as_text=True)
    assert "テストサービス" not in page and "遠隔モニタリング" in page


def test_seed_demo_runs_every_registered_seeder_in_order(app, runner, monkeypatch,
                                                         scratch_registry):
    monkeypatch.setenv("ENELINK_ENV", "development")
    calls = []
    scratch_registry.demo_data("late", lambda: calls.append("late") or ["late line"], order=99)
    scratch_registry.demo_data("early", lambda: calls.append("early") or ["early line"],
                               order=1)
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    assert calls == ["early", "late"]
    assert result.output.index("early line") < result.output.index("Demo accounts")
    assert result.output.rstrip().endswith("late line")


def test_seed_demo_is_refused_outside_development(app, runner, monkeypatch):
    monkeypatch.setenv("ENELINK_ENV", "production")
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code != 0
    assert "ENELINK_ENV=development" in result.output
    from models.account import Account

    assert db.session.query(Account).count() == 0
    forced = runner.invoke(args=["seed", "demo", "--i-know-this-is-not-production"])
    assert forced.exit_code == 0, forced.output
    assert db.session.query(Account).count() > 0


def test_cli_group_gathers_commands_of_both_services(app):
    group = app.cli.get_command(None, "gateways")
    assert {"issue", "api-key", "watch", "simulate"} <= set(group.list_commands(None))


def test_account_deletion_runs_registered_hooks_in_its_transaction(app, client,
                                                                   scratch_registry):
    seen = []
    scratch_registry.on_account_deleted(lambda account: seen.append(account.email))
    make_owner()
    login(client, "owner@example.com")
    token = csrf_from(client.get("/account/delete").get_data(as_text=True))
    response = client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD,
                                                    "confirm": "y"})
    assert response.status_code in (302, 303)
    assert seen == ["owner@example.com"]


def test_gateway_events_reach_registered_hooks(app, client, scratch_registry):
    events = []
    scratch_registry.on_gateway_event("retired", lambda pks, now, reason: events.append(reason))
    owner = make_owner()
    make_gateway(owner, "01AB12345678")
    login(client, "owner@example.com")
    path = "/monitoring/gateways/01AB12345678/dispose"
    token = csrf_from(client.get(path).get_data(as_text=True))
    client.post(path, data={"csrf_token": token, "confirm": "y"})
    assert events == ["disposed"]


def test_access_page_lists_linked_dealers_from_the_registry(app, client):
    owner = make_owner()
    gateway = make_gateway(owner, "01AB12345678")
    dealer = become_dealer(make_company(1), "0312345678")
    assert link_dealer(owner, gateway, dealer.dealer_code, "0312345678").name == "LINKED"
    login(client, "owner@example.com")
    page = client.get("/account/access").get_data(as_text=True)
    assert f"販売店ID {dealer.dealer_code}" in page and "01AB12345678" in page
    assert "/dealers/my/unlink/01AB12345678" in page
    other = app.test_client()
    make_owner("other@example.com", "佐藤", "次郎")
    login(other, "other@example.com")
    assert "販売店ID" not in other.get("/account/access").get_data(as_text=True)


def test_monitoring_page_shows_registered_panels(app, client, scratch_registry, tmp_path):
    app.jinja_loader.searchpath.append(str(tmp_path))
    (tmp_path / "test_panel.html").write_text("<p>PANEL {{ panel.context.word }}</p>",
                                              encoding="utf-8")
    scratch_registry.monitoring_panel(
        lambda gateway, account: registry.Panel("test_panel.html", {"word": gateway.gateway_id}))
    owner = make_owner()
    make_gateway(owner, "01AB12345678")
    login(client, "owner@example.com")
    page = client.get("/monitoring/gateways/01AB12345678/monitor").get_data(as_text=True)
    assert "PANEL 01AB12345678" in page


def test_alert_mails_carry_registered_actions(app, scratch_registry):
    scratch_registry.alert_action(lambda gateway, alert: registry.MailAction(
        _l("テストの対応"), f"https://enelink.test/act/{gateway.gateway_id}"))
    owner = make_owner()
    gateway = make_gateway(owner, "01AB12345678")
    stored = db.session.get(Gateway, gateway.id)
    stored.first_report_at = stored.last_reading_at = utcnow().replace(year=2020)
    db.session.commit()
    assert check_silence().opened == ["01AB12345678"]
    mails = outbox("owner@example.com")
    assert mails and "https://enelink.test/act/01AB12345678" in mails[-1].text_body
    assert "テストの対応" in mails[-1].text_body


def test_dealer_console_shows_registered_sections(app, client):
    owner = make_owner()
    gateway = make_gateway(owner, "01AB12345678")
    dealer = become_dealer(make_company(1), "0312345678")
    link_dealer(owner, gateway, dealer.dealer_code, "0312345678")
    login(client, "admin1@dealer1.example")
    page = client.get("/dealers/gateways/01AB12345678").get_data(as_text=True)
    assert 'href="/monitoring/gateways/01AB12345678/monitor"' in page


def test_actions_marked_are_refused_while_acting_for_the_owner(app, client, scratch_registry):
    make_owner()
    login(client, "owner@example.com")
    assert client.get("/account/delete").status_code == 200
    acting = {"now": True}
    scratch_registry.acting_check(lambda: acting["now"])
    for path in ("/account/delete", "/account/settings/login"):
        response = client.get(path)
        assert response.status_code == 403
        assert "代理ログイン中はこの操作はできません" in response.get_data(as_text=True)
    assert client.get("/account/settings").status_code == 200  # not marked: allowed
    acting["now"] = False
    assert client.get("/account/delete").status_code == 200


def test_gateway_menu_shows_registered_page_sections(app, client, scratch_registry, tmp_path):
    app.jinja_loader.searchpath.append(str(tmp_path))
    (tmp_path / "test_section.html").write_text("<p>SECTION {{ section.context.word }}</p>",
                                                encoding="utf-8")
    scratch_registry.page_section(
        "gateways.menu",
        lambda account: registry.Panel("test_section.html", {"word": account.family_name})
        if account.email == "owner@example.com" else None)
    owner = make_owner()
    make_gateway(owner, "01AB12345678")
    login(client, "owner@example.com")
    assert f"SECTION {owner.family_name}" in client.get("/monitoring/").get_data(as_text=True)


def test_a_page_section_needs_a_slot_some_page_offers(scratch_registry):
    with pytest.raises(KeyError):
        scratch_registry.page_section("nowhere.page", lambda account: None)


def test_periodic_jobs_run_each_whatever_the_others_did(app, runner, scratch_registry):
    calls = []

    def failing():
        calls.append("failing")
        raise RuntimeError("boom")

    def working():
        calls.append("working")

    scratch_registry.periodic_job(failing)
    scratch_registry.periodic_job(working)
    with app.app_context():
        failed = registry.run_periodic_jobs()
    assert "working" in calls and "failing" in calls
    assert [name for name in failed if name.endswith("failing")] and \
        not [name for name in failed if name.endswith("working")]
    result = runner.invoke(args=["jobs", "run"])
    assert result.exit_code != 0 and "failing" in result.output
