"""What a reviewer sees, checked in a real headless Chromium: the MLflow UI that `make ui` serves
and a run's report.html. Shared by the fast browser tests (a fixture store) and the end-to-end ones
(a store written by a real comparison).

Playwright drives Debian's /usr/bin/chromium (installed by `make setup`; no browser download).
Every check waits for what a person would look for, names it when it does not appear, and saves a
screenshot (full page) into the test's folder either way. `make ui` runs as a user would run it,
except that it skips `setup` (the tests already run inside the installed environment).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1366, "height": 900}
WAIT_MS = 60_000  # the MLflow UI is a React app; on two busy cores its first paint takes seconds
UI_START_S = 180


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def make_ui(store_uri: str, log: Path) -> Iterator[str]:
    """`make ui` over `store_uri` on a free port; yields the UI's base URL once /health answers."""
    port = free_port()
    command = ["make", "-s", "-o", "setup", "ui", f"VENV={sys.prefix}", f"STORE={store_uri}", f"UI_PORT={port}"]
    ui = subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + UI_START_S
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if ui.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"make ui did not serve {url} within {UI_START_S} s: {log.read_text()[-1500:]}")
                time.sleep(1)
        yield url
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)


@dataclass
class Review:
    """One page in the browser, with the folder its screenshots go to."""

    page: Page
    shots: Path

    def shoot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sees(self, locator: Locator, what: str, timeout_ms: int = WAIT_MS) -> Locator:
        """The first match once visible; otherwise a failure naming `what`, with a screenshot."""
        try:
            locator.first.wait_for(state="visible", timeout=timeout_ms)
        except PlaywrightTimeout:
            shot = self.shoot("missing-" + re.sub(r"\W+", "-", what).strip("-")[:60])
            raise AssertionError(f"{what} is not shown on {self.page.url} (screenshot {shot})") from None
        return locator.first


@contextmanager
def review(browser: Browser, shots: Path) -> Iterator[Review]:
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=LAPTOP)
    try:
        yield Review(page, shots)
    finally:
        page.close()


def check_experiment_page(view: Review, ui: str, experiment_id: str, parent: tuple[str, str], children: Sequence[str]) -> None:
    """The experiment's runs list shows the parent run; expanding it shows every child run."""
    parent_id, parent_name = parent
    view.page.goto(f"{ui}/#/experiments/{experiment_id}/runs")
    view.sees(view.page.get_by_role("link", name=parent_name, exact=True), f"parent run {parent_name!r} in the runs list")
    row = view.page.locator(f"[role=row][row-id='{parent_id}']")
    view.sees(row.locator("button[data-component-id*='runnamecellrenderer']"), "the button that expands the parent's child runs").click()
    for child in children:
        view.sees(view.page.get_by_role("link", name=child, exact=True), f"child run {child!r} under the parent run")
    view.shoot("experiment-runs")


def js_number(value: float) -> str:
    """How the UI writes a metric value (JavaScript's shortest round-trip form, like Python's repr)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def check_child_run_page(view: Review, ui: str, run: tuple[str, str], metrics: Mapping[str, float], first_record: str) -> None:
    """The run page lists the metrics with their values; its predictions table shows the reviewer's
    columns and the first record."""
    experiment_id, run_id = run
    view.page.goto(f"{ui}/#/experiments/{experiment_id}/runs/{run_id}")
    for name, value in metrics.items():
        view.sees(view.page.get_by_text(name, exact=True), f"metric {name!r} on the run page")
        view.sees(view.page.get_by_text(js_number(value), exact=True), f"value {js_number(value)} of metric {name!r}")
    view.shoot("child-run")
    view.page.goto(f"{ui}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/predictions_table.json")
    for column in ("record_id", "status", "record_exact", "latency_s"):
        view.sees(view.page.get_by_text(column, exact=True), f"column {column!r} of the predictions table")
    view.sees(view.page.get_by_text(re.compile(r"^correct_\w+$")), "a per-field correctness column (correct_<field>)")
    view.sees(view.page.get_by_text(first_record, exact=True), f"record {first_record!r} in the predictions table")
    view.shoot("predictions-table")


def check_model_page(view: Review, ui: str, model: str, version: str, alias: str, verdict: str) -> None:
    """The registered model's page lists the version with its alias and its verdict tag."""
    view.page.goto(f"{ui}/#/models/{model}")
    link = view.sees(view.page.get_by_role("link", name=f"Version {version}", exact=True), f"version {version} of model {model!r}")
    row = view.page.get_by_role("row").filter(has=link)
    view.sees(row.get_by_text(re.compile(rf"^@?\s*{alias}$")), f"alias {alias!r} on version {version}")
    view.sees(row.get_by_text(verdict, exact=False), f"the verdict tag {verdict!r} on version {version}")
    view.shoot("registered-model")


def check_report(view: Review, report: Path, status: str, plots: int) -> None:
    """report.html: no console errors, the banner's status word, every plot loaded, no sideways
    scrolling at a laptop's width."""
    errors: list[str] = []
    view.page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    view.page.on("pageerror", lambda error: errors.append(str(error)))
    view.page.goto(report.resolve().as_uri())
    banner = view.sees(view.page.locator(".banner .status"), "the verdict banner")
    assert banner.inner_text().strip() == status, f"the verdict banner says {banner.inner_text()!r}, not {status!r}"
    images = view.page.locator("img")
    assert images.count() == plots, f"{images.count()} images on the page, {plots} plots in the run folder"
    for index in range(plots):
        image = view.sees(images.nth(index), f"plot {index + 1}")
        image.scroll_into_view_if_needed()
        assert image.evaluate("i => i.complete && i.naturalWidth > 0"), f"plot {index + 1} ({image.get_attribute('alt')}) did not load"
    overflow = view.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    view.shoot("report")
    assert overflow <= 0, f"the report is {overflow} px wider than a {LAPTOP['width']} px window"
    assert not errors, f"console errors: {errors}"
