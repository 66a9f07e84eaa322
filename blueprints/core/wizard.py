"""The one wizard mechanism every multi-step flow uses.

A wizard is an ordered list of steps, each a form class and a partial template. What the
user typed is kept server-side in a `WizardDraft` row whose random id sits in the session
(the cookie is signed, not encrypted). Secret fields (passwords) never reach the draft:
a step turns them into derived values (a hash) first.

- GET of a step shows it filled from the draft; jumping ahead redirects to the first
  unfinished step.
- POST validates: invalid → the step again with status 422 (HTMX swaps it in place);
  valid → saved, then the next step (HTMX: its partial with `HX-Push-Url`; without
  JavaScript: 303 to its URL).
- A form may handle a sub-action (a postal-code lookup button, "add another phone"):
  the step is shown again with status 200 and nothing is validated or saved.
- The last step re-validates every step from the draft and calls `finish(forms, secrets)`,
  which does its work in the current transaction and returns the URL to go to; it must not
  commit: the wizard commits that work together with the end of the draft, so a second
  submit of the last step (a double click, a retry) can only replay the same result.
  `finish` raises `WizardError` to send the user back to a step with a message.
- Every step ends with 「ヘルプが必要な場合は、こちら」: the FAQ page of the wizard's
  `help` service (default: the service whose blueprint serves it), a plain link.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import Text, cast, delete, func
from werkzeug.datastructures import MultiDict
from wtforms.fields import FieldList, FormField

from app import htmx
from models import db, utcnow
from models.wizard import WizardDraft

DRAFT_LIFETIME = timedelta(hours=24)
SKIPPED_KEYS = {"csrf_token"}
SESSION_KEYS_NOT_REPLAYED = {"csrf_token", "_fresh", "_id", "_user_id"}


class WizardError(Exception):
    """Raised by `finish` to send the user back to a step with a message on a field."""

    def __init__(self, step: str, field_name: str, message: str):
        super().__init__(message)
        self.step, self.field_name, self.message = step, field_name, message


@dataclass(frozen=True)
class Step:
    name: str
    title: Any
    form: Callable[[dict], type[FlaskForm]] | type[FlaskForm]
    template: str
    # field name -> function(value) giving the value kept in the draft's secrets.
    secrets: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    # fields that are dropped from the draft (confirmations of secrets).
    dropped: tuple[str, ...] = ()

    def form_class(self, values: dict) -> type[FlaskForm]:
        if isinstance(self.form, type):
            return self.form
        return self.form(values)


@dataclass
class Draft:
    row: WizardDraft

    @property
    def raw(self) -> dict[str, list[list[str]]]:
        return self.row.data.get("raw", {})

    @property
    def done(self) -> list[str]:
        return self.row.data.get("done", [])

    @property
    def secrets(self) -> dict[str, Any]:
        return self.row.data.get("secrets", {})

    @property
    def finished(self) -> dict | None:
        """Set once the wizard completed: where it went and what it put in the session,
        so that a second submit of the last step (double click, retry) lands there too."""
        return self.row.data.get("finished")

    def finish(self, target: str, session_changes: dict) -> None:
        # The typed data and secrets go; only the way to the result stays.
        self.row.data = {"finished": {"target": target, "session": session_changes}}
        self.row.updated_at = utcnow()

    def formdata(self, step: str) -> MultiDict | None:
        items = self.raw.get(step)
        return MultiDict([tuple(item) for item in items]) if items is not None else None

    def values(self, step: str) -> dict[str, str]:
        """The raw values of one step as a flat dict (first value of each key)."""
        return dict(self.formdata(step) or {})

    def save_step(self, step: Step, formdata: MultiDict, form: FlaskForm) -> None:
        data = dict(self.row.data)
        keep = [
            [key, value]
            for key, value in formdata.items(multi=True)
            if key not in SKIPPED_KEYS and key not in step.secrets and key not in step.dropped
        ]
        data["raw"] = {**self.raw, step.name: keep}
        data["secrets"] = {
            **self.secrets,
            **{name: fn(form[name].data) for name, fn in step.secrets.items()},
        }
        data["done"] = [*[s for s in self.done if s != step.name], step.name]
        self.row.data = data  # reassign: JSON columns track replacement, not mutation
        self.row.updated_at = utcnow()


def forget_address(email: str) -> None:
    """Remove every draft that mentions the address (typed in, or replayed after the
    end): an account's deletion leaves nothing of it behind, drafts included."""
    escaped = "".join("\\" + char if char in "\\%_" else char for char in email.lower())
    pattern = f"%{escaped}%"
    db.session.execute(
        delete(WizardDraft).where(
            func.lower(cast(WizardDraft.data, Text)).like(pattern, escape="\\"))
    )


