"""The dashboard's tables as CSV (`/dashboard/csv/<table>.csv`), safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

from chatbot.reports import Filters
from chatbot.web.dashboard.pages import TABLES, Pages
from chatbot.web.dashboard.responses import Start


def _csv_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


class Downloads(Pages):
    """Every table of the dashboard as CSV, with the page's filters."""

    def csv(self, start_response: Start, name: str, filters: Filters) -> list[bytes]:
        table = TABLES[name]
        rows = self.figures(filters)[name]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading for _, heading in table.columns])
        for row in rows:
            writer.writerow([_csv_cell(row.get(key)) for key, _ in table.columns])
        filename = f"techhelp-{name}-{filters.start}-{filters.end}.csv"
        return self._send(
            start_response,
            "200 OK",
            out.getvalue().encode("utf-8"),
            "text/csv; charset=utf-8",
            [("Content-Disposition", f'attachment; filename="{filename}"')],
        )
