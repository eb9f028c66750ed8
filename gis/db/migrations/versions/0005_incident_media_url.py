"""incident.media_url: the link to a reporter's photo

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:25:00.000000

Open311 reports (and the REST intake) carry a link to a photo. Until now it
rode in the note of the intake transition (``media_url: <url>``); it is a
property of the report, so it gets a column, and links already kept in notes
move there. Only http(s) links of at most 2,000 characters are stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incident", sa.Column("media_url", sa.Text(), nullable=True))
    op.create_check_constraint(
        "ck_incident_media_url",
        "incident",
        "media_url IS NULL OR (media_url ~ '^https?://' AND length(media_url) <= 2000)",
    )
    op.execute(
        r"""
        UPDATE incident i
           SET media_url = substring(t.note FROM 'media_url: (https?://\S+)')
          FROM incident_transition t
         WHERE t.incident_id = i.id AND t.action = 'reported'
           AND t.note ~ 'media_url: https?://\S+'
           AND length(substring(t.note FROM 'media_url: (https?://\S+)')) <= 2000
        """
    )


def downgrade() -> None:
    op.drop_constraint("ck_incident_media_url", "incident", type_="check")
    op.drop_column("incident", "media_url")
