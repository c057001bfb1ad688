"""Questionnaires (multiple choice), and the attempts people make at them (DESIGN §8).

Every row carries its organisation, and every index starts with it. Questions and choices are
ordered by `position`; once someone has started a questionnaire its questions and choices no longer
change (the services refuse), so the choice ids an answer holds stay meaningful and a score stays
comparable. An attempt belongs to a user or to a contact (never both), and the database keeps one
attempt per invitation and one free-access attempt per user and questionnaire.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from experquiz.tenancy import OrgQuerySet

MAX_TIME_LIMIT_MINUTES = 24 * 60


class Questionnaire(models.Model):
    class Kind(models.TextChoices):
        EVALUATION = "evaluation", _("Evaluation")
        TRAINING = "training", _("Training")
        ELEARNING = "e-learning", _("E-learning module")

    class Visibility(models.TextChoices):
        PRIVATE = "private", _("Private: only by invitation")
        ALL = "all", _("All users")
        GROUPS = "groups", _("Chosen groups")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.EVALUATION)
    instructions = models.TextField(_("instructions"), blank=True)
    time_limit_minutes = models.PositiveSmallIntegerField(
        _("time limit (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TIME_LIMIT_MINUTES)],
        help_text=_("Leave empty for no time limit."),
    )
    visibility = models.CharField(
        _("visible to"), max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    # Only meaningful with Visibility.GROUPS: the services empty it for the other visibilities.
    groups = models.ManyToManyField(
        "usergroups.UserGroup", through="QuestionnaireGroup", related_name="questionnaires", blank=True
    )
    is_published = models.BooleanField(_("published"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        ordering = ["-updated_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["evaluation", "training", "e-learning"]), name="assessments_questionnaire_kind"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=["private", "all", "groups"]), name="assessments_questionnaire_visibility"
            ),
            models.CheckConstraint(
                condition=Q(time_limit_minutes__isnull=True)
                | Q(time_limit_minutes__gte=1, time_limit_minutes__lte=MAX_TIME_LIMIT_MINUTES),
                name="assessments_questionnaire_time_limit",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-updated_at"], name="assessments_quest_org_updated"),
            models.Index(fields=["organization", "is_published", "visibility"], name="assessments_quest_org_open"),
            models.Index(fields=["organization", "created_by"], name="assessments_quest_org_author"),
        ]

    def __str__(self):
        return self.title


class QuestionnaireGroup(models.Model):
    """A group a questionnaire is visible to (free access for its members)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="visible_to")
    group = models.ForeignKey("usergroups.UserGroup", on_delete=models.CASCADE, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("questionnaire group")
        verbose_name_plural = _("questionnaire groups")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "questionnaire", "group"], name="assessments_questionnairegroup_unique"
            ),
        ]
        indexes = [models.Index(fields=["organization", "group"], name="assessments_qgroup_org_group")]

    def __str__(self):
        return f"{self.questionnaire} → {self.group}"


class Question(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(_("position"))
    text = models.TextField(_("question"), max_length=2000)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "questionnaire", "position"], name="assessments_question_unique_position"
            ),
        ]

    def __str__(self):
        return self.text[:80]


class Choice(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveIntegerField(_("position"))
    text = models.CharField(_("choice"), max_length=500)
    is_correct = models.BooleanField(_("correct"), default=False)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "question", "position"], name="assessments_choice_unique_position"
            ),
        ]

    def __str__(self):
        return self.text[:80]


class AttemptQuerySet(OrgQuerySet):
    def in_progress(self):
        return self.filter(submitted_at__isnull=True)

    def submitted(self):
        return self.filter(submitted_at__isnull=False)


