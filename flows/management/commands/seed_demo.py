import random
import unicodedata
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User, UserType
from accounts.services import (
    contact_create,
    organization_create,
    user_change_status,
    user_create,
    user_set_password,
    users_mark_invited,
)
from assessments.models import Questionnaire
from assessments.services import ChoiceSpec, QuestionSpec, questionnaire_import
from experquiz.tenancy import organization_url
from groups.models import Membership, UserGroup
from invitations.models import Invitation, InvitationBatch
from invitations.services.outbox import invitation_row
from invitations.tokens import hash_token, make_token
from rights.models import RightsProfile
from rights.names import Right
from rights.selectors import Scope
from rights.services import profile_create, user_rights_set

DEMO_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.example.com"
DEMO_ADMIN_PASSWORD = "demo-admin-pass"
DEMO_MANAGER_EMAIL = "manager@demo.example.com"
DEMO_MANAGER_PASSWORD = "demo-manager-pass"
# The other demo people who have been active share this password: an active user must have a way in.
DEMO_PEOPLE_PASSWORD = "demo-people-pass"
MANAGER_PROFILE = "Regional manager"
MANAGER_GROUPS = ["Lyon", "Marseille"]

FIRST_NAMES = [
    "Alice",
    "Bruno",
    "Camille",
    "David",
    "Emma",
    "Farid",
    "Gabrielle",
    "Hugo",
    "Inès",
    "Jules",
    "Karim",
    "Léa",
    "Manon",
    "Nathan",
    "Océane",
    "Paul",
    "Quentin",
    "Rose",
    "Sofia",
    "Thomas",
    "Ugo",
    "Valérie",
    "William",
    "Yasmine",
    "Zoé",
    "Ann",
    "Ben",
    "Chloé",
    "Élodie",
    "François",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Smith",
    "Jones",
    "Brown",
    "Nguyen",
    "O'Neil",
    "Müller",
    "Rossi",
    "Dupont",
    "Lambert",
    "Bonnet",
]
GROUP_NAMES = ["Lyon", "Marseille", "Paris", "Sales", "Support", "New hires 2026"]
# How the demo users spread over the lifecycle, as (final status, share).
STATUS_MIX = [("created", 15), ("invited", 20), ("active", 50), ("inactive", 10), ("deleted", 5)]
PATHS = {
    "created": [],
    "invited": ["invited"],
    "active": ["invited", "active"],
    "inactive": ["invited", "active", "inactive"],
    "deleted": ["deleted"],
}


def ascii_email(text):
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text.lower().replace("'", "")


