"""A select list written in Python, for the admin's long ones.

Django renders a <select> through a template that includes one more template per <option>
(and another for each option's attributes): a list of a hundred staff costs a hundred template
renders, several times on a client's page (the inlines' "add another" rows included). QuickSelect
writes the very markup of django/forms/widgets/select.html, select_option.html and attrs.html,
escaped as the templates escape it.
"""

from __future__ import annotations

from django import forms
from django.utils.html import format_html
from django.utils.safestring import mark_safe

DEFAULT_TEMPLATES = ("django/forms/widgets/select.html", "django/forms/widgets/select_option.html")


def _attrs(attrs: dict) -> str:
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(format_html(" {}", name) if value is True else format_html(' {}="{}"', name, str(value)))
    return "".join(out)


class QuickSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        if (self.template_name, self.option_template_name) != DEFAULT_TEMPLATES:
            return super().render(name, value, attrs, renderer)
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"', widget["name"]), _attrs(widget["attrs"]), ">"]
        for group_name, group_choices, _ in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in group_choices:
                parts.append(
                    format_html(
                        '\n  <option value="{}"{}>{}</option>\n',
                        str(option["value"]),
                        mark_safe(_attrs(option["attrs"])),  # noqa: S308 - built by format_html
                        option["label"],
                    )
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")  # the form renderer strips the template's last newline
        return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above


class QuickSelectAdminMixin:
    """Foreign keys and choice fields of a ModelAdmin or inline render as QuickSelect (radio
    buttons, autocompletes and raw ids keep their own widgets)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        special = (*self.raw_id_fields, *self.radio_fields, *self.get_autocomplete_fields(request))
        if db_field.name not in special:
            kwargs.setdefault("widget", QuickSelect)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name not in self.radio_fields:
            kwargs.setdefault("widget", QuickSelect)
        return super().formfield_for_choice_field(db_field, request, **kwargs)
