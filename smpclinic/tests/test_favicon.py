from __future__ import annotations

from django.templatetags.static import static


def test_the_icon_browsers_ask_for_on_pages_that_link_none_is_the_sites_icon(client):
    # The admin's pages link no icon: browsers ask for /favicon.ico, which answered 404.
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("img/favicon.svg")
    assert client.post("/favicon.ico").status_code == 405
