import functools
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac
from django.utils.functional import classproperty
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from experquiz import phones
from experquiz.naming import NamedInOrganization
from experquiz.tenancy import OrgQuerySet

from .identity import IDENTITY_FIELDS, Channel, IdentityInvalid, identity_clean
from .querysets import ContactQuerySet, UserQuerySet

RESERVED_SLUGS = {"www", "admin", "api", "static", "media", "mail", "smtp", "app", "platform", "status"}

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    _("Use 1 to 40 lower-case letters, digits or hyphens, not starting or ending with a hyphen."),
)


def validate_slug_not_reserved(value):
    if value in RESERVED_SLUGS:
        raise ValidationError(_("“%(slug)s” is reserved."), params={"slug": value}, code="reserved")


class Language(models.TextChoices):
    EN = "en", _("English")
    FR = "fr", _("French")


class Organization(models.Model):
    """A tenant: a company, school or training centre, served on <slug>.<BASE_DOMAIN>."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.CharField(
        _("address"), max_length=40, unique=True, validators=[slug_validator, validate_slug_not_reserved]
    )
    phone_region = models.CharField(
        _("default phone region"),
        max_length=2,
        default="FR",
        help_text=_("Two-letter country code used to read national phone numbers such as 06 12 34 56 78."),
    )
    language = models.CharField(_("default language"), max_length=2, choices=Language.choices, default=Language.EN)
    invitation_lifetime_days = models.PositiveSmallIntegerField(
        _("invitation lifetime (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        import phonenumbers

        self.phone_region = (self.phone_region or "").upper()
        if self.phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError({"phone_region": _("Unknown country code “%s”.") % self.phone_region})


class PeopleVersion(models.Model):
    """How many committed writes an organisation's people have seen: the cached people counts are
    keyed by it (accounts.selectors), so every process sees a write's counts the moment it commits.

    Bumped at the commit of each transaction that wrote people, memberships or rights: on PostgreSQL
    by a deferred trigger on PeopleChange (see migration 0007), so the row is locked for the instant
    of the commit only, after every other lock of the transaction (a lock taken last cannot close a
    deadlock, and writers of one organisation never queue behind each other's whole transaction).
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.organization_id}: {self.version}"


class PeopleChange(models.Model):
    """A write on an organisation's people, noted in the writer's transaction: at its commit the
    deferred trigger bumps the organisation's PeopleVersion and deletes the note (the table stays empty)."""

    # No foreign-key constraint: inserting a note must not lock the organisation's row in any way.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )

    def __str__(self):
        return str(self.organization_id)


class StatusCount(models.Model):
    """How many users of an organisation are in one status, kept by the database itself.

    Triggers on the users table (migration 0011) change it in the transaction of every write that
    creates, deletes or moves a user, or changes a status: the services, the COPY of an import, a raw
    UPDATE, the platform admin, a shell. So the people list's tabs and its page count read five rows
    instead of counting the organisation (~100 ms at 100,000 people), and no cache is involved.

    On PostgreSQL the user triggers note each statement's changes in StatusCountChange and a deferred
    trigger adds them up here at the commit, in one order, right before the people version is
    bumped: these rows are locked for the instant of the commit only, like the version's (writers of
    one organisation never queue behind each other's whole transaction). SQLite writes one
    transaction at a time: there the triggers change the rows at once.
    """

    # No foreign-key constraint: the counts must not lock the organisation's row (see PeopleChange).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    status = models.CharField(max_length=10)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "status"], name="accounts_statuscount_unique"),
        ]

    def __str__(self):
        return f"{self.organization_id} {self.status}: {self.count}"