class Attempt(models.Model):
    """One person's go at a questionnaire: started, answered as they go, submitted once."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    # PROTECT: a questionnaire that people have taken keeps its results (the services say so first).
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="attempts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="attempts"
    )
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="attempts"
    )
    # Set when the attempt was made through an assessment invitation (the person's place in it, and the
    # link they used); both empty for free access. One attempt per place, whichever of the person's
    # links (first message, reminder) they open.
    assignee = models.OneToOneField("Assignee", on_delete=models.PROTECT, null=True, blank=True, related_name="attempt")
    invitation = models.ForeignKey(
        "invitations.Invitation", on_delete=models.CASCADE, null=True, blank=True, related_name="assessment_attempts"
    )
    started_at = models.DateTimeField(_("started"))
    # The time limit as it was when the attempt started: editing the questionnaire does not move it.
    deadline_at = models.DateTimeField(_("time is up at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    # Set on submission: questions answered exactly right, out of the questions asked, and the share.
    correct_count = models.PositiveIntegerField(_("right answers"), null=True, blank=True)
    question_count = models.PositiveIntegerField(_("questions"), null=True, blank=True)
    score = models.DecimalField(_("score (%)"), max_digits=5, decimal_places=2, null=True, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, contact__isnull=True) | Q(user__isnull=True, contact__isnull=False),
                name="assessments_attempt_one_person",
            ),
            models.UniqueConstraint(
                fields=["invitation"],
                condition=Q(invitation__isnull=False),
                name="assessments_attempt_one_per_invitation",
            ),
            # Free access (no invitation): one attempt per user and questionnaire, so a double click
            # on "Start" cannot open two.
            models.UniqueConstraint(
                fields=["organization", "questionnaire", "user"],
                condition=Q(invitation__isnull=True, user__isnull=False),
                name="assessments_attempt_one_free_per_user",
            ),
            models.CheckConstraint(
                condition=Q(submitted_at__isnull=True)
                | Q(score__isnull=False, correct_count__isnull=False, question_count__isnull=False),
                name="assessments_attempt_scored_when_submitted",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100),
                name="assessments_attempt_score_range",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "user", "questionnaire"], name="assessments_att_org_user"),
            models.Index(fields=["organization", "contact"], name="assessments_att_org_contact"),
            models.Index(fields=["organization", "questionnaire", "submitted_at"], name="assessments_att_org_q"),
            # Beat's scan for the attempts whose time is up: only those still open, which are few.
            models.Index(
                fields=["deadline_at"], condition=Q(submitted_at__isnull=True), name="assessments_att_open_due"
            ),
        ]

    def __str__(self):
        return f"{self.questionnaire} · {self.person}"

    @property
    def person(self):
        return self.user if self.user_id else self.contact

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class Answer(models.Model):
    """The choices a person ticked for one question of their attempt, saved as they go.

    One row per (attempt, question), rewritten in place at each save: the choice ids are a short
    JSON list rather than a row per choice, so saving an answer is one statement.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    choices = models.JSONField(_("chosen choices"), default=list, blank=True)
    answered_at = models.DateTimeField(_("answered"))

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "attempt", "question"], name="assessments_answer_one_per_question"
            ),
        ]

    def __str__(self):
        return f"{self.attempt_id}/{self.question_id}: {self.choices}"


class AssessmentSettings(models.Model):
    """An organisation's options for assessment invitations (the organisation settings page edits them)."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="assessment_settings"
    )
    # 0: messages go as soon as the invitation is made (the default); N: N minutes before the window opens.
    send_minutes_before_opening = models.PositiveIntegerField(
        _("delay before sending (minutes before opening)"),
        default=0,
        validators=[MaxValueValidator(60 * 24 * 30)],
        help_text=_("0: send as soon as the invitation is made."),
    )
    default_window_hours = models.PositiveIntegerField(
        _("default window (hours)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 365)]
    )
    # 0: no reminder. N: one reminder N hours before closing, to those who have not started.
    reminder_hours_before_closing = models.PositiveIntegerField(
        _("reminder (hours before closing)"),
        default=0,
        validators=[MaxValueValidator(24 * 365)],
        help_text=_("Remind those who have not started this many hours before the window closes; 0: never."),
    )

    class Meta:
        verbose_name = _("assessment settings")
        verbose_name_plural = _("assessment settings")

    def __str__(self):
        return str(self.organization)


class Assignment(models.Model):
    """An assessment invitation (DESIGN §8): a questionnaire, an opening window, and the people invited
    (`Assignee`). Its messages are one `InvitationBatch` of `kind=assessment` invitations, sent in
    packets; `send_at` is when they go (now, or some minutes before the window opens)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="assignments")
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    send_at = models.DateTimeField(_("messages go at"))
    batch = models.OneToOneField("invitations.InvitationBatch", on_delete=models.PROTECT, related_name="assignment")
    # When the reminder before closing went out (at most one per assignment).
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("assessment invitation")
        verbose_name_plural = _("assessment invitations")
        ordering = ["-opens_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="assessments_assignment_window"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "questionnaire", "-opens_at"], name="assessments_asg_org_q"),
            models.Index(fields=["closes_at"], condition=Q(reminded_at__isnull=True), name="assessments_asg_remind"),
        ]

    def __str__(self):
        return f"{self.questionnaire} ({self.opens_at:%Y-%m-%d})"


class AssigneeQuerySet(OrgQuerySet):
    def current(self):
        """The people still invited (not removed)."""
        return self.filter(removed_at__isnull=True)


class Assignee(models.Model):
    """One person's place in an assessment invitation: a user or a contact (never both), once each.
    Removing someone (allowed until they start) keeps the row with `removed_at`, so their link can say
    they were removed; adding them back clears it."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="assignees")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="assignments"
    )
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="assignments"
    )
    added_at = models.DateTimeField(_("added"))
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    # First time the person's link page was seen in a browser: set by a small POST the landing page
    # sends from its script, never by the GET itself (mail scanners prefetch links).
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)

    objects = AssigneeQuerySet.as_manager()

    class Meta:
        verbose_name = _("person invited")
        verbose_name_plural = _("people invited")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, contact__isnull=True) | Q(user__isnull=True, contact__isnull=False),
                name="assessments_assignee_one_person",
            ),
            models.UniqueConstraint(
                fields=["assignment", "user"], condition=Q(user__isnull=False), name="assessments_assignee_unique_user"
            ),
            models.UniqueConstraint(
                fields=["assignment", "contact"],
                condition=Q(contact__isnull=False),
                name="assessments_assignee_unique_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "user"], name="assessments_asgn_org_user"),
            models.Index(fields=["organization", "contact"], name="assessments_asgn_org_contact"),
        ]

    def __str__(self):
        return f"{self.assignment} · {self.person}"

    @property
    def person(self):
        return self.user if self.user_id else self.contact
