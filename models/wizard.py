"""Server-side state of an unfinished wizard; the session holds only its random id."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base, UTCDateTime, utcnow


class WizardDraft(Base):
    __tablename__ = "wizard_draft"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    wizard: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
