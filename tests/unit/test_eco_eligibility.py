"""The eco programme's eligibility rules, one by one (blueprints/eco/eligibility.py):
each condition fails alone with its Japanese reason, the 2-year boundary (29 Feb
included), and the rollups of today and yesterday (never older ones)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from blueprints.eco import eligibility
from blueprints.eco.eligibility import Facts, evaluate, years_before
from models import JST
from models.gateway import Gateway

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)  # 12:00 JST
TODAY = date(2026, 11, 29)
GOOD = Facts(eco_model=True, pv_wsum=1000, battery_wsum=500)


def gateway(**fields) -> Gateway:
    values = dict(gateway_id="01AB12345678", model="GW-M001",
                  last_reading_at=NOW - timedelta(minutes=5),
                  operation_started_on=date(2026, 1, 10))
    values.update(fields)
    return Gateway(**values)


@pytest.fixture(autouse=True)
def japanese(request):
    """Reasons are lazy strings rendered in the request's language (Japanese here)."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.test_request_context():
        yield


def failed(result) -> list[str]:
    return [condition.key for condition in result.failed]


def test_every_measurable_condition_met(app):
    result = evaluate(gateway(), False, GOOD, NOW, TODAY)
    assert result.measurable_ok and failed(result) == []
    # The declarations are asked at 申込: not yet answered, so not ok as a whole.
    assert not result.ok
    assert [c.ok for c in result.conditions if c.declaration] == [None, None]
    ticked = evaluate(gateway(), False, GOOD, NOW, TODAY,
                      {eligibility.NO_GENERATOR: True, eligibility.NO_SCHEME: True})
    assert ticked.ok


def test_model_not_eco_eligible_or_unknown(app):
    result = evaluate(gateway(model="GW-M003"), False,
                      Facts(False, GOOD.pv_wsum, GOOD.battery_wsum), NOW, TODAY)
    assert failed(result) == [eligibility.MODEL]
    assert "GW-M003" in str(result.condition(eligibility.MODEL).reason)
    assert "対象外" in str(result.condition(eligibility.MODEL).reason)


def test_facts_treat_an_unknown_model_as_not_eligible(app):
    from models import db

    known, unknown = gateway(gateway_id="01AB00000011"), gateway(gateway_id="01AB00000012",
                                                                  model="ZZ-UNKNOWN")
    db.session.add_all([known, unknown])
    known.slip_password_hash = unknown.slip_password_hash = "x"
    db.session.flush()
    facts = eligibility.facts_for([known, unknown], TODAY)
    assert facts[known.id].eco_model is True and facts[unknown.id].eco_model is False
    db.session.rollback()


def test_online_means_a_reading_within_the_configured_hours(app):
    hours = app.config["ECO_ONLINE_HOURS"]
    just_in = gateway(last_reading_at=NOW - timedelta(hours=hours))
    assert failed(evaluate(just_in, False, GOOD, NOW, TODAY)) == []
    silent = gateway(last_reading_at=NOW - timedelta(hours=hours, minutes=5))
    result = evaluate(silent, False, GOOD, NOW, TODAY)
    assert failed(result) == [eligibility.ONLINE]
    assert "通信がありません" in str(result.condition(eligibility.ONLINE).reason)
    never = evaluate(gateway(last_reading_at=None), False, GOOD, NOW, TODAY)
    assert eligibility.ONLINE in failed(never)
    assert "通信が始まると" in str(never.condition(eligibility.ONLINE).reason)


def test_a_commercial_account_is_not_eligible(app):
    result = evaluate(gateway(), True, GOOD, NOW, TODAY)
    assert failed(result) == [eligibility.INDIVIDUAL]
    assert "法人名" in str(result.condition(eligibility.INDIVIDUAL).reason)


@pytest.mark.parametrize("facts", [Facts(True, 0, 500), Facts(True, 1000, 0), Facts(True, 0, 0)])
def test_pv_and_battery_must_both_report(app, facts):
    result = evaluate(gateway(), False, facts, NOW, TODAY)
    assert failed(result) == [eligibility.PV_BATTERY]
    assert "PVユニットまたは蓄電池ユニット" in str(result.condition(eligibility.PV_BATTERY).reason)


def test_operation_start_within_two_years_boundary(app):
    years = app.config["ECO_OPERATION_YEARS"]
    assert years == 2
    on_the_day = gateway(operation_started_on=date(2024, 11, 29))
    assert failed(evaluate(on_the_day, False, GOOD, NOW, TODAY)) == []
    day_before = gateway(operation_started_on=date(2024, 11, 28))
    result = evaluate(day_before, False, GOOD, NOW, TODAY)
    assert failed(result) == [eligibility.OPERATION]
    reason = str(result.condition(eligibility.OPERATION).reason)
    assert "2024/11/28" in reason and "2024/11/29" in reason


def test_operation_start_unknown_until_the_first_reading(app):
    unknown = gateway(operation_started_on=None, first_report_at=None)
    result = evaluate(unknown, False, GOOD, NOW, TODAY)
    assert eligibility.OPERATION in failed(result)
    assert "通信が始まると" in str(result.condition(eligibility.OPERATION).reason)
    # Without a date set by staff, the first reading's (Japanese) day counts.
    first = datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc)  # 2026-03-02 00:30 JST
    reported = gateway(operation_started_on=None, first_report_at=first)
    assert reported.operation_start == first.astimezone(JST).date() == date(2026, 3, 2)
    assert failed(evaluate(reported, False, GOOD, NOW, TODAY)) == []


def test_29_february_counts_back_to_28_february():
    assert years_before(date(2028, 2, 29), 2) == date(2026, 2, 28)
    assert years_before(date(2028, 2, 29), 4) == date(2024, 2, 29)
    assert years_before(date(2026, 3, 1), 2) == date(2024, 3, 1)


def test_29_february_application_day_boundary(app):
    now = datetime(2028, 2, 29, 3, 0, tzinfo=timezone.utc)
    today = date(2028, 2, 29)
    fresh = dict(last_reading_at=now - timedelta(minutes=5))
    assert failed(evaluate(gateway(operation_started_on=date(2026, 2, 28), **fresh), False,
                           GOOD, now, today)) == []
    assert failed(evaluate(gateway(operation_started_on=date(2026, 2, 27), **fresh), False,
                           GOOD, now, today)) == [eligibility.OPERATION]


def test_each_declaration_fails_alone(app):
    only_one = evaluate(gateway(), False, GOOD, NOW, TODAY,
                        {eligibility.NO_GENERATOR: True, eligibility.NO_SCHEME: False})
    assert failed(only_one) == [eligibility.NO_SCHEME] and not only_one.ok
    other = evaluate(gateway(), False, GOOD, NOW, TODAY,
                     {eligibility.NO_GENERATOR: False, eligibility.NO_SCHEME: True})
    assert failed(other) == [eligibility.NO_GENERATOR]


def test_several_failures_are_all_listed_with_reasons(app):
    result = evaluate(gateway(last_reading_at=None, operation_started_on=date(2020, 1, 1)),
                      True, Facts(False, 0, 0), NOW, TODAY)
    assert failed(result) == [eligibility.MODEL, eligibility.ONLINE, eligibility.INDIVIDUAL,
                              eligibility.PV_BATTERY, eligibility.OPERATION]
    assert all(condition.reason for condition in result.failed)
