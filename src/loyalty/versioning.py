"""The version tag every JSON document loyalty writes carries: `format` (what the document is and the version
of its layout, e.g. "loyalty-simulation/1") and `loyalty_version` (the package that wrote it). A reader checks
`format`; `loyalty_version` says where a document came from. Neither changes a program's identity."""

from __future__ import annotations

from loyalty import __version__

VERSION_KEY = "loyalty_version"


def version_tag(format_name: str) -> dict[str, str]:
    """{"format": format_name, "loyalty_version": "0.1.0"}: put first in a document's dict."""
    return {"format": format_name, VERSION_KEY: __version__}
