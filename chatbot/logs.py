"""Logging for the long-running processes: plain lines, or JSON lines (`LOG_FORMAT=json`) for a
log pipeline, each with the reference of what the line is about.

The reference (`ref`) is a request's `TH-n`, an alert's `AL-n`, a survey's `PS-n`, or a survey
run's `run:n`. It is found, in order: bound for the work in hand (`about(...)`: the delivery
worker binds each delivery's while sending it, so the senders' lines carry it too); a reference
the message itself names (`TH-12 is past its target`); or the delivery key the message names
(`request:12:card` is about TH-12). A line about nothing in particular has none."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

_bound: contextvars.ContextVar[str | None] = contextvars.ContextVar("techhelp_ref", default=None)

_NAMED = re.compile(r"\b(TH|AL|PS)-(\d+)\b")
_KEYS = (
    (re.compile(r"\brequest:(\d+)"), "TH-{}"),
    (re.compile(r"\balert:(\d+)"), "AL-{}"),
    (re.compile(r"\bsurvey-(?:run|results):(\d+)"), "run:{}"),
    (re.compile(r"\bsurvey:(\d+)"), "PS-{}"),
    (re.compile(r"\bsurvey run (\d+)"), "run:{}"),
)


def reference_in(text: str) -> str | None:
    """The reference a text names, directly (`TH-3`) or through a key (`request:3:dm`)."""
    named = _NAMED.search(text)
    if named:
        return f"{named.group(1)}-{named.group(2)}"
    for pattern, form in _KEYS:
        found = pattern.search(text)
        if found:
            return form.format(found.group(1))
    return None


@contextmanager
def about(text: str | None) -> Iterator[None]:
    """Lines logged inside are about the reference `text` names (a key or a reference)."""
    token = _bound.set(reference_in(text) if text else None)
    try:
        yield
    finally:
        _bound.reset(token)


class ReferenceFilter(logging.Filter):
    """Sets `record.ref` on every record (None when the line is about nothing in particular)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ref = _bound.get()
        if ref is None:
            try:
                ref = reference_in(record.getMessage())
            except Exception:  # a malformed format string: leave the ref out
                ref = None
        record.ref = ref
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, ref when there
    is one, process id, and the exception's traceback as `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, "ref", None)
        if ref:
            line["ref"] = ref
        line["pid"] = record.process
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(*, level: int, json_lines: bool) -> None:
    """The root logger's one handler (stderr): JSON lines, or the plain format. Like
    `logging.basicConfig`, nothing changes when the root logger has handlers already (a second
    call, or a host such as pytest that captures the logs)."""
    handler = logging.StreamHandler()
    handler.addFilter(ReferenceFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
