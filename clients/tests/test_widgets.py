import pytest
from django import forms

from clients.widgets import QuickSelect

CHOICES = [
    ("", "---------"),
    (1, 'Ann <b>&</b> "Bo"'),
    ("Group 'one'", [("a", "A"), ("b", "B")]),
    (2, "Two"),
]


@pytest.mark.parametrize("value", [None, "", 1, "a", ["b"]])
@pytest.mark.parametrize(
    "attrs",
    [None, {"id": "id_x", "required": True, "disabled": True}, {"data-x": '"quoted" & <tag>', "hidden": False}],
)
def test_quick_select_writes_the_same_markup_as_djangos_select(value, attrs):
    quick = QuickSelect(choices=CHOICES).render("who", value, attrs=attrs)
    django = forms.Select(choices=CHOICES).render("who", value, attrs=attrs)
    assert quick == django


def test_quick_select_escapes_labels_and_values():
    html = QuickSelect(choices=[("<x>", "<script>")]).render("who", None)
    assert "<script>" not in html
    assert 'value="&lt;x&gt;"' in html


@pytest.mark.parametrize(("pk", "name"), [(12, "Ann"), (7, 'A <b>&</b> "O\'Neil"')])
def test_the_quick_action_checkbox_writes_djangos_markup(pk, name):
    from django.contrib import admin

    from clients.admin_paging import QuickCheckboxAdminMixin
    from clients.models import Client

    client = Client(pk=pk, first_name=name, last_name="")
    django = admin.ModelAdmin(Client, admin.site).action_checkbox(client)
    assert QuickCheckboxAdminMixin().action_checkbox(client) == django
