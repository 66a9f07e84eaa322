"""Pages of the extra alert recipients: the owner's list with 宛先を追加 and 削除, and the
two pages a recipient opens from a mail without signing in (受信を開始する, 受信を停止する).
Views parse input, call one function of recipients.py, render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import limiter
from blueprints.core.links import LinkState
from blueprints.core.security import configured_limit
from blueprints.monitoring import bp, recipients
from forms.alert_recipients import AlertRecipientActionForm, AlertRecipientForm

MAIL_LIMIT = configured_limit("MAIL_SENDING_LIMIT")


def _owned_or_404(gateway_id: str):
    return recipients.owned_gateway(current_user, gateway_id) or abort(404)


def _list_page(gateway, form, status: int = 200):
    return render_template("monitoring/alert_recipients.html", gateway=gateway, form=form,
                           recipients=recipients.gateway_recipients(gateway),
                           remove_form=AlertRecipientActionForm(),
                           link_expired=recipients.link_expired,
                           max_recipients=recipients.max_recipients()), status


@bp.route("/gateways/<gateway_id>/alert-recipients", methods=["GET", "POST"])
@login_required
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def alert_recipients(gateway_id: str):
    """アラートメールの宛先: the gateway's extra recipients (確認待ち / 受信中) and 宛先を
    追加, which mails the address a confirmation link."""
    gateway = _owned_or_404(gateway_id)
    form = AlertRecipientForm()
    if form.validate_on_submit():
        try:
            problem = recipients.add_recipient(current_user, gateway_id, form.email.data)
        except LookupError:
            abort(404)
        if problem is None:
            flash(_("%(email)s に確認メールを送信しました。リンクが開かれると受信が始まります。",
                    email=form.email.data), "success")
            return redirect(url_for("monitoring.alert_recipients", gateway_id=gateway_id),
                            code=303)
        form.email.errors = [recipients.add_message(problem)]
        gateway = _owned_or_404(gateway_id)  # reloaded after the rollback
    return _list_page(gateway, form, 422 if request.method == "POST" and form.errors else 200)


@bp.route("/gateways/<gateway_id>/alert-recipients/<int:recipient_id>/remove",
          methods=["GET", "POST"])
@login_required
def alert_recipient_remove(gateway_id: str, recipient_id: int):
    """宛先の削除: a confirmation (from the access page), then the address receives no
    more alert mails and its confirmation link stops working."""
    gateway = _owned_or_404(gateway_id)
    recipient = recipients.gateway_recipient(gateway, recipient_id) or abort(404)
    form = AlertRecipientActionForm()
    if form.validate_on_submit():
        email = recipient.email
        if not recipients.remove_recipient(current_user, gateway_id, recipient_id):
            abort(404)
        flash(_("%(email)s をアラートメールの宛先から削除しました", email=email), "success")
        return redirect(url_for("monitoring.alert_recipients", gateway_id=gateway_id), code=303)
    return render_template("monitoring/alert_recipients_remove.html", gateway=gateway,
                           recipient=recipient, form=form), 422 if form.errors else 200


def _link_problem(state: LinkState):
    """An expired, spent, altered or withdrawn link: the shared link problem page."""
    status = 410 if state in (LinkState.EXPIRED, LinkState.SPENT) else 404
    return render_template("monitoring/alert_recipients_link_problem.html",
                           state=state.value), status


@bp.route("/alert-recipients/confirm/<token>", methods=["GET", "POST"])
def alert_recipient_confirm(token: str):
    """The link of 【アラートメールの受信確認】: whose gateway, and 受信を開始する (no
    sign-in: the link proves the address)."""
    form = AlertRecipientActionForm()
    if request.method == "POST" and form.validate_on_submit():
        found = recipients.confirm(token)
        if found.ok:
            return redirect(url_for("monitoring.alert_recipient_confirmed"), code=303)
        return _link_problem(found.state)
    found = recipients.invitation_for(token)
    if not found.ok:
        return _link_problem(found.state)
    return render_template("monitoring/alert_recipients_confirm.html", found=found,
                           form=form), 422 if form.errors else 200


@bp.get("/alert-recipients/confirmed")
def alert_recipient_confirmed():
    """受信を開始しました."""
    return render_template("monitoring/alert_recipients_confirmed.html")


@bp.route("/alert-recipients/stop/<token>", methods=["GET", "POST"])
def alert_recipient_stop(token: str):
    """The stop link of every alert mail to a recipient: 受信を停止する. The same answer
    whether the recipient still existed or not."""
    read = recipients.read_stop_token(token)
    if read is None:
        return _link_problem(LinkState.INVALID)
    form = AlertRecipientActionForm()
    if request.method == "POST" and form.validate_on_submit():
        recipients.stop(token)
        return redirect(url_for("monitoring.alert_recipient_stopped"), code=303)
    return render_template("monitoring/alert_recipients_stop.html", email=read[1],
                           form=form), 422 if form.errors else 200


@bp.get("/alert-recipients/stopped")
def alert_recipient_stopped():
    """受信を停止しました."""
    return render_template("monitoring/alert_recipients_stopped.html")
