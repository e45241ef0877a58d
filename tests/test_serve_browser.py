"""The page of `lookalike serve` in a real browser: Debian's chromium, driven by Selenium
through Debian's chromium-driver (nothing is downloaded at run time), against the real
command serving a real index."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import CELEBS, needs_data
from serving import serving
from test_facemap import HEADLESS

from lookalike.index import Index

pytestmark = needs_data
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

QUERY = next((CELEBS / "queries" / "madonna").iterdir())
NAME = "Zoë 王"


@pytest.fixture
def browser(tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium and chromium-driver (.ci/run does)")
        pytest.skip("chromium or chromedriver missing (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (*HEADLESS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000"):
        options.add_argument(arg)
    from selenium.webdriver.chrome.service import Service

    b = webdriver.Chrome(service=Service(driver), options=options)
    yield b
    b.quit()


def wait(b, until, timeout: float = 60):
    return WebDriverWait(b, timeout).until(lambda _: until())


def open_page(b, url: str) -> None:
    b.get(url)
    b.refresh()  # a new load even where only the #tab changed
    wait(b, lambda: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")


def shown(b, selector: str, key: str) -> list[str]:
    """``data-KEY`` of each element ``selector`` finds, read at once (the page redraws)."""
    script = "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset[arguments[1]])"
    return b.execute_script(script, selector, key)


def names(b, selector: str) -> list[str]:
    return shown(b, selector, "name")


def test_a_dropped_photo_shows_its_person_first(browser, celebs_index):
    with serving(celebs_index) as url:
        open_page(browser, f"{url}/#match")
        browser.find_element(By.ID, "match-photo").send_keys(str(QUERY))
        wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".match"))
        assert names(browser, ".match")[0] == "madonna"
        first = browser.find_element(By.CSS_SELECTOR, ".match")
        assert "same" in first.get_attribute("class")  # the verdict is shown
        face = first.find_element(By.TAG_NAME, "img")
        drawn = "return arguments[0].naturalWidth"
        assert wait(browser, lambda: browser.execute_script(drawn, face))


def test_a_named_group_is_under_people_after_a_reload_and_undo_takes_it_back(
    browser, unnamed_index: Path
):
    with Index.open(unnamed_index) as idx:
        assert not idx.people()
    with serving(unnamed_index) as url:
        open_page(browser, f"{url}/#groups")
        wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".group"))
        sheet = browser.find_element(By.CSS_SELECTOR, ".group")
        group = sheet.get_attribute("data-group")
        box = sheet.find_element(By.CSS_SELECTOR, "input[name=name]")
        box.send_keys(NAME)
        box.submit()
        wait(browser, lambda: group not in groups_shown(browser))

        open_page(browser, f"{url}/#people")
        wait(browser, lambda: names(browser, ".person"))
        assert names(browser, ".person") == [NAME]

        open_page(browser, f"{url}/#groups")
        wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".group"))
        browser.find_element(By.ID, "undo").click()
        wait(browser, lambda: group in groups_shown(browser))

        open_page(browser, f"{url}/#people")
        wait(browser, lambda: "0 of 0 people" in browser.find_element(By.ID, "people-count").text)
    with Index.open(unnamed_index) as idx:
        assert not idx.people()


def groups_shown(b) -> list[str]:
    return shown(b, ".group", "group")