class StatusCountChange(models.Model):
    """Changes to StatusCount noted by one transaction, added up at its commit (PostgreSQL only; the
    table is always empty outside a transaction that is writing users)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    status = models.CharField(max_length=10)
    delta = models.BigIntegerField()

    def __str__(self):
        return f"{self.organization_id} {self.status}: {self.delta:+}"


class UserType(NamedInOrganization):
    """A kind of person, per organisation: employee, trainee, student…"""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="user_types")
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("user type")
        verbose_name_plural = _("user types")
        ordering = ["name"]
        constraints = [
            # Names ignore case and accents (experquiz.naming).
            models.UniqueConstraint(fields=["organization", "name_key"], name="accounts_usertype_unique_name_key"),
        ]

    def __str__(self):
        return default_user_type_label(self.name)


@dataclass(frozen=True)
class Transition:
    """One move of the status lifecycle (DESIGN §5): from which statuses, to which, made by whom.

    `by` says who makes it: an administrator (the user page and the bulk actions offer it, with
    `label`, `confirm` and the bulk summary `done`), the person themselves (accepting an invitation:
    the link authorises it), or the sending of an invitation (`users_mark_invited`, never the status
    service). `temporary_password`: the move sends one, so that the person has a way in.
    """

    ADMINISTRATOR = "administrator"
    PERSON = "person"
    SENDING = "sending"

    name: str
    sources: frozenset
    to: str
    by: str
    label: str = ""
    confirm: bool = False
    done: str = ""
    temporary_password: bool = False


def _targets_by_source(lifecycle, statuses) -> dict:
    return {status: {t.to for t in lifecycle if status in t.sources} for status in statuses}


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_superuser(self, email, password=None, **extra):
        """Platform staff: no organisation, Django admin on the bare domain only."""
        user = self.model(
            email=email.strip().lower(),
            is_staff=True,
            is_superuser=True,
            status=User.Status.ACTIVE,
            **extra,
        )
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account in one organisation; logs in with their email or mobile."""

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        DELETED = "deleted", _("Deleted")

    # Waiting for an invitation: nobody accepted one yet, so sending one (again) is what comes next.
    AWAITING_INVITATION = frozenset({Status.CREATED, Status.INVITED})
    # The lifecycle (DESIGN §5), the one table of status moves: the status service checks it, the
    # user page and the bulk actions offer its administrators' moves (in this order).
    LIFECYCLE = (
        Transition("invite", AWAITING_INVITATION, Status.INVITED, by=Transition.SENDING),
        Transition("accept", AWAITING_INVITATION, Status.ACTIVE, by=Transition.PERSON),
        Transition(
            "activate",
            AWAITING_INVITATION,
            Status.ACTIVE,
            by=Transition.ADMINISTRATOR,
            label=_("Activate with a temporary password"),
            done=_("%(n)s activated, each sent a temporary password"),
            temporary_password=True,
        ),
        Transition(
            "deactivate",
            frozenset({Status.ACTIVE}),
            Status.INACTIVE,
            by=Transition.ADMINISTRATOR,
            label=_("Deactivate"),
            confirm=True,
            done=_("%(n)s deactivated"),
        ),
        Transition(
            "reactivate",
            frozenset({Status.INACTIVE}),
            Status.ACTIVE,
            by=Transition.ADMINISTRATOR,
            label=_("Reactivate"),
            done=_("%(n)s reactivated"),
        ),
        Transition(
            "delete",
            AWAITING_INVITATION | {Status.ACTIVE, Status.INACTIVE},
            Status.DELETED,
            by=Transition.ADMINISTRATOR,
            label=_("Delete"),
            confirm=True,
            done=_("%(n)s deleted"),
        ),
        Transition(
            "restore",
            frozenset({Status.DELETED}),
            Status.INACTIVE,
            by=Transition.ADMINISTRATOR,
            label=_("Restore"),
            done=_("%(n)s restored"),
        ),
    )

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    mobile = models.CharField(_("mobile number"), max_length=16, blank=True)
    employee_number = models.CharField(
        _("employee number"), max_length=50, blank=True, help_text=_("Optional; unique in the organisation.")
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=5, choices=Channel.choices, default=Channel.EMAIL
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.EN)
    user_type = models.ForeignKey(
        UserType, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name=_("user type")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CREATED)
    is_administrator = models.BooleanField(
        _("administrator"), default=False, help_text=_("Can do everything in the organisation.")
    )
    must_change_password = models.BooleanField(default=False)
    # Mixed into the session auth hash (get_session_auth_hash): raising it ends every session of the user.
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    is_staff = models.BooleanField(_("platform staff"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    # Folded names, email and phone digits for free-text search (see accounts.search); kept in step by save().
    search_text = models.CharField(max_length=600, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(email="", mobile=""), name="accounts_user_has_login_id"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="accounts_user_email_lower"),
            models.CheckConstraint(
                condition=Q(preferred_channel="email", email__gt="") | Q(preferred_channel="sms", mobile__gt=""),
                name="accounts_user_channel_has_address",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["created", "invited", "active", "inactive", "deleted"]),
                name="accounts_user_status_valid",
            ),
            models.UniqueConstraint(
                fields=["organization", "email"], condition=~Q(email=""), name="accounts_user_unique_email"
            ),
            models.UniqueConstraint(
                fields=["organization", "mobile"], condition=~Q(mobile=""), name="accounts_user_unique_mobile"
            ),
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(organization__isnull=True) & ~Q(email=""),
                name="accounts_user_unique_platform_email",
            ),
            models.UniqueConstraint(
                fields=["organization", "employee_number"],
                condition=~Q(employee_number=""),
                name="accounts_user_unique_employee_number",
            ),
        ]
        # The people list filters by status and sorts by name, status, creation or last login within
        # one organisation, each order ending with the id (its tie-breaker): each of these indexes
        # gives one order, read forwards or backwards, so that a page, the first or the 4,000th, is
        # read straight off it from the previous page's last row (experquiz.keyset). The trigram
        # index for free-text search (migration 0003) and the last-login index (on the expression
        # the list sorts by, flows.filters.LAST_LOGIN; migration 0010) are PostgreSQL-only. The
        # status is held too, so that a page typed deep in the list skips the rows before it along
        # the index alone, the status filter checked there (experquiz.keyset.DEFERRED_OFFSET).
        indexes = [
            models.Index(fields=["organization", "status"], name="accounts_user_org_status"),
            models.Index(
                fields=["organization", "last_name", "first_name", "id"],
                include=["status"],
                name="accounts_user_org_name",
            ),
            models.Index(
                fields=["organization", "status", "last_name", "first_name", "id"], name="accounts_user_org_status_name"
            ),
            models.Index(
                fields=["organization", "created_at", "id"], include=["status"], name="accounts_user_org_created"
            ),
            # The type filter's tab counts (per status) read this index alone (migration 0014).
            models.Index(fields=["organization", "user_type", "status"], name="accounts_user_org_type_status"),
        ]

    def __str__(self):
        return self.full_name or self.email or phones.display(self.mobile)

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def login_id(self):
        return self.email or phones.display(self.mobile)

    @property
    def mobile_display(self):
        return phones.display(self.mobile)

    @property
    def is_active(self):
        # Only active users log in (Django's backends and admin read this).
        return self.status == self.Status.ACTIVE

    @property
    def short_name(self):
        """'Ann B.': how bulk-action reports name people."""
        if self.first_name and self.last_name:
            return f"{self.first_name} {self.last_name[0]}."
        return str(self)

    def get_full_name(self):
        return self.full_name

    def refresh_search_text(self):
        """Recompute the folded text the people search looks in (bulk writes skip save())."""
        from .search import search_text_for

        self.search_text = search_text_for(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            mobile=self.mobile,
            employee_number=self.employee_number,
        )

    def save(self, *args, **kwargs):
        self.refresh_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name", "email", "mobile", "employee_number"} & set(
            update_fields
        ):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    def get_short_name(self):
        return self.first_name

    # Ending a user's sessions (deactivation, deletion) raises `session_generation`. Every session
    # keeps the hash it was opened with, and Django's AuthenticationMiddleware compares it with this
    # one, computed from the user's row, on each request: a bump logs the user out everywhere at
    # once, whatever the session engine (database, cache, signed cookies) and however many web
    # processes there are, with nothing to find and delete (neither engine can list one user's
    # sessions, and a per-process cache could not be told). Reactivating never lowers it, so old
    # sessions stay dead. At 0 the hash is Django's own, so existing sessions outlive the upgrade.
    def get_session_auth_hash(self):
        return self._session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=secret)

    def _session_hash(self, *, secret):
        if not self.session_generation:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}|{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @classproperty
    def TRANSITIONS(cls) -> dict:  # noqa: N802 (a constant of the model, read off the table)
        """{status: the statuses that may follow it}, read off the lifecycle table."""
        return _targets_by_source(cls.LIFECYCLE, cls.Status)

    @classmethod
    def transitions_from(cls, status, *, by=None) -> list[Transition]:
        """The moves of the lifecycle from `status` (every status when None), made `by` whom (anyone when None)."""
        return [t for t in cls.LIFECYCLE if (status is None or status in t.sources) and (by is None or t.by == by)]

    def can_become(self, status) -> bool:
        return any(t.to == status for t in self.transitions_from(self.status))

    @property
    def is_awaiting_invitation(self) -> bool:
        return self.status in self.AWAITING_INVITATION

    def clean(self):
        # The identity rules are those of every other path (accounts.identity): the platform admin's
        # forms come through here.
        errors = {}
        try:
            identity = identity_clean(self.organization, **_identity_of(self))
        except IdentityInvalid as invalid:
            errors, identity = invalid.errors, invalid.identity
        for name in IDENTITY_FIELDS:
            if name not in errors:
                setattr(self, name, getattr(identity, name))
        if self.user_type_id and self.user_type.organization_id != self.organization_id:
            errors["user_type"] = [_("Unknown user type.")]
        if errors:
            raise ValidationError(errors)


class SearchWord(models.Model):
    """One word of a user's search text (accounts.search.search_words), with a copy of the user's
    name: the index that is this table's key lists, for a word, its people in the list's name order.

    The people list searched for a common word ("martin": tens of thousands of people at 1,000,000)
    reads the first page straight off that index, where the trigram index gives every match and
    they must all be read and sorted first (flows.filters.UserFilter). Kept by the database's
    triggers on PostgreSQL (migration 0015), whatever writes the users; never written by the code.
    Other databases keep no words and search as before.
    """

    pk = models.CompositePrimaryKey("organization_id", "word", "last_name", "first_name", "user_id")
    # The key's index leads with the organisation and serves every read and delete: no other index.
    # No constraint either: the triggers take the organisation from the user, and an import's
    # thousands of words are not each checked again at its commit.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    word = models.CharField(max_length=600)
    last_name = models.CharField(max_length=150)
    first_name = models.CharField(max_length=150)
    # The triggers remove a user's words with the user: no constraint, nothing for Django to collect.
    user = models.ForeignKey(
        "User",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="search_words",
        editable=False,
    )

    class Meta:
        verbose_name = _("search word")
        verbose_name_plural = _("search words")

    def __str__(self):
        return f"{self.word}: {self.user_id}"


class KnownWord(models.Model):
    """A word some person of the organisation has had in their search text, kept by the same triggers
    and never removed: a search term found in exactly one known word is served by that word's
    SearchWord rows, since anyone whose text contains the term has that word (accounts.search.word_term).

    Not unique: a trigger adds the words it does not see, and a word new to two transactions at once
    is added twice rather than making one wait for the other (a unique key would, and could deadlock
    two imports). Lookups group by word.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    word = models.CharField(max_length=600)

    class Meta:
        verbose_name = _("known word")
        verbose_name_plural = _("known words")
        indexes = [models.Index(fields=["organization", "word"], name="accounts_knownword_org_word")]

    def __str__(self):
        return self.word


class StatusChange(models.Model):
    """One row per status transition: who changed whom, when, from what to what, and why."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(_("from"), max_length=10, choices=User.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=10, choices=User.Status.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "user", "-created_at"], name="accounts_statuschange_user")]

    def __str__(self):
        return f"{self.user}: {self.from_status or '∅'} → {self.to_status}"


class Contact(models.Model):
    """A person without an account: receives a link to take one assessment; never authenticates."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    email = models.EmailField(_("email address"), blank=True)
    mobile = models.CharField(_("mobile number"), max_length=16, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.EN)
    notes = models.TextField(_("notes"), blank=True)
    converted_to = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("converted to")
    )
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    search_text = models.CharField(max_length=600, blank=True, editable=False)

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(email="", mobile=""), name="accounts_contact_has_address"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="accounts_contact_email_lower"),
            models.UniqueConstraint(
                fields=["organization", "email"], condition=~Q(email=""), name="accounts_contact_unique_email"
            ),
            models.UniqueConstraint(
                fields=["organization", "mobile"], condition=~Q(mobile=""), name="accounts_contact_unique_mobile"
            ),
        ]
        indexes = [models.Index(fields=["organization", "last_name", "first_name"], name="accounts_contact_org_name")]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip() or self.email or phones.display(self.mobile)

    def save(self, *args, **kwargs):
        from .search import search_text_for

        self.search_text = search_text_for(
            first_name=self.first_name, last_name=self.last_name, email=self.email, mobile=self.mobile
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name", "email", "mobile"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def is_converted(self):
        return self.converted_to_id is not None

    @property
    def mobile_display(self):
        return phones.display(self.mobile)

    def clean(self):
        # The same rules as every other path (accounts.identity).
        try:
            identity = identity_clean(self.organization, contact=True, **_identity_of(self))
        except IdentityInvalid as invalid:
            raise ValidationError(invalid.errors) from None
        self.email, self.mobile = identity.email, identity.mobile
        self.first_name, self.last_name = identity.first_name, identity.last_name


def _identity_of(person) -> dict:
    return {name: getattr(person, name, "") for name in IDENTITY_FIELDS}


def default_user_type_names():
    """The user types every new organisation starts with (it can edit them)."""
    return [_("Employee"), _("Trainee"), _("Service provider"), _("Student"), _("Client")]


@functools.cache
def _default_user_type_positions() -> dict[str, int]:
    """Each default type's name, in every language the product speaks, → its place in the list."""
    positions = {}
    for code, _name in settings.LANGUAGES:
        with override(code):
            positions.update({str(name).casefold(): n for n, name in enumerate(default_user_type_names())})
    return positions


def default_user_type_label(name: str) -> str:
    """A type's name as the reader should see it: a default type not renamed since reads in the
    current language, whichever language the organisation created it in; any other name as typed."""
    position = _default_user_type_positions().get(name.casefold())
    return name if position is None else str(default_user_type_names()[position])


class TrackedJob(models.Model):
    """Work a worker does while a page polls its progress (imports, bulk actions)."""

    total = models.PositiveIntegerField(default=0)
    progress = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def percent(self):
        return int(100 * self.progress / self.total) if self.total else 0

    @property
    def language(self):
        """The language its messages are written in: the starter's, else the organisation's."""
        return self.created_by.language if self.created_by else self.organization.language


class ImportJob(TrackedJob):
    """One uploaded people file: checked, previewed, then applied on confirmation.

    The file and the preview live here so a large file can be checked and applied by a Celery
    worker while the page polls `progress`.
    """

    class State(models.TextChoices):
        CHECKING = "checking", _("Checking")
        READY = "ready", _("Ready to import")
        APPLYING = "applying", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    filename = models.CharField(_("file"), max_length=255)
    data = models.BinaryField()
    # What the check found to write, for the write to take as it is while it holds (flows.importing.Plan).
    # Empty by default in the database too: a process of the release before, still running while
    # this one starts, creates jobs without it.
    plan = models.BinaryField(default=b"", db_default=b"", blank=True)
    invite = models.BooleanField(_("send invitations afterwards"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.CHECKING)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="accounts_importjob_org")]

    def __str__(self):
        return self.filename

    @property
    def in_progress(self):
        return self.state in (self.State.CHECKING, self.State.APPLYING)


