"""マイページ (`/club/mypage`): お客様番号, 登録製品 with warranty and services,
電力データを見る. Views parse input, call one service of products.py, render.

HTMX: the product form and the subscription steps post with `hx-post`; a partial answers
(422 on a mistake), and success sends the browser on with `HX-Redirect`. Without
JavaScript the same URLs post, redirect and get."""
from __future__ import annotations

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.club import bp, products
from blueprints.core.pages import go_to, page_or_partial
from forms.club import ProductDeleteForm, ProductForm, SubscriptionForm
from forms.validators import lookup_postal_code, normalize_postal_code, today_in_japan


@bp.get("/mypage")
@login_required
def mypage():
    """マイページ: お客様番号, each registered product with its warranty, services and
    電力データを見る (from 7:00 the day after 見守りサービス started)."""
    return render_template("club/mypage.html", products=products.owner_products(current_user),
                           PowerData=products.PowerData, today=today_in_japan())


def _model_choices(current_model_id: int | None = None):
    models = products.offered_models()
    choices = [("", _("選択してください"))] + [(str(m.id), m.name) for m in models]
    return choices


def _postal_area(code: str | None):
    code = normalize_postal_code(code or "")
    return lookup_postal_code(code) if len(code) == 7 and code.isdigit() else None


@bp.get("/mypage/postal-area")
@login_required
def postal_area():
    """HTMX partial under 設置場所郵便番号: the area the code stands for (204 until seven
    digits were typed)."""
    code = normalize_postal_code(request.args.get("postal_code", ""))[:20]
    if len(code) != 7 or not code.isdigit():
        return "", 204
    return render_template("club/_postal_area.html", area=_postal_area(code), looked_up=True)


@bp.route("/mypage/products/new", methods=["GET", "POST"])
@login_required
def product_new():
    """製品登録: a product by hand (a registered gateway's appears by itself)."""
    form = ProductForm()
    form.model_id.choices = _model_choices()
    if request.method == "POST" and "lookup" not in request.form and form.validate_on_submit():
        product = products.register_product(current_user, form.product_data())
        if product is not None:
            flash(_("製品を登録しました"), "success")
            return go_to("club.mypage", _anchor=f"product-{product.id}")
        form.model_id.errors = [_("一覧から選択してください")]
    return _form_page(form, None)


@bp.route("/mypage/products/<int:product_id>/edit", methods=["GET", "POST"])
@login_required
def product_edit(product_id: int):
    """登録製品の編集. A gateway's product: 室内リモコン製造番号 and 運転開始日 only."""
    product = products.owned_product(current_user, product_id) or abort(404)
    shown = products.shown_product(current_user, product)
    form = ProductForm(data=None if request.method == "POST" else {
        "model_id": str(product.model_id or ""), "system_serial": product.system_serial,
        "remote_serial": product.remote_serial or "", "postal_code": product.postal_code,
        "installed_on": shown.installed_on.isoformat() if shown.installed_on else ""})
    form.model_id.choices = _model_choices()
    if product.model is not None and not product.model.offered:
        form.model_id.choices.append((str(product.model.id), product.model.name))
    if shown.from_gateway:  # these come from the gateway and are not posted
        form.model_id.data = str(product.model_id or "")
        form.model_id.choices = [(form.model_id.data, shown.model_name or "")]
        form.system_serial.data = product.system_serial
        form.postal_code.data = product.postal_code
    if request.method == "POST" and "lookup" not in request.form and (
            _gateway_fields_valid(form) if shown.from_gateway else form.validate_on_submit()):
        if not products.update_product(current_user, product_id, form.product_data()):
            abort(404)
        flash(_("登録製品を保存しました"), "success")
        return go_to("club.mypage", _anchor=f"product-{product_id}")
    return _form_page(form, shown)


def _gateway_fields_valid(form: ProductForm) -> bool:
    """A gateway product's form posts only 室内リモコン製造番号 and 運転開始日."""
    if not form.validate_on_submit():
        return not any(form[name].errors for name in ("remote_serial", "installed_on",
                                                       "csrf_token"))
    return True


def _form_page(form: ProductForm, shown):
    status = 422 if request.method == "POST" and "lookup" not in request.form else 200
    if status == 422 and not form.errors:
        status = 200
    return page_or_partial("club/product_form.html", "club/_product_form.html", status, form=form,
                 product=shown, area=_postal_area(form.postal_code.data),
                 looked_up="lookup" in request.form)


@bp.route("/mypage/products/<int:product_id>/delete", methods=["GET", "POST"])
@login_required
def product_delete(product_id: int):
    """登録製品の削除 (only a product registered by hand) after a confirmation page."""
    product = products.owned_product(current_user, product_id) or abort(404)
    if product.gateway_id is not None:
        abort(404)
    form = ProductDeleteForm()
    if form.validate_on_submit():
        if not products.delete_product(current_user, product_id):
            abort(404)
        flash(_("登録製品を削除しました"), "success")
        return go_to("club.mypage")
    return render_template("club/product_delete.html", form=form,
                           product=products.shown_product(current_user, product)), \
        422 if form.errors else 200


@bp.route("/mypage/products/<int:product_id>/services/<service>", methods=["GET", "POST"])
@login_required
def subscription(product_id: int, service: str):
    """サービス加入状況の変更: 加入 / 未加入 → 確認 → 完了."""
    if service not in products.SERVICES:
        abort(404)
    product = products.owned_product(current_user, product_id) or abort(404)
    shown = products.shown_product(current_user, product)
    current = products.subscription_of(shown, service)
    form = SubscriptionForm(data=None if request.method == "POST" else {
        "state": "in" if current.subscribed else "out"})
    context = dict(form=form, product=shown, service=service, current=current,
                   label=products.SERVICES[service])
    if request.method == "POST" and "back" not in request.form and form.validate_on_submit():
        wanted = form.state.data == "in"
        if form.step.data != "confirm":
            form.step.data = "confirm"
            return page_or_partial("club/subscription_confirm.html", "club/_subscription_confirm.html",
                         wanted=wanted, **context)
        result = products.change_subscription(current_user, product_id, service, wanted)
        if result is products.SubscriptionChange.NOT_FOUND:
            abort(404)
        return go_to("club.subscription_done", product_id=product_id, service=service)
    form.step.data = "entry"
    status = 422 if form.errors else 200
    return page_or_partial("club/subscription.html", "club/_subscription_form.html", status, **context)


@bp.get("/mypage/products/<int:product_id>/services/<service>/done")
@login_required
def subscription_done(product_id: int, service: str):
    """変更完了: the service's state now, and since when."""
    if service not in products.SERVICES:
        abort(404)
    product = products.owned_product(current_user, product_id) or abort(404)
    shown = products.shown_product(current_user, product)
    return render_template("club/subscription_done.html", product=shown, service=service,
                           current=products.subscription_of(shown, service),
                           label=products.SERVICES[service], PowerData=products.PowerData)