# Every wizard served by some blueprint, by name (the help link test walks them).
WIZARDS: dict[str, "Wizard"] = {}


class Wizard:
    """An ordered list of steps served under one URL prefix by one view."""

    def __init__(
        self,
        name: str,
        steps: list[Step],
        finish: Callable[[dict[str, FlaskForm], dict[str, Any]], str],
        page_template: str = "wizard/page.html",
        title: Any = "",
        submit_label: Any = None,
        final_label: Any = None,
        help: str | None = None,
    ):
        self.name = name
        self.steps = steps
        self.finish = finish
        self.page_template = page_template
        self.title = title
        self.submit_label = submit_label
        self.final_label = final_label
        self.endpoint = ""
        # 「ヘルプが必要な場合は、こちら」 on every step: the FAQ of `help` (a service that
        # declared one with registry.faq), by default that of the blueprint serving it.
        self.help = help
        self.service = ""

    # -- wiring -----------------------------------------------------------------------
    def register(self, bp: Blueprint, rule: str, endpoint: str,
                 decorators: list[Callable] | None = None) -> None:
        """Serve the wizard at `rule` (redirects to the first step) and `rule/<step>`."""
        self.endpoint = f"{bp.name}.{endpoint}"
        self.service = bp.name
        WIZARDS[self.name] = self

        def view(step: str | None = None):
            return self.dispatch(step)

        view.__name__ = endpoint
        view.__doc__ = f"Wizard '{self.name}': one step per URL."
        for decorator in reversed(decorators or []):
            view = decorator(view)
        bp.add_url_rule(rule, endpoint, view, methods=["GET"])
        bp.add_url_rule(f"{rule}/<step>", endpoint, view, methods=["GET", "POST"])

    @property
    def help_service(self) -> str:
        """The service whose FAQ the steps' help link opens."""
        return self.help or self.service

    def url(self, step: str) -> str:
        return url_for(self.endpoint, step=step)

    def not_final_step(self) -> bool:
        """For a rate limit's `exempt_when`: only the last step (which commits and mails)
        counts, so typing mistakes on the other steps never use up the limit."""
        return (request.view_args or {}).get("step") != self.steps[-1].name

    # -- draft ------------------------------------------------------------------------
    @property
    def _session_key(self) -> str:
        return f"wizard:{self.name}"

    def load_draft(self, create: bool, lock: bool = False,
                   keep_finished: bool = False) -> Draft | None:
        """This browser's draft. `lock` holds its row until commit (PostgreSQL; SQLite
        transactions are exclusive anyway), so two posts of one draft run one after the
        other. A finished draft counts only when `keep_finished` (to replay its result)."""
        draft_id = session.get(self._session_key)
        row = db.session.get(WizardDraft, draft_id, with_for_update=lock) if draft_id else None
        if row is not None and (row.wizard != self.name
                                or row.updated_at < utcnow() - DRAFT_LIFETIME
                                or ("finished" in row.data and not keep_finished)):
            db.session.delete(row)
            row = None
        if row is None and create:
            db.session.execute(
                delete(WizardDraft).where(WizardDraft.updated_at < utcnow() - DRAFT_LIFETIME)
            )
            row = WizardDraft(id=secrets.token_urlsafe(32), wizard=self.name,
                              data={"raw": {}, "done": [], "secrets": {}})
            db.session.add(row)
            session[self._session_key] = row.id
        return Draft(row) if row is not None else None

    def _all_values(self, draft: Draft | None) -> dict[str, dict[str, str]]:
        return {s.name: draft.values(s.name) for s in self.steps} if draft else {}

    def _step(self, name: str | None) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        abort(404)

    def _first_unfinished(self, draft: Draft | None, upto: Step) -> Step | None:
        done = draft.done if draft else []
        for step in self.steps:
            if step is upto:
                return None
            if step.name not in done:
                return step
        return None

    # -- requests ---------------------------------------------------------------------
    def dispatch(self, step_name: str | None):
        if step_name is None:
            return redirect(self.url(self.steps[0].name))
        step = self._step(step_name)
        posted = request.method == "POST"
        draft = self.load_draft(create=posted, lock=posted, keep_finished=posted)
        if draft is not None and draft.finished:
            return self._replay(draft)
        missing = self._first_unfinished(draft, step)
        if missing is not None:
            db.session.commit()
            return self._go(missing)
        values = self._all_values(draft)
        form_cls = step.form_class(values)
        if request.method == "GET":
            form = form_cls(formdata=draft.formdata(step.name) if draft else None)
            db.session.commit()
            return self.render(step, form, values)

        form = form_cls()
        sub_action = getattr(form, "run_sub_action", None)
        if sub_action is not None and sub_action():
            db.session.rollback()
            return self.render(step, form, values)
        if not form.validate():
            db.session.rollback()
            return self.render(step, form, values, status=422)
        draft.save_step(step, request.form, form)
        index = self.steps.index(step)
        if index + 1 < len(self.steps):
            db.session.commit()
            return self._go(self.steps[index + 1], values=self._all_values(draft))
        return self._complete(draft)

    def _complete(self, draft: Draft):
        values = self._all_values(draft)
        forms: dict[str, FlaskForm] = {}
        for step in self.steps:
            form = step.form_class(values)(formdata=draft.formdata(step.name),
                                           meta={"csrf": False})
            for name in (*step.secrets, *step.dropped):
                if name in form:
                    del form[name]
            if not form.validate():
                # Something changed since the step was done (the e-mail got taken, a
                # choice no longer exists): show that step again with its messages.
                db.session.commit()
                return self._revisit(step, values, draft)
            forms[step.name] = form
        secrets_ = dict(draft.secrets)
        before = dict(session)
        try:
            target = self.finish(forms, secrets_)
        except WizardError as error:
            db.session.rollback()
            draft = self.load_draft(create=False)
            if draft is None:
                return self._go(self.steps[0])
            return self._revisit(self._step(error.step), values, draft,
                                 {error.field_name: error.message})
        # `finish` did its work without committing: it and the draft's end commit together.
        changes = {key: value for key, value in session.items()
                   if key not in SESSION_KEYS_NOT_REPLAYED and before.get(key) != value}
        draft.finish(target, changes)
        db.session.commit()
        return self._redirect(target)

    def _replay(self, draft: Draft):
        """The last step was posted again after the wizard completed: same result."""
        session.update(draft.finished["session"])
        db.session.commit()
        return self._redirect(draft.finished["target"])

    @staticmethod
    def _redirect(target: str):
        if htmx:
            return "", 200, {"HX-Redirect": target}
        return redirect(target, code=303)

    def _revisit(self, step: Step, values: dict, draft: Draft,
                 errors: dict[str, str] | None = None):
        """Render a finished step again, as typed, with the messages that now apply.
        Secret fields (not kept in the draft) must be typed again, without a message."""
        form = step.form_class(values)(formdata=draft.formdata(step.name),
                                       meta={"csrf": False})
        if errors is None:
            form.validate()
        for field_ in form:
            if errors is not None or field_.name in step.secrets or field_.name in step.dropped:
                if not isinstance(field_, (FormField, FieldList)):
                    field_.errors = []
        for name, message in (errors or {}).items():
            if name in form:
                form[name].errors = [message]
        return self.render(step, form, values, status=422, push=True)

    def _go(self, step: Step, values: dict | None = None):
        """Move to `step`: HTMX gets its partial with the URL pushed; others a redirect."""
        if htmx and not htmx.history_restore_request:
            draft = self.load_draft(create=False)
            form = step.form_class(values or self._all_values(draft))(
                formdata=draft.formdata(step.name) if draft else None
            )
            return self.render(step, form, values or self._all_values(draft), push=True)
        return redirect(self.url(step.name), code=303)

    def render(self, step: Step, form: FlaskForm, values: dict, status: int = 200,
               push: bool = False):
        index = self.steps.index(step)
        context = {
            "wizard": self,
            "step": step,
            "step_index": index,
            "previous_url": self.url(self.steps[index - 1].name) if index else None,
            "is_last": index == len(self.steps) - 1,
            "form": form,
            "values": values,
            "action": self.url(step.name),
        }
        if htmx and not htmx.history_restore_request:
            headers = {"HX-Push-Url": self.url(step.name)} if push else {}
            return render_template("wizard/_step.html", **context), status, headers
        return render_template(self.page_template, **context), status
