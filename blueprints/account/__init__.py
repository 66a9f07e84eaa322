"""The single ID: sign-up, activation, sign-in, passwords, settings, employees, deletion.
Registers its launcher tile, its demo accounts and the actions nobody may take while
acting for the owner with core's registry, and with the mail relay the deciders of
mail asked for by address (reset, activation)."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from blueprints.core import registry
from mail import on_mail_request

bp = Blueprint("account", __name__)
URL_PREFIX = "/account"

from blueprints.account import demo, services, views  # noqa: E402,F401

registry.launcher_tile(
    registry.LauncherTile(_l("アカウント"), _l("個人情報・ログイン情報・会社情報・従業員の管理"),
                          "account.settings", "id"),
    allowed=lambda account: True, order=10)
registry.demo_data("account", demo.seed_demo_accounts, order=10)
# Whoever acts for the owner never changes how the owner signs in, nor deletes the ID.
registry.refuse_while_acting("account.settings_login", "account.delete",
                             "account.settings_employees", "account.settings_company",
                             "account.employee_remove", "account.employee_admin",
                             "account.invitation_cancel")
# Mail that a request may not decide (it would tell who has an account): the relay does.
on_mail_request(services.PASSWORD_RESET, services.password_reset_requested)
on_mail_request(services.ACTIVATION, services.activation_requested)

# >>> export (helper E): 個人データのダウンロード — the archive is built by a periodic job
# (and `flask --app app account export-run`); the account's own tables; a dealer acting
# for the owner neither asks for nor downloads it.
from blueprints.account import (data_export, data_export_cli,  # noqa: E402
                                data_export_views, personal_data)

registry.periodic_job(data_export.run_exports)
registry.cli_command("account", data_export_cli.export_run_command,
                     help="The Enelink ID (アカウント).")
registry.personal_data("account", personal_data.account_tables, order=10)
registry.refuse_while_acting("account.data_export", "account.data_export_download")
# <<< export
# >>> sessions (helper B): ログイン中の端末 and the e-mail change
from blueprints.account import devices_views, email_change, email_change_views  # noqa: E402,F401

# Whoever acts for the owner neither sees nor ends the owner's sign-ins, nor moves the ID
# to another address (nor confirms or undoes such a move).
registry.refuse_while_acting("account.devices", "account.device_sign_out",
                             "account.devices_sign_out_others", "account.devices_sign_out_all",
                             "account.email_change", "account.email_change_confirm",
                             "account.email_change_undo")
# Whether the new address gets the link or an "it has an ID already" mail: the relay.
on_mail_request(email_change.EMAIL_CHANGE_REQUEST, email_change.email_change_requested)
# <<< sessions
# >>> twostep
# Two-step sign-in: its pages (second_step_views), staff's reset of a lost device
# (/staff/accounts/, support agents), and nobody acting for the owner changes how the
# owner signs in.
from blueprints.core.staff import SUPPORT, staff_blueprint  # noqa: E402

staff_bp = staff_blueprint("accounts", __name__, role=SUPPORT)

from blueprints.account import second_step_views, staff_views  # noqa: E402,F401

registry.refuse_while_acting("account.second_step_settings", "account.totp_setup",
                             "account.totp_remove", "account.recovery_codes_new",
                             "account.passkey_register_options", "account.passkey_register",
                             "account.passkey_remove")
# <<< twostep
# >>> legacy (helper B): accounts of the old portal: `flask --app app accounts import`,
# sign-in by old user name and the one-time 移行手続き (legacy_views).
from blueprints.account import legacy, legacy_cli, legacy_views  # noqa: E402,F401

registry.cli_command("accounts", legacy_cli.import_command,
                     help="Accounts of the old portal (移行).")
registry.demo_data("legacy", legacy.seed_demo_legacy_account, order=11)
# <<< legacy
# >>> join
# 会社の検索 and 従業員からのリクエスト: their pages; whoever acts for the owner neither asks
# to join a company in the owner's name nor decides the company's requests; a deleted
# account's requests go with it; the demo company has a request waiting.
from blueprints.account import join_requests, join_requests_views  # noqa: E402,F401

registry.refuse_while_acting("account.company_join_confirm", "account.join_request_withdraw",
                             "account.company_findable", "account.join_requests",
                             "account.join_request_approve", "account.join_request_decline")
registry.on_account_deleted(join_requests.forget_account)
registry.demo_data("join_requests", demo.seed_demo_join_request, order=11)
# <<< join
# >>> help: this service's よくある質問 (help/faq/account.toml, edited by the operator)
registry.faq("account", _l("Enelink IDに関するよくある質問とその回答"), "account.toml", order=10)
# <<< help
# >>> help: 「メールアドレスを忘れた場合」 — the relay decides whether a reminder goes out
from blueprints.account import forgot_email as _forgot_email  # noqa: E402
from blueprints.account import forgot_email_views  # noqa: E402,F401

on_mail_request(_forgot_email.FORGOT_EMAIL, _forgot_email.forgotten_email_requested)
# <<< help
