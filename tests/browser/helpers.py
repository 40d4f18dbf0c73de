"""Checks shared by the browser tests."""

from playwright.sync_api import Page

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


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


def boxes(page: Page, selector: str) -> list[dict]:
    """The text and horizontal extent of each element that `selector` finds and the reader can
    see (empty and visually hidden ones left out)."""
    return page.locator(selector).evaluate_all(
        """elements => elements
            .filter(el => el.textContent.trim() && el.checkVisibility() && el.offsetWidth > 1)
            .map(el => {
                const box = el.getBoundingClientRect();
                return {text: el.textContent.trim(), left: box.left, right: box.right};
            })"""
    )


def off_screen(page: Page, found: list[dict]) -> list[str]:
    """Those of `found` (from `boxes`) that are not wholly between the screen's left and right
    edges: on a phone, what the reader would have to scroll sideways to see."""
    width = page.evaluate("() => document.documentElement.clientWidth")
    return [
        f"{item['text']!r} at {item['left']:.0f}–{item['right']:.0f} px"
        for item in found
        if item["left"] < 0 or item["right"] > width
    ]


def mislabelled_cells(page: Page) -> list[str]:
    """Cells of the stacked tables whose phone label (data-label) is not the text of their
    column header, counting column spans."""
    return page.evaluate(
        """() => {
            const wrong = [];
            for (const table of document.querySelectorAll('table.table--stack')) {
                const headers = [];
                for (const th of table.tHead.rows[0].cells) {
                    for (let i = 0; i < th.colSpan; i++) headers.push(th.textContent.trim());
                }
                for (const body of [...table.tBodies, table.tFoot].filter(Boolean)) {
                    for (const row of body.rows) {
                        let column = 0;
                        for (const cell of row.cells) {
                            const label = cell.dataset.label;
                            if (label !== undefined && label !== headers[column]) {
                                wrong.push(`${label} in the column of ${headers[column]}`);
                            }
                            column += cell.colSpan;
                        }
                    }
                }
            }
            return wrong;
        }"""
    )
