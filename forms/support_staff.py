"""Forms of the staff desk (`/staff/support`): the queue's filters, a case's reply,
internal note, state and assignee, the categories and their details, and the
knowledge-base articles. Choices that come from data (categories, staff accounts) are set
by the view; `OneOf` refuses anything else with a Japanese message."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, MultipleFileField, SelectField, StringField,
                     SubmitField, TextAreaField)
from wtforms.validators import StopValidation

from forms.validators import (ListPosition, MaxLength, TextBlock, NoControlCharacters,
                              OneOf, Required, RequiredChoice, normalize_integer,
                              normalize_alnum_width, normalize_text_block,
                              normalize_one_line)

# The queue's filters; blueprints/support/desk.py reads the same keys.
STATE_FILTERS = (("active", _l("未完了（新規・対応中・お客様回答待ち）")), ("new", _l("新規")),
                 ("open", _l("対応中")), ("waiting", _l("お客様回答待ち")), ("resolved", _l("解決")),
                 ("closed", _l("クローズ")), ("all", _l("すべて")))
AGE_FILTERS = (("", _l("指定なし")), ("1", _l("1日以上")), ("3", _l("3日以上")),
               ("7", _l("7日以上")))
ASSIGNEE_FILTERS = (("all", _l("すべて")), ("me", _l("自分")), ("none", _l("未割当")))

NAME_MAX = 60          # support_category.name, support_detail.name
TITLE_MAX = 120        # kb_article.title
ARTICLE_MAX = 20_000
MESSAGE_MAX = 20_000
SEARCH_MAX = 100


class QueueFilterForm(FlaskForm):
    """The queue's filters (a GET form: no CSRF). An empty value is the default."""

    class Meta:
        csrf = False

    state = SelectField(_l("状態"), choices=list(STATE_FILTERS), default="active",
                        validators=[OneOf()], validate_choice=False)
    category = SelectField(_l("サポート内容"), validate_choice=False)
    age = SelectField(_l("経過（最終更新から）"), choices=list(AGE_FILTERS), default="",
                      validate_choice=False)
    assignee = SelectField(_l("担当"), choices=list(ASSIGNEE_FILTERS),
                           default="all", validators=[OneOf()], validate_choice=False)
    q = StringField(_l("検索"), filters=[normalize_one_line],
                    validators=[NoControlCharacters(), MaxLength(SEARCH_MAX)],
                    description=_l("ケース番号（9桁）、メールアドレス、件名、製造番号"))

    def set_categories(self, categories) -> None:
        self.category.choices = [("", _l("すべて"))] + [
            (str(category.id), category.name) for category in categories]

    def validate_category(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise StopValidation(_l("一覧から選択してください"))

    def validate_age(self, field):
        if (field.data or "") not in dict(AGE_FILTERS):
            raise StopValidation(_l("一覧から選択してください"))

    def filter_values(self) -> dict:
        """The filters to apply (desk.QueueFilters' fields): a field with an error
        counts as not set."""
        def good(field, default):
            return default if field.errors or not field.data else field.data

        category = good(self.category, None)
        age = good(self.age, None)
        return dict(state=good(self.state, "active"),
                    category_id=int(category) if category else None,
                    age_days=int(age) if age else None, assignee=good(self.assignee, "all"),
                    q=good(self.q, ""))


def _body_field(label):
    return TextAreaField(label, filters=[normalize_text_block],
                         validators=[Required(), TextBlock(), MaxLength(MESSAGE_MAX)],
                         render_kw={"rows": 8})


class StaffReplyForm(FlaskForm):
    """返信: the text the customer reads, files, and the state the case goes to."""

    body = _body_field(_l("返信内容"))
    files = MultipleFileField(_l("添付ファイル"))
    # Choices (お客様回答待ち first, the default) are set by the view.
    new_state = SelectField(_l("返信後の状態"), validators=[RequiredChoice(), OneOf()],
                            validate_choice=False)
    request_key = HiddenField()


class NoteForm(FlaskForm):
    """社内メモ: for staff only; the customer never sees nor is told of it."""

    body = _body_field(_l("社内メモ"))
    files = MultipleFileField(_l("添付ファイル"))
    request_key = HiddenField()


class StateForm(FlaskForm):
    """状態の変更 alone (no reply, no mail)."""

    state = SelectField(_l("状態"), validators=[RequiredChoice(), OneOf()],
                        validate_choice=False)  # choices set by the view


class AssignForm(FlaskForm):
    """担当者: a staff account, or nobody; 「自分に割り当てる」 takes the case."""

    assignee = SelectField(_l("担当者"), validators=[OneOf()], validate_choice=False)
    take = SubmitField(_l("自分に割り当てる"))

    def set_staff(self, accounts) -> None:
        self.assignee.choices = [("none", _l("未割当"))] + [
            (str(account.id), f"{account.full_name}（{account.email}）") for account in accounts]


class CategoryForm(FlaskForm):
    """A サポート内容 or a 詳細: its name, its place in the list and whether the case
    form offers it."""

    name = StringField(_l("名前"), filters=[normalize_one_line],
                       validators=[Required(), NoControlCharacters(), MaxLength(NAME_MAX)])
    position = StringField(_l("表示順"), filters=[normalize_integer], default="0",
                           validators=[Required(), ListPosition()],
                           render_kw={"inputmode": "numeric", "size": 4})
    active = BooleanField(_l("お客様のフォームに表示する"), default=True)


class ArticleForm(FlaskForm):
    """A knowledge-base article: plain text, paragraphs separated by a blank line."""

    title = StringField(_l("タイトル"), filters=[normalize_one_line, normalize_alnum_width],
                        validators=[Required(), NoControlCharacters(), MaxLength(TITLE_MAX)])
    body = TextAreaField(_l("本文"), filters=[normalize_text_block, normalize_alnum_width],
                         validators=[Required(), TextBlock(), MaxLength(ARTICLE_MAX)],
                         description=_l("プレーンテキストです。空行で段落を分けます（HTMLは使えません）。"),
                         render_kw={"rows": 16})
    category = SelectField(_l("カテゴリ（サポート内容）"), validators=[OneOf()],
                           validate_choice=False)
    published = BooleanField(_l("公開する"))

    def set_categories(self, categories) -> None:
        self.category.choices = [("none", _l("指定なし"))] + [
            (str(category.id), category.name) for category in categories]

    def values(self) -> dict:
        """desk.ArticleFields' fields."""
        category = self.category.data
        return dict(title=self.title.data, body=self.body.data,
                    category_id=int(category) if category not in (None, "", "none") else None,
                    published=bool(self.published.data))
