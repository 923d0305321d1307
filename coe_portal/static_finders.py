"""plotly.js comes with the `plotly` package: this finder serves it as `vendor/plotly.min.js`
from there, so it is always present (in `runserver`, in tests, and for `collectstatic` on a
fresh checkout) and never committed or copied by hand."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_PATH = "vendor/plotly.min.js"


def plotly_file() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


class PlotlyFinder(BaseFinder):
    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if path != PLOTLY_PATH:
            return [] if find_all else None
        found = str(plotly_file())
        return [found] if find_all else found

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        storage = FileSystemStorage(location=plotly_file().parent)
        storage.prefix = "vendor"  # type: ignore[attr-defined]  # collectstatic reads it
        yield plotly_file().name, storage
