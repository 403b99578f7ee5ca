"""The dashboard in a real browser: Debian's headless chromium driven through
chromedriver, against the reporting API served by gunicorn as its own process, on
figures projected from a generated month of events. A screenshot is kept in
var/test-artifacts/dashboard.png."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from services.common import auth, clock
from services.common.contracts import CATALOGUE
from services.common.envelope import load_event
from services.reporting.handlers import reports
from services.reporting.store import ReportStore
from tests.reporting_events import keep, month, projector_of
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.e2e


@pytest.fixture
def reporting(settings, database):
    """Figures of a month in the store, and the reporting API as a gunicorn process."""
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    history = month(seed=21, stations=("daxing", "xiaxiang"), cases_per_day=1)
    for envelope in history.events:
        keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    port = free_port()
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "services.reporting.api:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(base + "/healthz", timeout=2).ok
        except (requests.ConnectionError, requests.Timeout):  # not listening or still booting
            return False

    try:
        wait_until(up, 30, message="the reporting API")
        yield store, base
    finally:
        api.terminate()
        api.wait(30)


@pytest.fixture
def browser(tmp_path):
    assert shutil.which("chromium") and shutil.which("chromedriver"), (
        "install Debian's chromium and chromium-driver (.ci/run does)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1200,2700",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver, base, token):
    driver.get(base + "/dashboard")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()


def show(driver, date_from, date_to, loads):
    driver.execute_script(
        "document.getElementById('from').value = arguments[0];"
        "document.getElementById('to').value = arguments[1];",
        date_from,
        date_to,
    )
    driver.find_element(By.ID, "show").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == str(loads)
    )


def figure(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f'td[data-figure="{name}"]').text


def test_the_dashboard_shows_the_figures_and_draws_the_charts(reporting, browser, settings):
    store, base = reporting
    admin = auth.issue_token(settings.token_secret, "admin-1", "district_admin")
    log_in(browser, base, admin)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "1"
    )
    show(browser, "2023-05-01", "2023-05-15", loads=2)
    expected = reports.summary(store, None, "2023-05-01", "2023-05-15")
    assert expected["cases_opened"] > 5
    assert figure(browser, "professional_cases") == f"{expected['cases_opened']} 个"
    assert figure(browser, "requests_received") == f"{expected['requests_received']} 件"
    assert figure(browser, "volunteer_teams_formed") == (
        f"{expected['programs']['volunteer_teams_formed']} 支"
    )
    assert figure(browser, "stations") == "10 个"

    # the chart of cases per day by status is drawn from the figures
    opened = browser.find_element(
        By.CSS_SELECTOR, '#chart-cases polyline[data-series="cases_opened"]'
    )
    values = [int(v) for v in opened.get_attribute("data-values").strip("[]").split(",")]
    assert values == [day["cases_opened"] for day in expected["by_day"]]
    assert len(opened.get_attribute("points").split()) == len(expected["by_day"])
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-times polyline.series")
    segments = browser.find_elements(By.CSS_SELECTOR, "#chart-status rect.segment")
    drawn = {}
    for segment in segments:
        status = segment.get_attribute("data-series")
        drawn[status] = drawn.get(status, 0) + int(segment.get_attribute("data-value"))
    assert drawn == {status: n for status, n in expected["cases_by_status"].items() if n}
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-programs rect.bar")
    assert {b.get_attribute("data-key"): int(b.get_attribute("data-value")) for b in bars}[
        "households_aided"
    ] == expected["programs"]["households_aided"]

    check_the_stations_table(browser, store)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def table_column(driver, column):
    """(station, text) of one column of the stations table, in the order shown."""
    return [
        (cell.find_element(By.XPATH, "..").get_attribute("data-station"), cell.text)
        for cell in driver.find_elements(
            By.CSS_SELECTOR, f'#stations-table tbody td[data-column="{column}"]'
        )
    ]


def check_the_stations_table(browser, store):
    """Every station side by side, as GET /v1/reports/stations says, sortable by column."""
    rows = {
        row["station"]: row
        for row in reports.stations_side_by_side(
            store, "2023-05-01", "2023-05-15", clock.to_ms(clock.now())
        )
    }
    assert len(rows) == 10
    shown = table_column(browser, "cases_opened")
    assert [station for station, _ in shown] == list(rows)  # the configured order at first
    assert {station: int(text) for station, text in shown} == {
        station: row["cases_opened"] for station, row in rows.items()
    }
    assert dict(table_column(browser, "name"))["daxing"] == rows["daxing"]["name"]
    assert {s: int(t) for s, t in table_column(browser, "open_cases")} == {
        station: row["open_cases"] for station, row in rows.items()
    }
    assert {s: int(t) for s, t in table_column(browser, "age_over_30d")} == {  # May 2023: old
        station: row["open_cases_by_age"]["over_30d"] for station, row in rows.items()
    }
    assert sum(row["open_cases"] for row in rows.values()) > 0
    header = browser.find_element(By.CSS_SELECTOR, '#stations-table th[data-column="cases_opened"]')
    header.click()
    opened = [int(text) for _, text in table_column(browser, "cases_opened")]
    assert opened == sorted(opened, reverse=True) and opened[0] > opened[-1]
    assert (
        browser.find_element(
            By.CSS_SELECTOR, '#stations-table th[data-column="cases_opened"]'
        ).get_attribute("aria-sort")
        == "descending"
    )
    browser.find_element(By.CSS_SELECTOR, '#stations-table th[data-column="cases_opened"]').click()
    assert [int(text) for _, text in table_column(browser, "cases_opened")] == sorted(opened)
    browser.find_element(By.CSS_SELECTOR, '#stations-table th[data-column="accept_median"]').click()
    medians = [text for _, text in table_column(browser, "accept_median")]
    known = [float(text) for text in medians if text != "—"]
    assert known == sorted(known, reverse=True) and medians[len(known) :] == ["—"] * (
        10 - len(known)
    )


def test_station_staff_see_only_their_station(reporting, browser, settings):
    store, base = reporting
    worker = auth.issue_token(settings.token_secret, "dx-01", "worker", station="daxing")
    log_in(browser, base, worker)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "1"
    )
    selector = browser.find_element(By.ID, "station")
    assert selector.get_attribute("value") == "daxing" and not selector.is_enabled()
    expected = reports.summary(store, "daxing")
    assert expected["cases_opened"] != reports.summary(store)["cases_opened"]
    assert figure(browser, "professional_cases") == f"{expected['cases_opened']} 个"
    assert figure(browser, "social_workers") == "6 人"
    assert [station for station, _ in table_column(browser, "name")] == ["daxing"]
    assert "大兴镇" in browser.find_element(By.ID, "status").text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
