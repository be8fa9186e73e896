"""The README's screenshots: the dashboard and the public report on the console's demo data.

    chatbot demo                       # in an empty directory: six weeks of demo history
    python docs/screenshots.py         # serves them from that directory, shoots with Chromium

Needs Playwright (in the dev extras) and Chromium (Debian: apt-get install chromium)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
TOKEN = "demo-screenshots-" + "x7Kq2mPz9RtW4vLb8NcY3hJd6FgS"
PORT = "3917"


def main() -> None:
    env = {**os.environ, "TECHHELP_DASHBOARD_TOKEN": TOKEN, "PORT": PORT}
    console = subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "shell"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert console.stdin is not None
    console.stdin.write("/dashboard\n")
    console.stdin.flush()
    url = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(120):
            try:
                httpx.get(url + "/report", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url + "/dashboard", wait_until="networkidle")
            page.fill("#token", TOKEN)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            page.screenshot(path=str(HERE / "dashboard.png"), full_page=True)
            page.goto(url + "/report", wait_until="networkidle")
            page.screenshot(path=str(HERE / "report.png"), full_page=True)
            browser.close()
    finally:
        console.stdin.write("/quit\n")
        console.stdin.close()
        console.wait(timeout=30)


if __name__ == "__main__":
    main()
