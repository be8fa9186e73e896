"""The slack_sdk client for Bolt's interactive calls (modals, `respond`)."""

from __future__ import annotations

from slack_sdk import WebClient


def make_client(token: str | None, base_url: str, *, timeout: int = 15) -> WebClient:
    """No automatic retries: interactive calls either work at once or tell the person."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])
