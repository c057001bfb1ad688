"""`{% load jinja %}{% jinja "accounts/_user_rows.jinja" users=users %}`: a Jinja2 part inside a
Django template (registered in TEMPLATES' libraries; the Jinja2 engine is the second in TEMPLATES).

For the parts of a page whose work grows with the data: Jinja2 compiles a template to Python and
prints a value several times faster than Django's engine. The part sees only the keyword arguments,
escapes everything it prints (autoescape), and is given its texts already translated."""

from django import template
from django.template import engines
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def jinja(name, **context):
    # Jinja2 escaped every value it printed: the result is safe markup.
    return mark_safe(engines["jinja2"].get_template(name).template.render(context))  # noqa: S308
