"""The web console in headless Chromium (selenium): overview, live values, filter, audit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.api.conftest import OPERATOR, READER, sim_config, with_historian, write_tokens
from tests.gateway.api.running import RunningGateway, gateway_process
from tests.support import require_program


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory = tmp_path_factory.mktemp("console")
    tokens = write_tokens(directory / "tokens")
    data = sim_config(
        points=40,
        interval=0.2,
        tokens_file=str(tokens),
        commands={"enabled": True, "allow": ["GEN*"]},
    )
    data["adapters"][0]["points"][1]["signal"] = "constant"  # GEN2_MW keeps what it is set to
    with gateway_process(data, directory) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium = require_program("chromium", "chromium")
    chromedriver = require_program("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll ``check()`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception:  # an element not there yet, a stale one
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def open_console(browser: Any, gateway: RunningGateway, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{gateway.url}/")  # redirected to /console/
    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token, Keys.TAB)  # "change": stored, stream and overview reconnect


def test_the_overview_shows_points_adapters_and_goes_live(browser, gateway, tmp_path: Path):
    from selenium.webdriver.common.by import By

    open_console(browser, gateway, READER)
    wait_for(lambda: browser.find_element(By.ID, "points-total").text == "41", "41 points")
    assert browser.find_element(By.ID, "points-suspect").text == "1"
    assert browser.find_element(By.ID, "gw-name").text == "test-gw"
    rows = wait_for(
        lambda: [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#adapters tbody tr")],
        "the adapters",
    )
    assert any(r.startswith("plant sim running 40") for r in rows), rows
    wait_for(lambda: browser.find_element(By.ID, "live").text == "live", "the live stream")
    browser.save_screenshot(str(tmp_path / "overview.png"))
    assert (tmp_path / "overview.png").stat().st_size > 10_000


def test_the_point_table_changes_live_and_filters(browser, gateway, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_console(browser, gateway, READER)
    browser.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=points]").click()
    cell = '#point-table tr[data-point="GEN1_MW"] td.v'

    def shown() -> list[str]:
        return [
            r.get_attribute("data-point")
            for r in browser.find_elements(By.CSS_SELECTOR, "#point-table tbody tr")
        ]

    wait_for(lambda: len(shown()) == 41, "41 rows")
    first = wait_for(
        lambda: (
            browser.find_element(By.CSS_SELECTOR, cell).text not in ("", "-")
            and browser.find_element(By.CSS_SELECTOR, cell).text
        ),
        "a value",
    )
    wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, cell).text != first,
        "GEN1_MW to change on screen without a reload",
    )

    # A value set through the API shows in the table.
    with httpx.Client(
        base_url=gateway.url, timeout=10, headers={"Authorization": f"Bearer {OPERATOR}"}
    ) as http:
        response = http.post("/api/v1/commands", json={"point": "GEN2_MW", "value": 77.125})
        assert response.status_code == 200, response.text
    gen2 = '#point-table tr[data-point="GEN2_MW"] td.v'
    wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, gen2).text == "77.125",
        "the commanded value",
        timeout=5,
    )

    field = browser.find_element(By.ID, "filter")
    field.send_keys("GEN1*")
    wait_for(
        lambda: shown() == sorted(["GEN1_MW", *[f"GEN1{i}_MW" for i in range(10)]]), "GEN1* rows"
    )
    field.clear()
    field.send_keys("gen3?_mw,FIXED")
    wait_for(lambda: shown() == sorted(["FIXED", *[f"GEN3{i}_MW" for i in range(10)]]), "two globs")
    field.clear()
    field.send_keys(" ")
    Select(browser.find_element(By.ID, "validity")).select_by_value("suspect")
    wait_for(lambda: shown() == ["FIXED"], "the suspect point only")

    def suspect_badge() -> bool:
        """The row is coloured as suspect (found afresh: a filter's re-render replaces it)."""
        fixed = browser.find_element(By.CSS_SELECTOR, '#point-table tr[data-point="FIXED"]')
        badge = fixed.find_element(By.CSS_SELECTOR, ".q")
        plain = browser.find_element(By.ID, "filter").value_of_css_property("color")
        return (
            "suspect" in fixed.get_attribute("class")
            and badge.text == "suspect"
            and badge.value_of_css_property("color") != plain
        )

    wait_for(suspect_badge, "FIXED shown as suspect, in its colour")
    Select(browser.find_element(By.ID, "validity")).select_by_value("")
    browser.save_screenshot(str(tmp_path / "points.png"))
    assert (tmp_path / "points.png").stat().st_size > 10_000


def test_the_audit_log_shows_the_command(browser, gateway):
    from selenium.webdriver.common.by import By

    with httpx.Client(
        base_url=gateway.url, timeout=10, headers={"Authorization": f"Bearer {OPERATOR}"}
    ) as http:
        assert (
            http.post("/api/v1/commands", json={"point": "GEN3_MW", "value": 12}).status_code == 200
        )
    open_console(browser, gateway, READER)
    browser.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=audit]").click()
    rows = wait_for(
        lambda: [
            r.text
            for r in browser.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr")
            if "GEN3_MW" in r.text
        ],
        "the command in the audit log",
    )
    assert "command api:alice GEN3_MW 12 ok" in rows[0]


