"""Remote monitoring: what gateways report (telemetry ingest through the gateway API,
daily and monthly rollups), alerts (error codes, silence), the monitoring page with its
charts, table and CSV, and the simulator for development. URLs under /monitoring/.

Registers with core's registry: the gateway lifecycle hooks (history follows an exchange,
is purged on disposal and release), the gateway states shown in lists, and the `watch`
and `simulate` commands of the `gateways` CLI group."""
from flask import Blueprint

from blueprints.core import registry

bp = Blueprint("monitoring", __name__)
URL_PREFIX = "/monitoring"

from blueprints.monitoring import cli, energy, monitor, telemetry  # noqa: E402,F401

registry.on_gateway_event("exchanged", telemetry.move_history)
registry.on_gateway_event("retired", telemetry.purge_history)
registry.on_gateway_event("released", telemetry.purge_history)
registry.gateway_state_provider(energy.list_states)
for command in cli.COMMANDS:
    registry.cli_command("gateways", command)


def _dealer_section(_dealer, gateway) -> registry.Panel:
    """The dealer console's gateway page links to the same monitoring page as the owner's."""
    return registry.Panel("monitoring/_dealer_section.html", {"gateway_id": gateway.gateway_id})


registry.dealer_section(_dealer_section)


# >>> recipients
# Extra alert recipients (family members) of a gateway: their pages, their line on the
# owner's access page, their part of the personal data, and what a gateway's exchange,
# disposal or release does to them. A dealer acting for the owner may not change them.
from blueprints.monitoring import recipients, recipients_views  # noqa: E402,F401

registry.on_gateway_event("exchanged", recipients.follow_exchange)
registry.on_gateway_event("retired", recipients.drop_recipients)
registry.on_gateway_event("released", recipients.drop_recipients)
registry.on_gateway_event("handed_over", recipients.drop_recipients)
registry.access_lines(recipients.access_lines)
registry.personal_data("alert_recipients", recipients.personal_data, order=60)
registry.refuse_while_acting("monitoring.alert_recipients", "monitoring.alert_recipient_remove")
# <<< recipients
# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.monitoring import personal_data as _personal_data  # noqa: E402

registry.personal_data("monitoring", _personal_data.monitoring_tables, order=40)
# <<< export
# >>> handover: a hand-over ends the open alerts but keeps the history (not purge_history)
registry.on_gateway_event("handed_over", telemetry.end_for_handover)
# <<< handover
# >>> remote: remote settings (遠隔設定) of the storage system, their page, the timeout
# check and the dealer console's link
from blueprints.monitoring import settings as _settings, settings_views  # noqa: E402,F401

from blueprints.monitoring import settings_demo  # noqa: E402

registry.periodic_job(_settings.periodic_check)
registry.demo_data("remote settings", settings_demo.seed_demo_settings, order=35)
# <<< remote
# >>> ingest: partitions of the readings for the coming months (PostgreSQL)
from blueprints.monitoring import retention as _retention  # noqa: E402

registry.periodic_job(_retention.periodic_partitions)
# <<< ingest
# >>> help: this service's よくある質問 (help/faq/monitoring.toml, edited by the operator)
from flask_babel import lazy_gettext as _l  # noqa: E402

registry.faq("monitoring", _l("遠隔モニタリング（モニタリングサイト）に関するよくある質問"), "monitoring.toml", order=30)
# <<< help
