"""Markdown for COE sections and comments: rendered with `markdown`, then sanitised with `nh3`,
so script, event handlers and `javascript:` links written into a report never reach a browser."""

from __future__ import annotations

import markdown as markdown_lib
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
EXTENSIONS = ["extra", "sane_lists"]


class EscapeRawHtml(markdown_lib.extensions.Extension):
    """Raw HTML in a report is shown as text ("the `<service>` flag"), not interpreted."""

    def extendMarkdown(self, md: markdown_lib.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def render_markdown(text: str) -> str:
    """Safe HTML for `text`: raw HTML is escaped, and nh3 removes anything unsafe that is left
    (`javascript:` links, unknown tags and attributes)."""
    html = markdown_lib.markdown(
        text or "", extensions=[*EXTENSIONS, EscapeRawHtml()], output_format="html"
    )
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
