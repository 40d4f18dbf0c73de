"""At phone width (375 × 740) every page fits the screen without sideways scrolling, and still
passes axe-core."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import horizontal_overflow

PHONE = {"width": 375, "height": 740}

PAGES = [
    ("/help", None),
    ("/help/what-will-my-invoice-look-like", None),
    ("/help/marketplace-enhancements-april-2018", None),
    ("/help/search?q=invoice", None),
    ("/login", None),
    ("/", "admin@northwind.example"),
    ("/help/insights", "staff@distributor.example"),
]


@pytest.mark.parametrize(("path", "user"), PAGES, ids=[path for path, _ in PAGES])
def test_the_page_fits_a_phone_and_passes_axe(page: Page, sign_in, axe, path, user):
    page.set_viewport_size(PHONE)
    if user:
        sign_in(page, user)
    response = page.goto(path)
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    overflow = horizontal_overflow(page)
    assert not overflow, "the page scrolls sideways: " + "; ".join(overflow)
    axe(page)
