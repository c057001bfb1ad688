"""Invitations: one row per message that carries a token link (or a temporary password).

The table is the outbox: a row is created `pending`, and a Celery task claims it, renders and sends
it. The raw token exists only in the rendered message: it is derived from the secret key and the row's
`nonce` (invitations.tokens), so a message rendered again after a crash carries the same link, and the
row keeps only the token's SHA-256.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Channel
from experquiz.tenancy import OrgQuerySet

from .tokens import new_nonce

# The messages that open the account itself (unlike an assessment link): Invitation.Kind values.
ACCOUNT_LINK_KINDS = ("account", "password_reset", "temporary_password")


class InvitationQuerySet(OrgQuerySet):
    def outstanding(self):
        """Not used and not revoked: a link that may still be (or become) usable."""
        return self.filter(used_at__isnull=True, revoked_at__isnull=True)

    def pending_account_links(self):
        """Account invitations, password resets and temporary passwords that may still be used or sent.

        A temporary password counts until it is sent (sending marks it used): once sent it is the
        user's password, not a link.
        """
        return self.filter(kind__in=ACCOUNT_LINK_KINDS).outstanding()


class InvitationBatch(models.Model):
    """One sending by an administrator: what the batch page follows with its progress bar."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(_("description"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation batch")
        verbose_name_plural = _("invitation batches")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="invitations_batch_org_created")]

    def __str__(self):
        return self.label or _("Batch %(number)s") % {"number": self.pk}


class Invitation(models.Model):
    class Kind(models.TextChoices):
        ACCOUNT = "account", _("Account invitation")
        ASSESSMENT = "assessment", _("Assessment invitation")
        # Account messages that carry a secret go through the same outbox and workers.
        PASSWORD_RESET = "password_reset", _("Password reset")
        TEMPORARY_PASSWORD = "temporary_password", _("Temporary password")

    class Delivery(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ACCOUNT)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="invitations"
    )
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    address = models.CharField(_("sent to"), max_length=254)
    is_reminder = models.BooleanField(_("reminder"), default=False)
    # What the link (or temporary password) is derived from, with the secret key: never the token itself.
    # A resend is a new row, so a new nonce and a new link.
    nonce = models.CharField(max_length=64, default=new_nonce, editable=False)
    # Empty until a worker claims the row to send it (the hash is written before the message goes, so
    # the link works as soon as it arrives).
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices, default=Delivery.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    # Delivery bookkeeping (invitations.services.outbox): the last time a task was queued for the row
    # (None: the broker refused it), the next retry's time, and the claim of the worker sending it (a
    # lease it renews while it sends). Pending, neither claimed nor waiting for a retry, and queued
    # longer ago than INVITATIONS_SWEEP_AFTER: lost, and the sweeper queues it again.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)  # the worker's name (celery@host)
    claim_task_id = models.CharField(max_length=64, blank=True)  # the Celery task, kept by its retries
    # Not to be sent before this time (an assessment's messages that go some minutes before its window
    # opens): no task claims the row earlier, and the sweeper queues it once the time has come.
    not_before = models.DateTimeField(_("not sent before"), null=True, blank=True)
    # Which packet of its batch the message goes in, named after the first and last person of the
    # packet ("Ab–Co"), so an administrator finds someone's packet on the batch page.
    packet = models.CharField(_("packet"), max_length=20, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    batch = models.ForeignKey(
        InvitationBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitations"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, contact__isnull=True) | Q(user__isnull=True, contact__isnull=False),
                name="invitations_invitation_one_recipient",
            ),
            models.CheckConstraint(
                condition=Q(kind="assessment") | Q(user__isnull=False),
                name="invitations_invitation_account_kinds_need_user",
            ),
            models.UniqueConstraint(
                fields=["token_hash"], condition=~Q(token_hash=""), name="invitations_invitation_unique_token"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "delivery", "-created_at"], name="invitations_inv_org_delivery"),
            models.Index(fields=["organization", "user"], name="invitations_inv_org_user"),
            models.Index(fields=["organization", "batch", "delivery"], name="invitations_inv_org_batch"),
            # The sweeper's scan: only the (few) rows still waiting for delivery.
            models.Index(fields=["enqueued_at"], condition=Q(delivery="pending"), name="invitations_inv_pending"),
        ]

    def __str__(self):
        # Not get_kind_display(): it builds the choices' dictionary at each call, and a sending names
        # each of its thousands of invitations in the audit trail.
        try:
            kind = self.Kind(self.kind).label
        except ValueError:  # a kind not among the choices: shown as stored, as get_kind_display() does
            kind = self.kind
        return f"{kind} → {self.address}"

    @property
    def recipient(self):
        return self.user if self.user_id else self.contact

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_outstanding(self) -> bool:
        return self.used_at is None and self.revoked_at is None


class InvitationSettings(models.Model):
    """Per-organisation invitation options kept here so the accounts tables stay as they are."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="invitation_settings"
    )
    reminder_days_before_expiry = models.PositiveSmallIntegerField(
        _("reminder (days before expiry)"),
        default=0,
        help_text=_("Remind those who have not accepted this many days before their link expires; 0: never."),
    )

    class Meta:
        verbose_name = _("invitation settings")
        verbose_name_plural = _("invitation settings")

    def __str__(self):
        return str(self.organization)