def test_the_config_tab_diffs_a_proposed_configuration(browser, gateway):
    from selenium.webdriver.common.by import By

    open_console(browser, gateway, READER)
    browser.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=config]").click()
    text = wait_for(
        lambda: browser.find_element(By.ID, "cfg-text").get_attribute("value"),
        "the running configuration",
    )
    assert "plant" in text
    edited = text.replace("name: fixed", "name: steady")
    browser.execute_script("document.getElementById('cfg-text').value = arguments[0];", edited)
    browser.find_element(By.ID, "cfg-diff").click()
    result = wait_for(lambda: browser.find_element(By.ID, "cfg-result").text, "the diff")
    assert "adapters added: steady" in result and "adapters removed: fixed" in result


def test_a_points_detail_shows_its_stored_history(browser, tmp_path: Path):
    from selenium.webdriver.common.by import By

    with gateway_process(with_historian(tmp_path, interval=0.1), tmp_path) as gateway:
        with httpx.Client(base_url=gateway.url, timeout=10) as http:
            wait_for(
                lambda: len(http.get("/api/v1/points/GEN2_MW/history").json()["rows"]) >= 10,
                "ten stored rows of GEN2_MW",
            )
        browser.get(f"{gateway.url}/console/")
        browser.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=points]").click()
        wait_for(
            lambda: (
                browser.find_element(By.CSS_SELECTOR, 'tr[data-point="GEN2_MW"]').click() or True
            ),
            "the GEN2_MW row to click",
        )
        wait_for(lambda: browser.find_element(By.ID, "detail").is_displayed(), "the detail view")
        assert browser.find_element(By.ID, "detail-name").text == "GEN2_MW"
        note = wait_for(lambda: browser.find_element(By.ID, "detail-note").text, "the note")
        assert "stored rows from hist" in note, note
        rows = browser.find_elements(By.CSS_SELECTOR, "#detail-history tbody tr")
        assert len(rows) >= 10 and "valid" in rows[0].text
        spark = browser.find_element(By.CSS_SELECTOR, "#detail-spark polyline")
        assert len(spark.get_attribute("points").split()) >= 10
        info = browser.find_element(By.ID, "detail-info").text
        assert "owner" in info and "plant" in info
        browser.save_screenshot(str(tmp_path / "history.png"))
        assert (tmp_path / "history.png").stat().st_size > 10_000

        # A point without history (FIXED is not stored) and the view closing.
        browser.find_element(By.CSS_SELECTOR, 'tr[data-point="FIXED"]').click()
        wait_for(
            lambda: browser.find_element(By.ID, "detail-note").text.startswith("0 stored rows"),
            "no rows for FIXED",
        )
        browser.find_element(By.ID, "detail-close").click()
        assert not browser.find_element(By.ID, "detail").is_displayed()


def test_the_iccp_view_shows_associations_and_transfer_sets(browser, tmp_path: Path):
    from selenium.webdriver.common.by import By

    from tests.gateway.api.test_associations import iccp_config
    from tests.support import free_port

    port = free_port()
    with gateway_process(iccp_config(port), tmp_path) as gateway:
        browser.get(f"{gateway.url}/console/")
        browser.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=iccp]").click()

        def association() -> str:
            box = browser.find_element(By.CSS_SELECTOR, "#servers .assoc")
            rows = box.find_elements(By.CSS_SELECTOR, "tbody tr")
            reported = all(int(r.find_elements(By.TAG_NAME, "td")[7].text) >= 1 for r in rows)
            return box.text if len(rows) == 2 and reported else ""

        text = wait_for(association, "an association with two reporting transfer sets")
        assert "1.1.1.998/12 at 127.0.0.1:" in text
        assert "BLT_TEST" in text and "ICC1" in text
        assert "interval" in text and "integrity, object_change" in text and "RBE" in text
        tls = browser.find_element(By.CSS_SELECTOR, "#servers .assoc .kv").text
        assert "TLS\nno" in tls, tls
        link = wait_for(
            lambda: (
                "POLL" in browser.find_element(By.ID, "clients").text
                and browser.find_element(By.ID, "clients").text
            ),
            "the client link",
        )
        assert f"127.0.0.1:{port}" in link and "running" in link
        browser.save_screenshot(str(tmp_path / "iccp.png"))
        assert (tmp_path / "iccp.png").stat().st_size > 10_000
