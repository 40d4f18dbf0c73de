"""Feedback on an article in a browser, with CSRF on: the page every anonymous reader shares
sets no cookie, the form comes by htmx with its own token, a refused vote says why in place,
and the form still works without JavaScript."""

import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app.kb.routes import ARTICLE_ALREADY_VOTED


@pytest.fixture(autouse=True)
def own_vote_limits(portal: Flask, monkeypatch):
    """Limits of this module's own (a limit's counters are kept per limit), so that its votes
    leave the other tests' allowance from this address untouched."""
    monkeypatch.setitem(portal.config, "FEEDBACK_ANONYMOUS_RATE_LIMIT", "100 per 2 hours")
    monkeypatch.setitem(portal.config, "FEEDBACK_ANONYMOUS_ARTICLE_LIMIT", "1 per 2 days")


def feedback_region(page: Page):
    return page.get_by_role("region", name="Was this helpful?")


def test_the_shared_article_loads_the_form_and_a_vote_is_sent_in_place(page: Page, axe,
                                                                       in_place):
    fragments = []
    page.on("request", lambda request: request.url.endswith("/feedback")
            and fragments.append((request.method, request.headers.get("hx-request"))))
    response = page.goto("/help/invoice-statuses")
    assert response is not None and response.status == 200
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-cache"

    feedback = feedback_region(page)
    expect(feedback.get_by_label("No", exact=True)).to_be_visible()
    assert fragments == [("GET", "true")]
    assert page.locator("#feedback-box input[name=csrf_token]").get_attribute("value")
    axe(page)

    feedback.get_by_label("No", exact=True).check()
    feedback.get_by_label("What could be better? (optional)").fill("Add the void status.")
    with in_place(page):
        feedback.get_by_role("button", name="Send feedback").click()
        thanks = feedback.get_by_role("status")
        expect(thanks).to_contain_text("Thank you for your feedback. You answered No")
        expect(thanks).to_contain_text("left a comment")
        expect(thanks).to_be_focused()
    assert fragments[-1] == ("POST", "true")

    page.reload()
    expect(feedback.get_by_role("status")).to_contain_text("You answered No")
    expect(feedback.get_by_label("No", exact=True)).to_be_checked()

    # Coming back later: the form loaded with the page leaves the reader at the top.
    page.goto("/help")
    page.goto("/help/invoice-statuses")
    expect(feedback.get_by_role("status")).to_contain_text("You answered No")
    expect(feedback.get_by_role("status")).not_to_be_focused()
    assert page.evaluate("() => window.scrollY") == 0


def test_a_refused_vote_says_why_and_keeps_the_comment(page: Page, browser: Browser,
                                                       base_url: str, browser_errors,
                                                       in_place):
    browser_errors.expect_message(r"status of 429")
    first = browser_errors.watch(browser.new_context(base_url=base_url))
    try:
        other = first.new_page()
        other.goto("/help/payment-receipts")
        feedback_region(other).get_by_label("Yes", exact=True).check()
        feedback_region(other).get_by_role("button", name="Send feedback").click()
        expect(feedback_region(other).get_by_role("status")).to_contain_text("You answered Yes")
    finally:
        first.close()

    # A second reader on the same network, in a session of their own.
    page.goto("/help/payment-receipts")
    feedback = feedback_region(page)
    feedback.get_by_label("No", exact=True).check()
    feedback.get_by_label("What could be better? (optional)").fill("Show a sample receipt.")
    with in_place(page):
        feedback.get_by_role("button", name="Send feedback").click()
        refusal = feedback.get_by_role("alert")
        expect(refusal).to_have_text(ARTICLE_ALREADY_VOTED)
        expect(refusal).to_be_focused()
    expect(feedback.get_by_label("What could be better? (optional)")).to_have_value(
        "Show a sample receipt."
    )
    expect(feedback.get_by_label("No", exact=True)).to_be_checked()


def test_without_javascript_the_link_opens_the_form_and_the_vote_is_confirmed(
    browser: Browser, base_url: str, browser_errors
):
    context = browser_errors.watch(browser.new_context(base_url=base_url,
                                                       java_script_enabled=False))
    try:
        page = context.new_page()
        page.goto("/help/ach-returns")
        feedback = feedback_region(page)
        feedback.get_by_role("link", name="Tell us whether this article helped").click()
        expect(page).to_have_url(re.compile(r"/help/ach-returns/feedback$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Feedback on")

        feedback.get_by_label("Yes", exact=True).check()
        feedback.get_by_role("button", name="Send feedback").click()
        expect(page).to_have_url(re.compile(r"/help/ach-returns#feedback$"))
        expect(page.get_by_text("Thank you for your feedback.", exact=True)).to_be_visible()
        expect(feedback.get_by_role("status")).to_contain_text("You answered Yes")
    finally:
        context.close()


def test_the_feedback_page_passes_axe(page: Page, axe):
    response = page.goto("/help/ach-returns/feedback")
    assert response is not None and response.status == 200
    expect(feedback_region(page).get_by_role("button", name="Send feedback")).to_be_visible()
    axe(page)


def test_the_link_shown_before_the_form_arrives_passes_axe(page: Page, axe):
    """What a reader without JavaScript sees in place of the form."""
    page.route("**/help/ach-returns/feedback", lambda route: route.fulfill(status=204))
    page.goto("/help/ach-returns")
    link = feedback_region(page).get_by_role("link", name="Tell us whether this article helped")
    expect(link).to_have_attribute("href", "/help/ach-returns/feedback")
    axe(page)
