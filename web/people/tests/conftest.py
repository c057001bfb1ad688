# The invitations tests' fixtures (an emptied SMS outbox around each test, `deliver` to run the
# on-commit sending) serve the people pages' tests that send messages.
import pytest
from django.template.backends.jinja2 import Template as JinjaTemplate
from django.test.signals import template_rendered

from invitations.tests.conftest import _empty_sms_outbox, deliver  # noqa: F401


@pytest.fixture(autouse=True)
def jinja_context_in_responses(monkeypatch):
    """Django's test client records the context of Django templates only: the pages written in
    Jinja2 (the people list) record theirs too, so `response.context["users"]` reads the same."""
    render = JinjaTemplate.render

    def recorded(self, context=None, request=None):
        template_rendered.send(sender=self, template=self, context=dict(context or {}))
        return render(self, context, request)

    monkeypatch.setattr(JinjaTemplate, "render", recorded)
