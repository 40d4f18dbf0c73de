"""Help Center search in a browser: active search by htmx, corrections, deep links, history,
the form without JavaScript, markup typed into the box, and axe-core on the results."""

import re

import pytest
from playwright.sync_api import Page, expect

COUNT = r"\d+ articles? match(es)? “{}”\."


def search_box(page: Page):
    return page.get_by_role("searchbox", name="Search help")


def results(page: Page):
    return page.locator("#search-results")


def result_count(page: Page):
    """The polite live region that tells how many articles matched: it stays on the page
    while htmx replaces the results, so that screen readers announce each new count."""
    return page.locator("#search-count[aria-live=polite]")


def test_results_appear_in_place_while_typing(page: Page, in_place):
    page.goto("/help")
    with in_place(page):
        search_box(page).press_sequentially("invoice", delay=80)
        expect(page).to_have_url(re.compile(r"/help/search\?q=invoice$"))
        expect(result_count(page)).to_have_text(re.compile(COUNT.format("invoice")))
        expect(result_count(page)).to_have_attribute("role", "status")
        expect(results(page).get_by_role("listitem").first).to_be_visible()
    expect(search_box(page)).to_have_value("invoice")


def test_a_misspelling_is_corrected(page: Page):
    page.goto("/help")
    search_box(page).press_sequentially("ivoice", delay=80)
    expect(page).to_have_url(re.compile(r"/help/search\?q=ivoice$"))
    expect(results(page)).to_contain_text(re.compile(r"Showing results for invoice|Did you mean"))
    expect(results(page).get_by_role("listitem").first).to_be_visible()


def test_a_section_link_opens_the_article_at_that_section(page: Page):
    page.goto("/help")
    search_box(page).press_sequentially("invoice", delay=80)
    section_link = results(page).locator("a.search-hit__heading").first
    expect(section_link).to_be_visible()
    href = section_link.get_attribute("href")
    match = re.fullmatch(r"/help/([a-z0-9-]+)\?sq=\d+#([\w-]+)", href or "")
    assert match, f"a section link should deep-link to /help/<slug>#<anchor>, not {href!r}"
    slug, anchor = match.groups()
    heading = section_link.inner_text()

    section_link.click()
    expect(page).to_have_url(re.compile(rf"/help/{slug}\?sq=\d+#{anchor}$"))
    section = page.locator(f'[id="{anchor}"]')
    expect(section).to_contain_text(heading)
    expect(section).to_be_in_viewport()


def test_back_returns_to_the_previous_search(page: Page):
    # One input event per search (fill), so that a slow machine cannot make a pause in the
    # typing long enough for an extra search, and an extra history entry, in between.
    page.goto("/help")
    box = search_box(page)
    box.fill("invoice")
    expect(page).to_have_url(re.compile(r"/help/search\?q=invoice$"))
    expect(result_count(page)).to_contain_text("“invoice”")

    box.fill("credit")
    expect(page).to_have_url(re.compile(r"/help/search\?q=credit$"))
    expect(result_count(page)).to_contain_text("“credit”")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/help/search\?q=invoice$"))
    expect(result_count(page)).to_contain_text("“invoice”")
    expect(search_box(page)).to_have_value("invoice")


def test_search_works_without_javascript(new_context, browser_errors):
    context = browser_errors.watch(new_context(java_script_enabled=False))
    page = context.new_page()
    page.goto("/help")
    search_box(page).fill("invoice")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/help/search\?q=invoice$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Search help")
    expect(result_count(page)).to_have_text(re.compile(COUNT.format("invoice")))
    expect(results(page).get_by_role("listitem").first).to_be_visible()
    expect(search_box(page)).to_have_value("invoice")


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_markup_in_the_search_box_is_shown_as_text(page: Page, payload):
    dialogs = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto("/help")
    search_box(page).fill(payload)
    expect(page).to_have_url(re.compile(r"/help/search\?q="))
    expect(results(page)).to_contain_text(payload)
    main = page.get_by_role("main")
    expect(main.locator("script, img")).to_have_count(0)

    # The same search rendered by the server, as when the link is shared.
    page.reload()
    expect(search_box(page)).to_have_value(payload)
    expect(results(page)).to_contain_text(payload)
    expect(main.locator("script, img")).to_have_count(0)
    assert dialogs == []


@pytest.mark.parametrize(
    "query", ["invoice", "ivoice", "qqxzzy"], ids=["hits", "corrected", "no-results"]
)
def test_results_pages_pass_axe(page: Page, axe, query):
    page.goto(f"/help/search?q={query}")
    expect(result_count(page)).to_be_visible()
    axe(page)


def test_results_shown_in_the_help_center_pass_axe(page: Page, axe):
    page.goto("/help")
    search_box(page).fill("credit")
    expect(result_count(page)).to_have_text(re.compile(COUNT.format("credit")))
    axe(page)


def test_ten_results_fit_on_two_desktop_screens(page: Page):
    # One result per article (its best section and a short extract): on a 1280×800 screen the
    # tenth result ends within the second screenful.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/help/search?q=invoice")
    hits = results(page).locator(".search-hit")
    expect(hits).to_have_count(10)
    tenth = hits.nth(9).bounding_box()
    assert tenth is not None
    assert tenth["y"] + tenth["height"] <= 2 * 800, tenth
