"""Alerts: their history, copies and the people affected."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    select,
)

from chatbot.alerts import duration_minutes
from chatbot.db.models import (
    AffectedVote,
    Alert,
    AlertCopy,
    Delivery,
)
from chatbot.reports.common import (
    ALERT_LIMIT,
    Filters,
    _utc,
)


def alert_history(*, conn: Connection, filters: Filters, now: datetime) -> list[dict[str, Any]]:
    """Alerts created in the range, newest first: severity, duration, copies delivered (sent
    copies whose delivery was sent) and people affected ("I'm affected" and followers)."""
    copies = (
        select(func.count())
        .select_from(AlertCopy)
        .join(Delivery, Delivery.id == AlertCopy.delivery_id)
        .where(AlertCopy.alert_id == Alert.id, Delivery.status == "sent")
        .scalar_subquery()
    )
    affected = select(func.count()).where(AffectedVote.alert_id == Alert.id).scalar_subquery()
    # Alerts concern the whole organisation: the department filter does not apply to them.
    where = [Alert.created_at >= filters.since, Alert.created_at < filters.until]
    rows = conn.execute(
        select(
            Alert.id,
            Alert.severity,
            Alert.service,
            Alert.state,
            Alert.created_at,
            Alert.post_at,
            Alert.resolved_at,
            copies.label("copies"),
            affected.label("affected"),
        )
        .where(*where)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(ALERT_LIMIT)
    )
    result = []
    for row in rows:
        created = _utc(row.created_at)
        # From when its copies went out (a scheduled notice: its time), as the chat says it.
        posted = _utc(row.post_at) if row.post_at else created
        ended = _utc(row.resolved_at) if row.resolved_at else now
        result.append(
            {
                "alert": f"AL-{row.id}",
                "severity": row.severity,
                "service": row.service or "",
                "state": row.state,
                "created": created.strftime("%Y-%m-%d %H:%M"),
                "resolved": _utc(row.resolved_at).strftime("%Y-%m-%d %H:%M")
                if row.resolved_at
                else "",
                "duration_minutes": None
                if row.state in ("scheduled", "cancelled")
                else duration_minutes(posted, ended),
                "copies": int(row.copies),
                "affected": int(row.affected),
            }
        )
    return result
