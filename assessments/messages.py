"""The messages of an assessment invitation and of its reminder, registered with the invitations floor
(`invitations.messages.register_builder`, in AssessmentsConfig.ready): that floor sends them but may
not import this one. The delivery service calls the builder in the recipient's language.

The link is `/a/<token>/` on the organisation's host. An SMS is one 160-character GSM message, link
included: the questionnaire's title gives way first, then the organisation's name.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from assessments.models import Assignment
from experquiz.sms.gsm import SMS_LIMIT, septets, to_gsm
from experquiz.tenancy import organization_url

LINK_URL_NAME = "assessment_link"  # web.assessments.urls_link
TEMPLATE = "assessments/messages/invitation"
SHORTEST_TITLE = 12


def _assignment(invitation):
    # The message belongs to its assignment through the batch (the invitations floor has no key to it).
    return invitation.batch.assignment


def _short_time(value) -> str:
    """'2 Dec 18:00': short enough for an SMS, in the message's language."""
    return formats.date_format(timezone.localtime(value), "j M H:i")


def _context(invitation, *, link):
    assignment = _assignment(invitation)
    recipient = invitation.recipient
    return {
        "organization": invitation.organization,
        "first_name": getattr(recipient, "first_name", ""),
        "questionnaire": assignment.questionnaire,
        "title": assignment.questionnaire.title,
        "opens_at": assignment.opens_at,
        "closes_at": assignment.closes_at,
        "not_open_yet": assignment.opens_at > timezone.now(),
        "link": link,
        "is_reminder": invitation.is_reminder,
    }


class AssessmentMessages:
    """The builder of `kind=assessment` messages (see invitations.messages)."""

    def can_build(self, invitation) -> bool:
        """Only the messages of an assessment invitation (a batch with its assignment)."""
        return invitation.batch_id is not None and Assignment.objects.filter(batch_id=invitation.batch_id).exists()

    def link(self, invitation, token: str) -> str:
        return organization_url(invitation.organization, reverse(LINK_URL_NAME, args=[token]))

    def email(self, invitation, *, link: str) -> EmailMultiAlternatives:
        context = _context(invitation, link=link)
        subject = " ".join(render_to_string(f"{TEMPLATE}_subject.txt", context).split())
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string(f"{TEMPLATE}.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[invitation.address],
        )
        message.attach_alternative(render_to_string(f"{TEMPLATE}.html", context), "text/html")
        return message

    def sms(self, invitation, *, link: str) -> str:
        assignment = _assignment(invitation)
        return sms_text(
            organization_name=invitation.organization.name,
            title=assignment.questionnaire.title,
            closes_at=assignment.closes_at,
            link=link,
            is_reminder=invitation.is_reminder,
        )


def _words(*, org, title, closes, link, is_reminder) -> str:
    values = {"org": org, "title": title, "closes": closes, "link": link}
    if not title:
        if is_reminder:
            return _("%(org)s reminder: your assessment closes %(closes)s: %(link)s") % values
        return _("%(org)s invites you to an assessment before %(closes)s: %(link)s") % values
    if is_reminder:
        return _("%(org)s reminder: take “%(title)s” before %(closes)s: %(link)s") % values
    return _("%(org)s invites you to take “%(title)s” before %(closes)s: %(link)s") % values


def sms_text(*, organization_name: str, title: str, closes_at, link: str, is_reminder: bool = False) -> str:
    """One GSM message: the title is shortened first, then the organisation's name."""
    org, full_title, closes = to_gsm(organization_name), to_gsm(title), to_gsm(_short_time(closes_at))
    keep = len(full_title)
    while True:
        title = full_title if keep >= len(full_title) else (full_title[:keep].rstrip() + ".").lstrip(".")
        body = to_gsm(_words(org=org, title=title, closes=closes, link=link, is_reminder=is_reminder))
        excess = septets(body) - SMS_LIMIT
        if excess <= 0:
            return body
        if keep > SHORTEST_TITLE:
            keep = max(SHORTEST_TITLE, min(keep, len(full_title)) - excess - 1)
        elif org:
            org = org[: max(0, len(org) - excess)].rstrip()
        elif keep > 0:
            keep = 0
        else:
            return f"ExperQuiz: {link}"  # a very long host: the link is what matters
