"""The audit trail: one row per business action, written by the service in the same transaction.

Modelled on Zulip's RealmAuditLog, simpler. This app sits on the bottom floor: it imports no other
project app. The organisation, the actor and the person concerned are string foreign keys; any
other target (a contact, a group, an invitation…) is a plain reference — type, id and the display
text captured when the event was written, so the trail stays readable after the target is deleted.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from experquiz.tenancy import OrgQuerySet


class Action(models.TextChoices):
    """Every action the trail records. The column has no `choices`: adding one needs no migration."""

    ORGANIZATION_CREATED = "organization.created", _("Organisation created")
    ORGANIZATION_SETTINGS_CHANGED = "organization.settings_changed", _("Organisation settings changed")
    USER_CREATED = "user.created", _("Person created")
    USER_UPDATED = "user.updated", _("Person updated")
    USER_STATUS_CHANGED = "user.status_changed", _("Status changed")
    USER_PASSWORD_CHANGED = "user.password_changed", _("Password changed")
    RIGHTS_CHANGED = "rights.changed", _("Rights changed")
    CONTACT_CREATED = "contact.created", _("Contact created")
    CONTACT_UPDATED = "contact.updated", _("Contact updated")
    CONTACT_DELETED = "contact.deleted", _("Contact deleted")
    CONTACT_CONVERTED = "contact.converted", _("Contact converted to a user")
    GROUP_CREATED = "group.created", _("Group created")
    GROUP_UPDATED = "group.updated", _("Group updated")
    GROUP_DELETED = "group.deleted", _("Group deleted")
    GROUP_MEMBER_ADDED = "group.member_added", _("Added to a group")
    GROUP_MEMBER_REMOVED = "group.member_removed", _("Removed from a group")
    PROFILE_CREATED = "profile.created", _("Rights profile created")
    PROFILE_UPDATED = "profile.updated", _("Rights profile updated")
    PROFILE_DELETED = "profile.deleted", _("Rights profile deleted")
    INVITATION_SENT = "invitation.sent", _("Invitation sent")
    INVITATION_RESENT = "invitation.resent", _("Invitation sent again")
    INVITATION_REMINDED = "invitation.reminded", _("Invitation reminder sent")
    INVITATION_REVOKED = "invitation.revoked", _("Invitation revoked")
    INVITATION_ACCEPTED = "invitation.accepted", _("Invitation accepted")
    INVITATIONS_RETRIED = "invitation.retried", _("Failed messages queued again")
    TEMPORARY_PASSWORD_ISSUED = "password.temporary_issued", _("Temporary password issued")
    PASSWORD_RESET_REQUESTED = "password.reset_requested", _("Password reset requested")
    PASSWORD_RESET_USED = "password.reset_used", _("Password reset link used")
    USER_TYPE_CREATED = "user_type.created", _("User type created")
    USER_TYPE_RENAMED = "user_type.renamed", _("User type renamed")
    USER_TYPE_DELETED = "user_type.deleted", _("User type deleted")
    IMPORT_APPLIED = "import.applied", _("People imported")
    EXPORT_DOWNLOADED = "export.downloaded", _("People list exported")
    BULK_UNDONE = "bulk.undone", _("Bulk action undone")
    QUESTIONNAIRE_CREATED = "questionnaire.created", _("Questionnaire created")
    QUESTIONNAIRE_UPDATED = "questionnaire.updated", _("Questionnaire updated")
    QUESTIONNAIRE_DELETED = "questionnaire.deleted", _("Questionnaire deleted")
    QUESTIONNAIRE_PUBLISHED = "questionnaire.published", _("Questionnaire published")
    QUESTIONNAIRE_UNPUBLISHED = "questionnaire.unpublished", _("Questionnaire unpublished")
    QUESTIONNAIRE_IMPORTED = "questionnaire.imported", _("Questionnaire imported")
    QUESTION_CREATED = "question.created", _("Question added")
    QUESTION_UPDATED = "question.updated", _("Question changed")
    QUESTION_DELETED = "question.deleted", _("Question removed")
    QUESTION_MOVED = "question.moved", _("Question moved")
    ATTEMPT_STARTED = "attempt.started", _("Questionnaire started")
    ATTEMPT_SUBMITTED = "attempt.submitted", _("Questionnaire submitted")
    ASSESSMENT_INVITED = "assessment.invited", _("People invited to an assessment")
    ASSESSMENT_PEOPLE_ADDED = "assessment.people_added", _("People added to an assessment invitation")
    ASSESSMENT_PERSON_REMOVED = "assessment.person_removed", _("Person removed from an assessment invitation")
    ASSESSMENT_REMINDED = "assessment.reminded", _("Assessment reminders sent")


class AuditEvent(models.Model):
    """Who did what to whom, when and from where, with a short summary of what changed."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(_("when"))
    # None: the system (a command, a worker) or someone not logged in (a forgotten password).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=40)
    # The person the event is about, if any: what each person's page lists.
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What the action was done to (a user, a contact, a group, an invitation…), by reference.
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    # Only the fields that changed, cut short; never a password or a token.
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        # Newest first by id: ids grow in the order events are written, and paging walks them.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organization", "-id"], name="audit_event_org"),
            models.Index(fields=["organization", "target_user", "-id"], name="audit_event_org_target_user"),
            models.Index(fields=["organization", "actor", "-id"], name="audit_event_org_actor"),
            models.Index(fields=["organization", "action", "-id"], name="audit_event_org_action"),
            models.Index(fields=["organization", "created_at"], name="audit_event_org_created"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_label}"

    @property
    def action_label(self) -> str:
        try:
            return Action(self.action).label
        except ValueError:  # an action since retired: its name is still readable
            return self.action

    @property
    def target_text(self) -> str:
        """What the action was done to, as captured when it was written."""
        if self.target_label:
            return self.target_label
        return str(self.target_user) if self.target_user_id else ""