class BulkJob(TrackedJob):
    """A bulk action on more users than one request should change: run by a worker, followed by the page."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=50)
    filters = models.TextField(_("filters"), blank=True)
    group = models.ForeignKey(
        "usergroups.UserGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.RUNNING)
    summary = models.TextField(blank=True)
    level = models.CharField(max_length=10, blank=True)
    # Where to follow what the action started, e.g. the invitation batch of "Send invitations".
    link = models.CharField(max_length=200, blank=True)
    # Written with each chunk's changes, in its transaction, so that a job delivered again after a
    # crash resumes after the last committed chunk (flows.tasks.bulk_run_job): the users are taken by
    # increasing id, `resume_after` is the last one done, `tally` what was done so far, and `params`
    # what the action carries from chunk to chunk (the invitation batch it started).
    resume_after = models.PositiveBigIntegerField(default=0)
    tally = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # On an undo (action "undo"): the job it undoes. One to one, so the database lets a job be undone once.
    undo_of = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="undo")

    objects = OrgQuerySet.as_manager()

    class Meta:
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="accounts_bulkjob_org")]

    def __str__(self):
        return self.action


class BulkChange(models.Model):
    """One person an undoable bulk action changed, and what they had before: what its undo puts back.

    Written with each chunk of the action, in its transaction (flows.bulk). `before` is the previous
    value of the field a "set" action changed (a user type's id, a language, a channel), the
    membership a "remove from group" took away (when and by whom it had been added), or the
    membership an "add to group" made (its id, so that its undo removes that one and no other).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="changes")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    before = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk change")
        verbose_name_plural = _("bulk changes")
        constraints = [
            models.UniqueConstraint(fields=["organization", "job", "user"], name="accounts_bulkchange_unique_user"),
        ]

    def __str__(self):
        return f"{self.job_id}: {self.user_id}"