class Command(BaseCommand):
    help = "Create the demo organisation with an administrator, users of every status and type, groups and contacts."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=300)
        parser.add_argument("--contacts", type=int, default=40)

    def handle(self, *args, users, contacts, **options):
        organization = Organization.objects.filter(slug=DEMO_SLUG).first()
        if organization is None:
            organization = self.seed(users, contacts)
        else:
            self.stdout.write("The demo organisation already exists; nothing changed.")
        # Also for a demo organisation seeded before the manager (or the questionnaires) existed.
        self.ensure_manager(organization)
        self.ensure_questionnaires(organization)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo: {organization_url(organization)}  —  log in as {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}"
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Regional manager (users and invitations of {' and '.join(MANAGER_GROUPS)}): "
                f"{DEMO_MANAGER_EMAIL} / {DEMO_MANAGER_PASSWORD}"
            )
        )

    def invitations_of_the_invited(self, organization, admin):
        """The invited people's invitations, as if sent today (the addresses are made up: nothing
        goes out), so the invitations page and each person's page show them like real ones."""
        now = timezone.now()
        invited = User.objects.for_org(organization).filter(status=User.Status.INVITED).order_by("pk")
        batch = InvitationBatch.objects.create(
            organization=organization, created_by=admin, label="Demo invitations (made-up addresses, nothing sent)"
        )
        Invitation.objects.bulk_create(
            invitation_row(
                user,
                kind=Invitation.Kind.ACCOUNT,
                actor=admin,
                batch=batch,
                now=now,
                token_hash=hash_token(make_token()),
                expires_at=now + timedelta(days=organization.invitation_lifetime_days),
                delivery=Invitation.Delivery.SENT,
                sent_at=now,
            )
            for user in invited
        )

    @transaction.atomic
    def ensure_manager(self, organization):
        """A scoped manager: manages and invites the users of Lyon and Marseille, through a rights profile."""
        if User.objects.for_org(organization).filter(email=DEMO_MANAGER_EMAIL).exists():
            return
        admin = User.objects.for_org(organization).get(email=DEMO_ADMIN_EMAIL)
        groups = []
        for name in MANAGER_GROUPS:
            group = UserGroup.objects.for_org(organization).filter(name=name).first()
            groups.append(group or UserGroup.objects.create(organization=organization, name=name))
        scope = Scope(group_ids=frozenset(group.pk for group in groups))
        profile = RightsProfile.objects.for_org(organization).filter(name=MANAGER_PROFILE).first()
        if profile is None:
            profile = profile_create(
                organization=organization,
                actor=admin,
                name=MANAGER_PROFILE,
                description=f"Manage users + invite for {' and '.join(MANAGER_GROUPS)}",
                grants={Right.MANAGE_USERS: scope, Right.INVITE: scope},
            )
        manager = user_create(
            organization=organization,
            actor=admin,
            first_name="Max",
            last_name="Manager",
            email=DEMO_MANAGER_EMAIL,
            language="fr",
        )
        user_set_password(user=manager, password=DEMO_MANAGER_PASSWORD, actor=None)
        user_change_status(user=manager, to=User.Status.ACTIVE, actor=admin, reason="demo data")
        user_rights_set(user=manager, actor=admin, is_administrator=False, profiles=[profile], grants={})

    @transaction.atomic
    def ensure_questionnaires(self, organization):
        """Two published questionnaires: one open to every user, one to the members of Lyon."""
        if Questionnaire.objects.for_org(organization).exists():
            return
        admin = User.objects.for_org(organization).get(email=DEMO_ADMIN_EMAIL)
        lyon = UserGroup.objects.for_org(organization).filter(name="Lyon").first()

        def question(text, *choices):
            return QuestionSpec(text, [ChoiceSpec(choice.lstrip("*"), choice.startswith("*")) for choice in choices])

        questionnaire_import(
            organization=organization,
            actor=admin,
            title="Fire safety basics",
            kind=Questionnaire.Kind.TRAINING,
            instructions="Four questions; some have more than one right answer.",
            visibility=Questionnaire.Visibility.ALL,
            questions=[
                question("Which extinguisher suits an oil fire?", "Water", "*Foam", "*Powder"),
                question("The alarm rings: what do you do first?", "Finish your email", "*Leave by the nearest exit"),
                question("Where do you gather after leaving?", "In the car park", "*At the assembly point"),
                question("Who may call the fire brigade?", "*Anyone", "Only managers", "Only the safety officer"),
            ],
            publish=True,
            source="demo",
        )
        if lyon is not None:
            questionnaire_import(
                organization=organization,
                actor=admin,
                title="Welcome to the Lyon office",
                kind=Questionnaire.Kind.ELEARNING,
                visibility=Questionnaire.Visibility.GROUPS,
                groups=[lyon],
                questions=[
                    question("Which floor is the canteen on?", "*Ground floor", "Third floor"),
                    question("Whom do you ask for a badge?", "*Reception", "Your manager", "Nobody"),
                ],
                publish=True,
                source="demo",
            )

    @transaction.atomic
    def seed(self, user_count, contact_count):
        rng = random.Random(2026)
        organization = organization_create(
            name="Demo Training Centre",
            slug=DEMO_SLUG,
            admin_email=DEMO_ADMIN_EMAIL,
            admin_password=DEMO_ADMIN_PASSWORD,
            phone_region="FR",
        )
        admin = User.objects.for_org(organization).get(email=DEMO_ADMIN_EMAIL)
        admin.first_name, admin.last_name = "Ada", "Admin"
        admin.save(update_fields=["first_name", "last_name"])
        types = list(UserType.objects.for_org(organization))
        groups = [UserGroup.objects.create(organization=organization, name=name) for name in GROUP_NAMES]
        statuses = [status for status, share in STATUS_MIX for _ in range(share)]
        # Hashed once: a password hash takes a good fraction of a second, too long for every person.
        people_password = make_password(DEMO_PEOPLE_PASSWORD)
        memberships = []
        for n in range(user_count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            has_email = n % 7 != 0
            has_mobile = n % 3 == 0 or not has_email
            user = user_create(
                organization=organization,
                actor=admin,
                first_name=first,
                last_name=last,
                email=ascii_email(f"{first}.{last}.{n}@demo.example.com") if has_email else "",
                mobile=f"06 {10 + n // 10000:02d} {n // 100 % 100:02d} {n % 100:02d} 56" if has_mobile else "",
                preferred_channel="email" if has_email else "sms",
                language="fr" if n % 2 else "en",
                user_type=rng.choice(types),
            )
            for step in PATHS[statuses[n * 37 % len(statuses)]]:  # spread every status over any count
                if step == User.Status.INVITED:
                    # Made-up addresses: the demo shows invited people without sending them anything.
                    users_mark_invited(organization=organization, user_ids=[user.pk], actor=admin, reason="demo data")
                elif step == User.Status.ACTIVE:
                    # As if they had accepted their invitation: a password of their own, then active.
                    User.objects.filter(pk=user.pk).update(password=people_password)
                    user_change_status(user=user, to=step, actor=admin, reason="demo data")
                else:
                    user_change_status(user=user, to=step, actor=admin, reason="demo data")
            for group in rng.sample(groups, rng.randint(0, 2)):
                memberships.append(Membership(organization=organization, group=group, user=user, added_by=admin))
        Membership.objects.bulk_create(memberships)
        self.invitations_of_the_invited(organization, admin)
        for n in range(contact_count):
            contact_create(
                organization=organization,
                actor=admin,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                email=f"candidate{n}@example.org",
                mobile=f"07 56 {n // 100 % 100:02d} {n % 100:02d} 34" if n % 4 == 0 else "",
            )
        return organization
