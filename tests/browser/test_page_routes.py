"""GET / and /static/*: the playground's files, their types and headers, and PLAYGROUND=false."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServerFactory


def test_page_is_served_with_a_same_origin_policy(make_server: ServerFactory) -> None:
    """GET / is the page's HTML, under a policy that lets it load only from the server."""
    response = httpx.get(make_server().url + "/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="static/playground.js">' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("playground.js", "text/javascript; charset=utf-8"),
        ("reply.js", "text/javascript; charset=utf-8"),
        ("sse.js", "text/javascript; charset=utf-8"),
        ("playground.css", "text/css; charset=utf-8"),
    ],
)
def test_static_files_are_served_with_their_types(
    make_server: ServerFactory, name: str, content_type: str
) -> None:
    """Each shipped asset is served from the package with the type a browser needs."""
    response = httpx.get(f"{make_server().url}/static/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert len(response.content) > 100


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/index.html", "/static/..%2fmain.py"])
def test_only_the_listed_static_files_are_served(make_server: ServerFactory, path: str) -> None:
    """Names outside the asset table get the JSON 404 envelope, never a file."""
    response = httpx.get(make_server().url + path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_page_is_absent_when_the_playground_is_off(make_server: ServerFactory) -> None:
    """With PLAYGROUND=false neither the page nor its files are served; the API still is."""
    server = make_server(playground=False)

    assert httpx.get(server.url + "/").status_code == 404
    assert httpx.get(server.url + "/static/playground.js").status_code == 404
    assert httpx.get(server.url + "/graph-types").status_code == 200
