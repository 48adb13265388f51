"""The console in a real browser: Debian's chromium driven by Selenium through chromium-driver.

The console runs under uvicorn on 127.0.0.1 over the small city of ``tests/web/conftest.py``. A
department (the health bureau) signs in, acknowledges its notice, answers an item ("已整改，待核验") and asks for an
exemption; the operator approves it; finance sees every department's figures and no notice.
Screenshots of the overview and of a notice page are kept (``RIGHTSIZER_SCREENSHOTS=docs`` writes
them where the README shows them).
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from servers import binary, uvicorn_serving

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webcity import NOW, PASSWORD, console_city  # noqa: E402,F401  (the session fixture)
from test_reports import EDU, HEALTH  # noqa: E402


@pytest.fixture(scope="module")
def served(console_city):  # noqa: F811
    from rightsizer.web.app import create_app

    settings, store, _, _ = console_city
    with uvicorn_serving(create_app(settings, store, lambda: NOW)) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = binary("chromium"), binary("chromedriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(flag)
    b = webdriver.Chrome(service=Service(driver), options=opts)
    b.set_page_load_timeout(30)
    yield b
    b.quit()


def sign_in(b, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    b.delete_all_cookies()
    b.get(base + "/login")
    b.find_element(By.ID, "name").send_keys(name)
    b.find_element(By.ID, "password").send_keys(PASSWORD)
    b.find_element(By.ID, "login").click()
    wait_for(b, lambda: b.find_elements(By.ID, "who"))


def wait_for(b, condition, seconds: float = 15):
    """``condition()`` once it is true; htmx swaps the page under the driver, so a stale or missing element
    is a "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            got = None
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out on {b.current_url}: {b.page_source[:500]}")


def keep(b, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    b.save_screenshot(str(path))
    where = os.environ.get("RIGHTSIZER_SCREENSHOTS")
    if where:
        shutil.copy(path, Path(where) / name)
    return path


def test_a_department_acknowledges_answers_and_asks_the_operator_approves_finance_reads(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b, base = browser, served
    sign_in(b, base, "health")  # the department that has done nothing yet
    assert HEALTH in b.find_element(By.ID, "who").text and EDU not in b.page_source
    b.find_element(By.LINK_TEXT, "整改通知").click()
    wait_for(b, lambda: b.find_elements(By.ID, "notices"))
    rows = b.find_elements(By.CSS_SELECTOR, "#notices a")
    assert rows and all("〔2026〕" in r.text for r in rows)
    rows[-1].click()  # the first notice the department received
    wait_for(b, lambda: b.find_elements(By.ID, "items"))
    number = b.find_element(By.TAG_NAME, "h1").text
    assert "整改通知" in b.find_element(By.ID, "document").text
    if b.find_elements(By.ID, "ack-button"):
        b.find_element(By.ID, "ack-button").click()
        wait_for(b, lambda: b.find_element(By.ID, "status").text == "已签收")
    form = b.find_elements(By.CSS_SELECTOR, "form.answer-form")[0]
    Select(form.find_element(By.NAME, "kind")).select_by_value("done")
    form.find_element(By.NAME, "note").send_keys("已于10月19日缩容，请核验")
    form.find_element(By.TAG_NAME, "button").click()
    wait_for(b, lambda: "已整改，待核验：已于10月19日缩容，请核验" in b.find_element(By.ID, "items").text)
    assert "已整改，待核验" in b.find_element(By.ID, "events").text
    keep(b, tmp_path, "console-notice.png")

    # a server page: the evidence, then an exemption request
    b.get(base + f"/departments/{HEALTH}")
    wait_for(b, lambda: b.find_elements(By.ID, "servers"))
    b.find_element(By.CSS_SELECTOR, "#servers a").click()
    wait_for(b, lambda: b.find_elements(By.ID, "request-exemption"))
    assert "<svg" in b.page_source or "当前没有未结发现" in b.page_source
    server_id = b.find_element(By.CSS_SELECTOR, "#request-exemption input[name=server_id]").get_attribute("value")
    b.find_element(By.ID, "reason").send_keys("考试季系统，仅期末使用")
    b.execute_script("document.getElementById('until').value = '2026-12-31'")
    b.find_element(By.ID, "submit-request").click()
    wait_for(b, lambda: "待审批" in b.find_element(By.ID, "requests").text)

    sign_in(b, base, "ops")
    keep(b, tmp_path, "console-overview.png")
    assert EDU in b.find_element(By.ID, "departments").text
    b.get(base + "/exemptions")
    row = wait_for(b, lambda: [r for r in b.find_elements(By.CSS_SELECTOR, "#requests tr")
                               if server_id in r.text and "待审批" in r.text])[0]
    row.find_element(By.NAME, "note").send_keys("同意，至期末")
    row.find_element(By.CSS_SELECTOR, "button.approve").click()
    wait_for(b, lambda: "已批准" in b.find_element(By.ID, "requests").text)
    assert server_id in b.find_element(By.ID, "exemptions").text
    b.get(base + "/audit")
    audit = wait_for(b, lambda: b.find_elements(By.ID, "audit"))[0].text
    assert "exemption.approve" in audit and "item.done" in audit and number.split("〔")[0] in audit

    sign_in(b, base, "czj")
    assert HEALTH in b.find_element(By.ID, "departments").text and EDU in b.page_source
    assert not b.find_elements(By.LINK_TEXT, "整改通知")
    b.get(base + "/notices")
    assert "无权" in b.page_source
