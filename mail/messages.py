"""One function per message. Each writes to the outbox in the caller's transaction."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import force_locale
from flask_babel import gettext as _

from blueprints.core.links import public_url
from mail import queue_mail
from models.account import Account, Company


def _subject(locale: str, text_fn) -> str:
    with force_locale(locale):
        return text_fn()


def _mail_account(kind: str, account: Account, subject_fn, **context) -> None:
    """Queue mail `kind` (templates mail/<kind>.txt/.html) to an account, in its language."""
    locale = account.language
    queue_mail(kind, account.email, _subject(locale, subject_fn), kind, locale=locale,
               account=account, **context)


def send_activation_mail(account: Account, token: str, expires_at: datetime) -> None:
    """【アカウント登録のご確認】 with the link that opens the account (24 h)."""
    _mail_account("activation", account,
                  lambda: _("【%(site)s】アカウント登録のご確認", site=_site()),
                  link=public_url("account.activate", token=token), expires_at=expires_at)


def send_password_reset_mail(account: Account, token: str, expires_at: datetime) -> None:
    """【パスワード再設定のご案内】 with a one-hour link."""
    _mail_account("password_reset", account,
                  lambda: _("【%(site)s】パスワード再設定のご案内", site=_site()),
                  link=public_url("account.password_reset_confirm", token=token),
                  expires_at=expires_at)


def send_password_changed_mail(account: Account, changed_at: datetime) -> None:
    """【パスワード変更のお知らせ】 so that an unexpected change is noticed."""
    _mail_account("password_changed", account,
                  lambda: _("【%(site)s】パスワード変更のお知らせ", site=_site()),
                  changed_at=changed_at, reset_link=public_url("account.password_reset"))


def send_account_exists_mail(account: Account) -> None:
    """【アカウントはすでに登録されています】 when someone signs up with the address of an
    existing ID: no second account is made; the owner gets the ways to sign in and to
    reset the password."""
    _mail_account("account_exists", account,
                  lambda: _("【%(site)s】アカウントはすでに登録されています", site=_site()),
                  login_link=public_url("account.login"),
                  reset_link=public_url("account.password_reset"))


def send_invitation_mail(email: str, family_name: str, given_name: str, inviter: Account,
                         company: Company, token: str, expires_at: datetime) -> None:
    """【商用アカウントへの招待】 from a company account to a new or existing ID. The
    subject is fixed: names a company chose (its own, its inviter's) appear only in the
    body, so that an invitation cannot be used to put any text in front of anyone."""
    queue_mail(
        "invitation", email,
        _subject("ja", lambda: _("【%(site)s】商用アカウントへの招待", site=_site())),
        "invitation", family_name=family_name, given_name=given_name, inviter=inviter,
        company=company, link=public_url("account.invitation", token=token),
        expires_at=expires_at,
    )


def send_removed_from_company_mail(account: Account, company: Company,
                                   removed_at: datetime) -> None:
    """【商用アカウントの従業員から削除されました】 to a person an administrator removed from a
    company: what they can no longer use, and that their ID stays. The company's name is
    in the body only (names chosen by users stay out of subject lines)."""
    _mail_account("removed_from_company", account,
                  lambda: _("【%(site)s】商用アカウントの従業員から削除されました", site=_site()),
                  company=company, removed_at=removed_at,
                  login_link=public_url("account.login"))


def _site() -> str:
    from flask import current_app

    return current_app.config["SITE_NAME"]


def _mail_dealer(kind: str, subject_fn, recipients: list[str], **context) -> None:
    """Queue mail `kind` to each maintenance address of a dealer (in Japanese: a company
    account has no language of its own)."""
    subject = _subject("ja", subject_fn)
    for recipient in recipients:
        queue_mail(kind, recipient, subject, kind, **context)


def send_dealer_linked_mail(recipients: list[str], dealer, company: Company, owner: Account,
                            gateway, linked_at: datetime) -> None:
    """【保守契約の販売店として登録されました】 to a dealer an owner entrusted a gateway to."""
    _mail_dealer("dealer_linked",
                 lambda: _("【%(site)s】保守契約の販売店として登録されました", site=_site()),
                 recipients, dealer=dealer, company=company, owner=owner, gateway=gateway,
                 when=linked_at)


def send_dealer_unlinked_mail(recipients: list[str], dealer, company: Company, owner: Account,
                              gateway, unlinked_at: datetime) -> None:
    """【保守契約の販売店の登録が解除されました】 when an owner ends a dealer's maintenance."""
    _mail_dealer("dealer_unlinked",
                 lambda: _("【%(site)s】保守契約の販売店の登録が解除されました", site=_site()),
                 recipients, dealer=dealer, company=company, owner=owner, gateway=gateway,
                 when=unlinked_at)


def send_dealer_gateway_exchanged_mail(recipients: list[str], dealer, company: Company,
                                      owner: Account, old_gateway, new_gateway,
                                      exchanged_at: datetime) -> None:
    """【保守中のゲートウェイが交換されました】 to a linked dealer: the owner exchanged the
    gateway, and the maintenance link moved to the new one."""
    _mail_dealer("dealer_gateway_exchanged",
                 lambda: _("【%(site)s】保守中のゲートウェイが交換されました（%(id)s）",
                           site=_site(), id=old_gateway.gateway_id),
                 recipients, dealer=dealer, company=company, owner=owner,
                 gateway=old_gateway, new_gateway=new_gateway, when=exchanged_at)


def send_dealer_gateway_disposed_mail(recipients: list[str], dealer, company: Company,
                                      owner: Account, gateway, disposed_at: datetime) -> None:
    """【保守中のゲートウェイが廃棄されました】 to a linked dealer: the owner disposed of the
    gateway, which ends the maintenance link. Queued before the site is cleared."""
    _mail_dealer("dealer_gateway_disposed",
                 lambda: _("【%(site)s】保守中のゲートウェイが廃棄されました（%(id)s）",
                           site=_site(), id=gateway.gateway_id),
                 recipients, dealer=dealer, company=company, owner=owner, gateway=gateway,
                 when=disposed_at)


def send_provisional_registration_mail(account: Account, gateway, token: str,
                                       expires_at: datetime) -> None:
    """【アカウント仮登録のお知らせ】: the link (valid until the stated date) where a
    first-time monitoring owner sets a password and finishes the registration."""
    _mail_account("provisional_registration", account,
                  lambda: _("【%(site)s】アカウント仮登録のお知らせ", site=_site()),
                  link=public_url("gateways.registration_password", token=token),
                  expires_at=expires_at, gateway=gateway)


def send_registration_has_id_mail(account: Account, gateway) -> None:
    """Sent instead of 【アカウント仮登録のお知らせ】 when the address given at the monitoring
    registration already has an ID: nothing new was created; sign in and add the gateway
    (or reset the password first). The page said the same as for a new address."""
    _mail_account("registration_has_id", account,
                  lambda: _("【%(site)s】遠隔モニタリングサービスのご登録について", site=_site()),
                  gateway=gateway, add_link=public_url("gateways.add_gateway"),
                  reset_link=public_url("account.password_reset"))


def _alert_subject(gateway, alert, recovered: bool):
    """The subject (to be rendered in the recipient's language) and the outbox kind of an
    alert mail, the same for the owner, the dealers and the extra recipients."""
    site, gateway_id = _site(), gateway.gateway_id
    if recovered and alert.kind == "unapplied":
        subject = lambda: _("【%(site)s】設定がゲートウェイに反映されました（%(id)s）",  # noqa: E731
                            site=site, id=gateway_id)
    elif recovered:
        subject = lambda: _("【%(site)s】ゲートウェイが復旧しました（%(id)s）",  # noqa: E731
                            site=site, id=gateway_id)
    elif alert.kind == "silent":
        subject = lambda: _("【%(site)s】ゲートウェイからの通信が途絶えています（%(id)s）",  # noqa: E731
                            site=site, id=gateway_id)
    elif alert.kind == "unapplied":
        subject = lambda: _("【%(site)s】設定がゲートウェイに反映されていません（%(id)s）",  # noqa: E731
                            site=site, id=gateway_id)
    else:
        subject = lambda: _("【%(site)s】ゲートウェイの異常を検知しました（%(id)s）",  # noqa: E731
                            site=site, id=gateway_id)
    return subject, "gateway_recovered" if recovered else "gateway_alert"


def send_gateway_alert_mail(recipient: str, locale: str, gateway, alert, recovered: bool,
                            when: datetime, owner: Account | None,
                            company: Company | None = None, actions=()) -> None:
    """One mail per incident and recipient: 【ゲートウェイの異常を検知しました】,
    【ゲートウェイからの通信が途絶えています】 or, when it ends, 【ゲートウェイが復旧しました】.
    `company` is given for a linked dealer's maintenance contact (the mail then names the
    owner as the customer), left out for the owner. `actions` are links other services
    offer at the end (each with a `label` and an absolute `url`)."""
    subject, kind = _alert_subject(gateway, alert, recovered)
    queue_mail(kind, recipient, _subject(locale, subject), "gateway_alert", locale=locale,
               gateway=gateway, alert=alert, recovered=recovered, when=when, owner=owner,
               company=company, actions=actions,
               link=public_url("monitoring.monitor", gateway_id=gateway.gateway_id))


# -- club: dealer sign-up --
def send_dealer_signup_mail(email: str, token: str, expires_at: datetime) -> None:
    """【販売店・業者様 仮登録のお知らせ】 with the link to 販売店情報 (1 hour, single use)."""
    queue_mail("club_dealer_signup", email,
               _subject("ja", lambda: _("【%(site)s】販売店・業者様 仮登録のお知らせ",
                                        site=_site())),
               "club_dealer_signup", email=email,
               link=public_url("club.dealer_signup_link", token=token), expires_at=expires_at,
               signup_link=public_url("club.dealer_signup"))


def send_dealer_signup_existing_mail(account: Account) -> None:
    """The address asked for the dealer sign-up already has an ID: no sign-up link; sign
    in and register the company as a dealer from there (or open the console)."""
    _mail_account("club_dealer_signup_existing", account,
                  lambda: _("【%(site)s】販売店・業者様の新規会員登録について", site=_site()),
                  login_link=public_url("club.dealer_login"),
                  register_link=public_url("dealers.register"),
                  reset_link=public_url("account.password_reset"))


def send_dealer_welcome_mail(account: Account, dealer) -> None:
    """【会員登録ありがとうございます】 with the 販売店ID owners are given and the console."""
    _mail_account("club_dealer_welcome", account,
                  lambda: _("【%(site)s】会員登録ありがとうございます", site=_site()),
                  dealer=dealer, console_link=public_url("dealers.console"),
                  login_link=public_url("club.dealer_login"))


# -- club: proxy login --
def send_proxy_started_mail(owner: Account, proxy) -> None:
    """【代理ログインのお知らせ】 to the owner when a dealer's employee starts acting for
    them: who (dealer company, employee), when, why, until when, and where to end it.
    The subject is fixed; the names and the reason a dealer typed are only in the body."""
    _mail_account("proxy_started", owner,
                  lambda: _("【%(site)s】代理ログインのお知らせ", site=_site()),
                  proxy=proxy, access_link=public_url("account.access"),
                  history_link=public_url("club.access_history"))
# -- club: login permissions --
def send_permission_request_mail(recipient: str, owner: Account, model_name: str | None,
                                 serial: str | None, token: str) -> None:
    """「新規メールアドレス登録用リンクにアクセスしてください」 to a dealer's member an owner
    named: the owner's name, フリガナ, address, e-mail, system model and serial, and the
    approval link (valid until decided). The owner's text stays out of the subject."""
    queue_mail("club_permission_request", recipient,
               _subject("ja", lambda: _("【%(site)s】新規メールアドレス登録用リンクにアクセスしてください",
                                        site=_site())),
               "club_permission_request", owner=owner, model_name=model_name, serial=serial,
               link=public_url("club.approval", token=token))


def send_permission_rejected_mail(owner: Account, dealer_address: str, company) -> None:
    """「ログイン連携が拒否されました」 to the owner, naming the dealer's address."""
    _mail_account("club_permission_rejected", owner,
                  lambda: _("【%(site)s】ログイン連携が拒否されました", site=_site()),
                  dealer_address=dealer_address, company=company,
                  info_link=public_url("club.customer_info"))


# >>> eco (helper A) mails
def send_eco_guidance_mail(account: Account, gateway) -> None:
    """【みんなでつくるエコ活サークル お申込みのご案内】 (seed 001-02): only to owners whose
    gateway meets every measurable condition; what the programme is and where to apply."""
    _mail_account("eco_guidance", account,
                  lambda: _("【みんなでつくるエコ活サークル お申込みのご案内】%(site)s", site=_site()),
                  gateway=gateway, eco_link=public_url("eco.index"),
                  login_link=public_url("account.login"))


def send_eco_applied_mail(account: Account, membership, points_signup_url: str) -> None:
    """【みんなでつくるエコ活サークル お申込み完了のお知らせ】 (seed 001-23): 申込完了日時,
    ゲートウェイID, パワーコンディショナ製造番号 and the points sign-up URL."""
    _mail_account("eco_applied", account,
                  lambda: _("【みんなでつくるエコ活サークル お申込み完了のお知らせ】%(site)s",
                            site=_site()),
                  membership=membership, points_signup_url=points_signup_url,
                  eco_link=public_url("eco.gateways"))


def send_eco_cancelled_mail(account: Account, membership) -> None:
    """【みんなでつくるエコ活サークル 解約完了のお知らせ】 (seed 001-24): which gateway, since
    and until when, and that it may apply again."""
    _mail_account("eco_cancelled", account,
                  lambda: _("【みんなでつくるエコ活サークル 解約完了のお知らせ】%(site)s",
                            site=_site()),
                  membership=membership, eco_link=public_url("eco.gateways"))
# <<< eco


# >>> points sign-up (helper B) mails
def send_points_signup_mail(email: str, token: str, expires_at: datetime) -> None:
    """【会員登録URLのお知らせ】 (001-29): the link to STEP1 of the points sign-up
    (POINTS_SIGNUP_LINK_TTL, single use); not registered yet."""
    queue_mail("points_signup_link", email,
               _subject("ja", lambda: _("【%(site)s ポイント】会員登録URLのお知らせ", site=_site())),
               "points_signup_link", email=email,
               link=public_url("points.signup_link", token=token), expires_at=expires_at,
               signup_link=public_url("points.signup"))


def send_points_signup_existing_mail(account: Account) -> None:
    """The address asked for the points sign-up already has an ID: no sign-up link; sign
    in and continue at /points/signup."""
    _mail_account("points_signup_existing", account,
                  lambda: _("【%(site)s ポイント】会員登録のお手続きについて", site=_site()),
                  login_link=public_url("account.login",
                                        next=urlsplit(public_url("points.signup")).path),
                  signup_link=public_url("points.signup"),
                  reset_link=public_url("account.password_reset"))


def send_points_welcome_mail(account: Account, membership) -> None:
    """【会員登録完了のお知らせ】 (001-44): 氏名, ゲートウェイID, PCS製造番号, the two
    documents agreed to, the member page, the contact."""
    _mail_account("points_signup_complete", account,
                  lambda: _("【%(site)s ポイント】会員登録完了のお知らせ", site=_site()),
                  gateway_code=membership.gateway_code, pcs_serial=membership.pcs_serial,
                  terms_link=public_url("points.terms"),
                  privacy_link=public_url("points.privacy"),
                  mypage_link=public_url("points.mypage"))
# <<< points sign-up


# >>> points ledger (helper C) mails
def send_points_exchange_mail(account: Account, member, entry, item: dict,
                              balance_after: int) -> None:
    """【ポイント交換受付のお知らせ】: the item, the points taken and the balance after."""
    _mail_account("points_exchange", account,
                  lambda: _("【%(site)s】ポイント交換受付のお知らせ", site=_site()),
                  member=member, entry=entry, item=item, balance_after=balance_after,
                  mypage_link=public_url("points.mypage"))


def send_points_left_mail(account: Account, member, forfeited: int) -> None:
    """【ポイントサービス退会のお知らせ】: the membership ended, the points forfeited, and
    that this ID cannot join again."""
    _mail_account("points_left", account,
                  lambda: _("【%(site)s】ポイントサービス退会のお知らせ", site=_site()),
                  member=member, forfeited=forfeited)
# <<< points ledger


# >>> support cases (foundation) mails
def send_support_case_filed_mail(account: Account, case) -> None:
    """【ケース受付のお知らせ】 (seed 000-47/48): the case number and subject, and the link to
    the case (sign-in needed). Nothing else of the case goes by mail."""
    _mail_account("support_case_filed", account,
                  lambda: _("【%(site)s】ケース受付のお知らせ（ケース番号 %(number)s）",
                            site=_site(), number=case.number),
                  case=case, case_link=public_url("support.case", number=case.number))


def send_support_reply_mail(account: Account, case) -> None:
    """【サポートからの回答のお知らせ】 (seed 000-49): support answered; the case number, its
    subject and the link (sign-in needed), never the answer itself."""
    _mail_account("support_reply", account,
                  lambda: _("【%(site)s】サポートからの回答のお知らせ（ケース番号 %(number)s）",
                            site=_site(), number=case.number),
                  case=case, case_link=public_url("support.case", number=case.number))
# <<< support cases


# >>> support phone mails
def send_support_phone_requested_mail(account: Account, case, phone_request) -> None:
    """【電話サポートのご依頼を受け付けました】 (seed 000 注意事項): the slot asked for, the case
    number and the link to the case (sign-in needed); support still has to confirm."""
    _mail_account("support_phone_requested", account,
                  lambda: _("【%(site)s】電話サポートのご依頼を受け付けました（ケース番号 %(number)s）",
                            site=_site(), number=case.number),
                  case=case, phone_request=phone_request,
                  case_link=public_url("support.case", number=case.number))


def send_support_phone_decided_mail(account: Account, case, phone_request) -> None:
    """【電話サポートのご依頼について】: confirmed or declined, the slot and staff's note."""
    _mail_account("support_phone_decided", account,
                  lambda: _("【%(site)s】電話サポートのご依頼について（ケース番号 %(number)s）",
                            site=_site(), number=case.number),
                  case=case, phone_request=phone_request,
                  confirmed=phone_request.state == "confirmed",
                  case_link=public_url("support.case", number=case.number))
# <<< support phone mails


# >>> recipients
# Extra alert recipients of a gateway (blueprints/monitoring/recipients.py). A recipient
# is told only the owner's family name and the gateway's 案件 (site name), never a link
# that needs the owner's sign-in.
def send_alert_recipient_confirm_mail(email: str, owner: Account, gateway, token: str,
                                      expires_at: datetime) -> None:
    """【アラートメールの受信確認】 to an address the owner added: whose gateway, what it
    will receive, that it can stop any time, and the confirmation link. The subject is
    fixed; the owner's family name and the site name are in the body only."""
    queue_mail("alert_recipient_confirm", email,
               _subject("ja", lambda: _("【%(site)s】アラートメールの受信確認", site=_site())),
               "alert_recipient_confirm", family_name=owner.family_name, gateway=gateway,
               link=public_url("monitoring.alert_recipient_confirm", token=token),
               expires_at=expires_at)


def send_alert_recipient_confirmed_mail(owner: Account, email: str, gateway) -> None:
    """【アラートメールの受信先が確認されました】 to the owner: the address now receives."""
    _mail_account("alert_recipient_confirmed", owner,
                  lambda: _("【%(site)s】アラートメールの受信先が確認されました", site=_site()),
                  email=email, gateway=gateway,
                  manage_link=public_url("monitoring.alert_recipients",
                                         gateway_id=gateway.gateway_id))


def send_alert_recipient_stopped_mail(owner: Account, email: str, gateway) -> None:
    """【アラートメールの受信が停止されました】 to the owner: the recipient stopped."""
    _mail_account("alert_recipient_stopped", owner,
                  lambda: _("【%(site)s】アラートメールの受信が停止されました", site=_site()),
                  email=email, gateway=gateway,
                  manage_link=public_url("monitoring.alert_recipients",
                                         gateway_id=gateway.gateway_id))


def send_alert_recipient_alert_mail(email: str, owner: Account, gateway, alert,
                                    recovered: bool, when: datetime, stop_link: str) -> None:
    """The alert mail to a confirmed recipient, in Japanese: the same subject as the
    owner's, the owner's family name and the site name only, no link that needs the
    owner's sign-in, and the recipient's stop link."""
    subject, kind = _alert_subject(gateway, alert, recovered)
    queue_mail(kind, email, _subject("ja", subject), "alert_recipient_alert",
               family_name=owner.family_name, gateway=gateway, alert=alert,
               recovered=recovered, when=when, stop_link=stop_link)
# <<< recipients
# >>> export (helper E) mails
def send_data_export_ready_mail(account: Account, token: str, expires_at: datetime) -> None:
    """【個人データのダウンロードの準備ができました】 with the link (sign-in needed) and
    until when it works."""
    _mail_account("data_export_ready", account,
                  lambda: _("【%(site)s】個人データのダウンロードの準備ができました", site=_site()),
                  link=public_url("account.data_export_download", token=token),
                  expires_at=expires_at)
# <<< export
# >>> sessions (helper B): new browser, e-mail change
def send_new_browser_mail(account: Account, signed_in_at: datetime, device: str,
                          network: str, place: str) -> None:
    """【新しい端末からのログイン】: a sign-in from a browser this account has not used, with
    the ways to sign it out and to reset the password."""
    _mail_account("new_browser_sign_in", account,
                  lambda: _("【%(site)s】新しい端末からのログイン", site=_site()),
                  signed_in_at=signed_in_at, device=device, network=network, place=place,
                  devices_link=public_url("account.devices"),
                  reset_link=public_url("account.password_reset"))


def send_email_change_mail(account: Account, new_email: str, token: str,
                           expires_at: datetime) -> None:
    """【メールアドレス変更のご確認】 to the new address, with the link that makes it the
    ID's address (EMAIL_CHANGE_LINK_TTL)."""
    locale = account.language
    queue_mail("email_change_confirm", new_email,
               _subject(locale, lambda: _("【%(site)s】メールアドレス変更のご確認", site=_site())),
               "email_change_confirm", locale=locale, account=account,
               link=public_url("account.email_change_confirm", token=token),
               expires_at=expires_at)


def send_email_change_in_use_mail(new_email: str, locale: str) -> None:
    """To an address someone asked to move their ID to while it already has an ID: the
    page said the same as for any address; only this mail tells, and nothing changed."""
    queue_mail("email_change_in_use", new_email,
               _subject(locale, lambda: _("【%(site)s】メールアドレス変更のお申し込みについて",
                                          site=_site())),
               "email_change_in_use", locale=locale,
               login_link=public_url("account.login"),
               reset_link=public_url("account.password_reset"))


def send_email_changed_old_mail(account: Account, old_email: str, changed_at: datetime,
                                token: str, expires_at: datetime) -> None:
    """【メールアドレス変更のお知らせ】 to the old address, with the undo link
    (EMAIL_CHANGE_UNDO_TTL) that puts it back and signs everyone out."""
    locale = account.language
    queue_mail("email_changed_old", old_email,
               _subject(locale, lambda: _("【%(site)s】メールアドレス変更のお知らせ", site=_site())),
               "email_change_old", locale=locale, account=account, changed_at=changed_at,
               link=public_url("account.email_change_undo", token=token),
               expires_at=expires_at)


def send_email_changed_new_mail(account: Account, changed_at: datetime) -> None:
    """【メールアドレス変更完了のお知らせ】 to the new address."""
    _mail_account("email_change_done", account,
                  lambda: _("【%(site)s】メールアドレス変更完了のお知らせ", site=_site()),
                  changed_at=changed_at, login_link=public_url("account.login"))


def send_email_change_undone_mail(account: Account, undone_at: datetime) -> None:
    """【メールアドレスを元に戻しました】 to the restored address, with the password reset."""
    _mail_account("email_change_undone", account,
                  lambda: _("【%(site)s】メールアドレスを元に戻しました", site=_site()),
                  undone_at=undone_at, reset_link=public_url("account.password_reset"))
# <<< sessions
# >>> handover mails
def send_gateway_handover_mail(account: Account, gateway, handover, slip_password: str,
                               pcs_serials: list[str], dealer_names: list[str],
                               registration_url: str) -> None:
    """【ゲートウェイ譲渡のお知らせ】 to the previous owner: the ゲートウェイID and the new
    slip password, laid out as a printable slip in the HTML part, to hand over with the
    house; what ended (dealer links, programmes) and where their history stays."""
    _mail_account("gateway_handover", account,
                  lambda: _("【%(site)s】ゲートウェイ譲渡のお知らせ（%(id)s）", site=_site(),
                            id=gateway.gateway_id),
                  gateway=gateway, handover=handover, slip_password=slip_password,
                  pcs_serials=pcs_serials, dealer_names=dealer_names,
                  registration_url=registration_url,
                  handovers_link=public_url("gateways.handovers"))
# <<< handover mails
# >>> twostep
# Two-step sign-in: every change of how an account signs in is told to the account, so
# that a change the owner did not make is noticed.
def _second_step_mail(kind: str, account: Account, subject_fn, when: datetime,
                      **context) -> None:
    _mail_account(kind, account, subject_fn, when=when,
                  settings_link=public_url("account.second_step_settings"),
                  reset_link=public_url("account.password_reset"), **context)


def send_second_step_added_mail(account: Account, method: str, when: datetime) -> None:
    """【2段階認証を設定しました】: an authenticator app ("totp") or a passkey was added."""
    _second_step_mail("second_step_added", account,
                      lambda: _("【%(site)s】2段階認証を設定しました", site=_site()),
                      when, method=method)


def send_second_step_removed_mail(account: Account, method: str, when: datetime) -> None:
    """【2段階認証の設定を削除しました】: an authenticator app or a passkey was removed."""
    _second_step_mail("second_step_removed", account,
                      lambda: _("【%(site)s】2段階認証の設定を削除しました", site=_site()),
                      when, method=method)


def send_second_step_codes_mail(account: Account, when: datetime) -> None:
    """【リカバリーコードを再発行しました】: the old codes no longer work."""
    _second_step_mail("second_step_codes", account,
                      lambda: _("【%(site)s】リカバリーコードを再発行しました", site=_site()),
                      when)


def send_second_step_reset_mail(account: Account, when: datetime) -> None:
    """【2段階認証がリセットされました】: support staff removed every second step (the
    owner lost the device) and signed out every browser."""
    _second_step_mail("second_step_reset", account,
                      lambda: _("【%(site)s】2段階認証がリセットされました", site=_site()),
                      when, login_link=public_url("account.login"))
# <<< twostep
# >>> staff
def send_staff_roles_changed_mail(account: Account, roles_from: list[str],
                                  roles_to: list[str], actor: Account | None,
                                  changed_at: datetime) -> None:
    """【スタッフ権限の変更のお知らせ】: the staff roles before and after (none after:
    no longer staff), who changed them (the command line when nobody) and when."""
    from blueprints.core.staff import STAFF_ROLES

    _mail_account("staff_roles_changed", account,
                  lambda: _("【%(site)s】スタッフ権限の変更のお知らせ", site=_site()),
                  roles_from=[STAFF_ROLES[role] for role in roles_from],
                  roles_to=[STAFF_ROLES[role] for role in roles_to],
                  actor=actor, changed_at=changed_at, home_link=public_url("core.index"))
# <<< staff
# >>> remote
def send_settings_changed_mail(owner: Account, gateway, version, changes, company: Company,
                               employee: Account) -> None:
    """【蓄電システムの設定が変更されました】 to the owner when a linked dealer's employee
    changed the settings: which dealer and who, what changed (from → to), and the link to
    the settings page (sign-in needed)."""
    _mail_account("settings_changed", owner,
                  lambda: _("【%(site)s】蓄電システムの設定が変更されました（%(id)s）",
                            site=_site(), id=gateway.gateway_id),
                  gateway=gateway, version=version, changes=changes, company=company,
                  employee=employee,
                  link=public_url("monitoring.settings", gateway_id=gateway.gateway_id))
# <<< remote


# >>> join
def send_join_request_mail(admin: Account, requester: Account, company: Company) -> None:
    """【従業員からのリクエスト】 to an administrator of a company someone asked to join (found
    with 会社の検索), with a link to 「従業員からのリクエストの管理」. Sent once the
    requester's address is confirmed. Names people typed appear in the body only."""
    _mail_account("join_request", admin,
                  lambda: _("【%(site)s】従業員からのリクエスト", site=_site()),
                  requester=requester, company=company,
                  link=public_url("account.join_requests"))


def send_join_request_decided_mail(requester: Account, company: Company,
                                   approved: bool) -> None:
    """【会社への参加が承認されました】 or 【会社への参加が承認されませんでした】 to the person
    who asked to join a company."""
    if approved:
        _mail_account("join_request_approved", requester,
                      lambda: _("【%(site)s】会社への参加が承認されました", site=_site()),
                      company=company, login_link=public_url("account.settings"))
    else:
        _mail_account("join_request_declined", requester,
                      lambda: _("【%(site)s】会社への参加が承認されませんでした", site=_site()),
                      company=company, settings_link=public_url("account.company_join"))
# <<< join


# >>> help: 「メールアドレスを忘れた場合」
def send_forgotten_email_mail(account: Account, gateway_id: str) -> None:
    """【ユーザID（メールアドレス）のご案内】: the address this mail reaches is the ID; with
    the sign-in and password-reset links. Sent only when name, phone and gateway matched."""
    _mail_account("forgot_email", account,
                  lambda: _("【%(site)s】ユーザID（メールアドレス）のご案内", site=_site()),
                  gateway_id=gateway_id, login_link=public_url("account.login"),
                  reset_link=public_url("account.password_reset"))
# <<< help
