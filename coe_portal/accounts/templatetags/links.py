"""Links to other sites from stored URLs (runbooks, trackers, verification): only http and https
become links; anything else (`javascript:`, `data:`) shows as text, whatever got it stored."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()
WEB_SCHEMES = {"http", "https"}


def is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc)


@register.simple_tag
def external_link(url: str, label: str = "") -> SafeString | str:
    if not url:
        return ""
    if not is_web_url(url):
        return format_html('<span class="help" title="Not a web link">{}</span>', url)
    return format_html(
        '<a href="{}" rel="noopener noreferrer">{}</a>', url.strip(), label or url.strip()
    )
