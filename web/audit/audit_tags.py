"""`{% load audit_tags %}`: how an event reads in a template (registered in TEMPLATES' libraries:
the web floor is not an app, so it has no templatetags package of its own)."""

from django import template

from . import display

register = template.Library()


@register.filter
def audit_changes(event):
    """`{% for label, before, after in event|audit_changes %}`: what an event changed, translated."""
    return display.changes(event)


@register.filter
def audit_target_type(event):
    return display.target_type_text(event)
