"""Checks shared by the browser tests."""

from playwright.sync_api import Page


def horizontal_overflow(page: Page) -> list[str]:
    """The page's extra width in pixels, and the elements that stick out to the right."""
    return page.evaluate(
        """() => {
            const root = document.documentElement;
            if (root.scrollWidth <= root.clientWidth) return [];
            const wide = [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > root.clientWidth + 1)
                .slice(0, 5)
                .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
            return [`scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}`, ...wide];
        }"""
    )
