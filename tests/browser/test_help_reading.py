"""Reading the Help Center in a browser: navigation, the announcement's links, feedback by
htmx, the print stylesheet, and axe-core on every kind of page."""

import re

import pytest
from playwright.sync_api import Error, Page, expect

from app.formatting import medium_date

ANNOUNCEMENT = "marketplace-enhancements-april-2018"
ANNOUNCED = [
    "what-will-my-invoice-look-like",
    "how-do-i-retrieve-historical-invoice-information",
    "how-do-i-submit-a-payment-for-open-invoices",
    "how-do-i-add-ach-as-a-payment-method",
    "how-is-the-credit-on-my-account-used",
    "how-do-i-change-my-account-information",
    "how-do-i-change-my-tax-information",
    "control-panel-changes",
]
ARTICLE = "what-will-my-invoice-look-like"


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def test_home_to_category_to_article(page: Page, library):
    article = library.get(ARTICLE)
    page.goto("/help")
    expect(heading(page)).to_have_text("Help Center")

    page.get_by_role("link", name=article.category_name, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/help/category/{article.category}$"))
    expect(heading(page)).to_have_text(article.category_name)
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.get_by_role("link", name="Help Center")).to_have_attribute("href", "/help")

    page.get_by_role("main").get_by_role("link", name=article.title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/help/{ARTICLE}$"))
    expect(heading(page)).to_have_text(article.title)
    expect(page).to_have_title(f"{article.title} · Partner Portal")
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.get_by_role("listitem")).to_have_text(
        ["Help Center", article.category_name, article.title]
    )
    expect(crumbs.locator("[aria-current=page]")).to_have_text(article.title)
    expect(page.get_by_text(f"Updated {medium_date(article.updated)}")).to_be_visible()
    expect(page.locator("time")).to_have_attribute("datetime", article.updated.isoformat())

    # Back up the breadcrumb trail to the category.
    crumbs.get_by_role("link", name=article.category_name).click()
    expect(heading(page)).to_have_text(article.category_name)


def test_on_this_page_links_jump_to_their_section(page: Page, library):
    article = library.get(ARTICLE)
    assert article.toc, f"{ARTICLE} should have sections for its table of contents"
    page.goto(f"/help/{ARTICLE}")
    toc = page.get_by_role("navigation", name="On this page")
    expect(toc.get_by_role("link").first).to_have_text(article.toc[0]["name"])

    last = article.toc[-1]
    toc.get_by_role("link", name=last["name"], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/help/{ARTICLE}#{re.escape(last['id'])}$"))
    section = page.locator(f'[id="{last["id"]}"]')
    expect(section).to_have_text(re.compile(re.escape(last["name"])))
    expect(section).to_be_in_viewport()


def test_a_related_article_link_opens_that_article(page: Page, library):
    article = library.get(ARTICLE)
    assert article.related, f"{ARTICLE} should list related articles"
    related = library.get(article.related[0])
    page.goto(f"/help/{ARTICLE}")
    nav = page.get_by_role("navigation", name="Related articles")
    expect(nav.get_by_role("link")).to_have_count(len(article.related))

    nav.get_by_role("link", name=related.title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/help/{related.slug}$"))
    expect(heading(page)).to_have_text(related.title)


def test_the_announcement_links_to_each_announced_article(page: Page, library):
    announcement = library.get(ANNOUNCEMENT)
    page.goto(f"/help/{ANNOUNCEMENT}")
    body = page.get_by_role("article")
    for slug in ANNOUNCED:
        link = body.locator(f'a[href="/help/{slug}"], a[href^="/help/{slug}#"]').first
        expect(link, f"the announcement should link to {slug}").to_be_visible()
        link.click()
        expect(page).to_have_url(re.compile(rf"/help/{slug}(#.*)?$"))
        expect(heading(page)).to_have_text(library.get(slug).title)
        page.go_back()
        expect(heading(page)).to_have_text(announcement.title)


def test_feedback_is_sent_in_place_and_remembered(page: Page, in_place):
    page.goto("/help/how-is-the-credit-on-my-account-used")
    feedback = page.get_by_role("region", name="Was this helpful?")
    feedback.get_by_label("Yes", exact=True).check()
    feedback.get_by_label("What could be better? (optional)").fill("The example helped.")

    with in_place(page):
        feedback.get_by_role("button", name="Send feedback").click()
        thanks = feedback.get_by_role("status")
        expect(thanks).to_contain_text("Thank you for your feedback. You answered Yes")
        expect(thanks).to_contain_text("left a comment")
        expect(thanks).to_be_focused()

    page.reload()
    expect(feedback.get_by_role("status")).to_contain_text("You answered Yes")
    expect(feedback.get_by_label("Yes", exact=True)).to_be_checked()


def test_feedback_without_an_answer_asks_for_one_first(page: Page):
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    page.goto("/help/how-do-i-add-ach-as-a-payment-method")
    feedback = page.get_by_role("region", name="Was this helpful?")
    feedback.get_by_role("button", name="Send feedback").click()

    yes = feedback.get_by_label("Yes", exact=True)
    expect(yes).to_be_focused()
    assert yes.evaluate("radio => radio.validity.valueMissing")
    assert posts == []


def test_the_print_stylesheet_keeps_only_the_article(page: Page, library):
    page.goto(f"/help/{ARTICLE}")
    header = page.locator(".site-header")
    expect(header).to_be_visible()

    page.emulate_media(media="print")
    expect(header).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    expect(page.get_by_role("region", name="Was this helpful?")).to_be_hidden()
    expect(heading(page)).to_have_text(library.get(ARTICLE).title)
    expect(heading(page)).to_be_visible()


@pytest.mark.parametrize(
    "path",
    [
        "/help",
        "/help/category/invoices-billing",
        f"/help/{ARTICLE}",
        f"/help/{ANNOUNCEMENT}",
        "/login",
    ],
)
def test_help_pages_pass_axe(page: Page, axe, path):
    response = page.goto(path)
    assert response is not None and response.status == 200
    axe(page)


def test_the_not_found_page_passes_axe(page: Page, axe, browser_errors):
    browser_errors.expect_message(r"status of 404")
    response = page.goto("/help/no-such-article")
    assert response is not None and response.status == 404
    expect(heading(page)).to_have_text("Not Found")
    expect(page.get_by_role("link", name="Go to the Help Center")).to_be_visible()
    axe(page)


def test_pages_run_under_the_content_security_policy(page: Page, axe, browser_errors):
    """The suite tests the real CSP: an inline script is refused, and axe-core still runs."""
    browser_errors.expect_message(r"Content Security Policy")
    response = page.goto("/help")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    with pytest.raises(Error):
        page.add_script_tag(content="window.__inline = true;")
    assert page.evaluate("() => window.__inline") is None
    axe(page)
