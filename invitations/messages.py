"""The text of each message, in the recipient's language: an email (text and HTML) or an SMS.

The delivery service calls it with the link's token or the temporary password, which it derives from
the row (invitations.tokens): rendering the same invitation again gives the same message.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from experquiz.sms.gsm import SMS_LIMIT, septets, to_gsm
from experquiz.tenancy import organization_url

from .models import Invitation

Kind = Invitation.Kind

TEMPLATES = {
    Kind.ACCOUNT: "invitations/messages/account",
    Kind.PASSWORD_RESET: "invitations/messages/password_reset",
    Kind.TEMPORARY_PASSWORD: "invitations/messages/temporary_password",
}


# Messages of kinds defined by an upper floor (an assessment's invitation and reminder): the floor that
# knows what they say registers a builder when it loads (AssessmentsConfig.ready), since this floor
# may not import it. A builder has `can_build(invitation)`, `link(invitation, token)`, `email(invitation, link=…)` (an
# EmailMultiAlternatives) and `sms(invitation, link=…)` (one GSM message, link included).
_builders = {}


def register_builder(kind: str, builder) -> None:
    _builders[kind] = builder


def can_build(invitation: Invitation) -> bool:
    """Whether a message can be made for `invitation` (a builder may refuse a row it cannot place)."""
    if invitation.kind in _builders:
        return _builders[invitation.kind].can_build(invitation)
    return invitation.kind in TEMPLATES


def link_for(invitation: Invitation, token: str) -> str:
    if invitation.kind in _builders:
        with translation.override(None):
            return _builders[invitation.kind].link(invitation, token)
    name = "invitations:reset" if invitation.kind == Kind.PASSWORD_RESET else "invitations:accept"
    with translation.override(None):
        return organization_url(invitation.organization, reverse(name, args=[token]))


def _context(invitation, *, link, secret):
    recipient = invitation.recipient
    return {
        "organization": invitation.organization,
        "recipient": recipient,
        "first_name": getattr(recipient, "first_name", ""),
        "link": link,
        "login_url": organization_url(invitation.organization, "/login/"),
        "login_id": getattr(recipient, "login_id", invitation.address),
        "temporary_password": secret,
        "expires_at": invitation.expires_at,
        "is_reminder": invitation.is_reminder,
    }


def recipient_language(invitation) -> str:
    return getattr(invitation.recipient, "language", "") or invitation.organization.language or "en"


def build_email(invitation: Invitation, *, link: str = "", secret: str = "") -> EmailMultiAlternatives:
    if invitation.kind in _builders:
        with translation.override(recipient_language(invitation)):
            message = _builders[invitation.kind].email(invitation, link=link)
    else:
        base = TEMPLATES[invitation.kind]
        with translation.override(recipient_language(invitation)):
            context = _context(invitation, link=link, secret=secret)
            subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
            text = render_to_string(f"{base}.txt", context)
            html = render_to_string(f"{base}.html", context)
        message = EmailMultiAlternatives(
            subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[invitation.address]
        )
        message.attach_alternative(html, "text/html")
    # Lets a mail log (and the tests' SMTP server) tie each message to its row.
    message.extra_headers["X-ExperQuiz-Invitation"] = str(invitation.pk)
    return message


def _sms_text(invitation, *, organization_name, link, secret):
    if invitation.kind == Kind.ACCOUNT and invitation.is_reminder:
        return _("%(org)s: reminder, your ExperQuiz invitation expires soon: %(link)s") % {
            "org": organization_name,
            "link": link,
        }
    if invitation.kind == Kind.ACCOUNT:
        return _("%(org)s invites you to ExperQuiz. Create your account: %(link)s") % {
            "org": organization_name,
            "link": link,
        }
    if invitation.kind == Kind.PASSWORD_RESET:
        return _("%(org)s ExperQuiz: to choose a new password, open %(link)s") % {
            "org": organization_name,
            "link": link,
        }
    return _("%(org)s ExperQuiz: your temporary password is %(password)s. Log in at %(link)s") % {
        "org": organization_name,
        "password": secret,
        "link": link,
    }


def build_sms(invitation: Invitation, *, link: str = "", secret: str = "") -> str:
    """An SMS that fits one 160-character GSM message, link included (the organisation name gives way)."""
    if invitation.kind in _builders:
        with translation.override(recipient_language(invitation)):
            return _builders[invitation.kind].sms(invitation, link=link)
    if invitation.kind == Kind.TEMPORARY_PASSWORD:
        link = organization_url(invitation.organization, "/login/")
    name = to_gsm(invitation.organization.name)
    with translation.override(recipient_language(invitation)):
        while True:
            body = to_gsm(_sms_text(invitation, organization_name=name, link=link, secret=secret))
            if septets(body) <= SMS_LIMIT:
                return body
            if not name:
                # Very long hosts: the link (and the password) matter more than the words around them.
                return f"ExperQuiz {secret} {link}" if secret else f"ExperQuiz: {link}"
            name = name[:-1].rstrip() if len(name) > 12 else ""
