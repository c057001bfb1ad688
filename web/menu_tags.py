"""`{% load menus %}{% options choices selected %}`: the <option>s of a long menu (registered in
TEMPLATES' libraries; the web floor is not an app).

The people list has two menus of every group in scope (250 at 100,000 users): printed through a
template loop they cost more than the page's rows. Here each option is one string join with the
label escaped, and the chosen value is marked once."""

from html import escape

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def options(choices, selected=None):
    """`choices`: (value, label) pairs, values being ids (ints); `selected`: the chosen value or None."""
    html = "".join([f'<option value="{int(value)}">{escape(label)}</option>' for value, label in choices])
    if selected is not None:
        chosen = f'<option value="{int(selected)}">'
        html = html.replace(chosen, f'<option value="{int(selected)}" selected>', 1)
    # Values are integers and labels escaped: safe markup.
    return mark_safe(html)  # noqa: S308
