"""The reference chat page is served as plain files under its own security headers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from servers.api.app import create_app
from servers.api.web import STATIC


def test_chat_page_is_served_with_a_policy_that_allows_only_this_server():
    client = TestClient(create_app())  # no lifespan: the page needs no database

    redirect = client.get("/app", follow_redirects=False)
    page = client.get("/app/")
    script = client.get("/app/app.js")

    assert redirect.status_code in (307, 308) and redirect.headers["location"].endswith("/app/")
    assert page.status_code == 200 and 'lang="pt-BR"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_chat_page_files_load_nothing_from_elsewhere_and_nothing_inline():
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text) and "<style" not in text and " style=" not in text
