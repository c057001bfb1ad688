"""One rule for the names an organisation gives its things (user types, groups, rights profiles):
unique in the organisation ignoring case and accents, checked by the services with one
message and held by the database (experquiz.naming)."""

from dataclasses import dataclass

import pytest
from django.db import IntegrityError, transaction

from accounts.models import UserType
from accounts.services import user_type_create, user_type_rename
from experquiz.errors import InvalidFields
from experquiz.naming import NameTaken, name_key
from groups.models import UserGroup
from groups.services import group_create, group_update
from rights.models import RightsProfile
from rights.services import profile_create, profile_update

MESSAGE = "The name “{}” is already used (names ignore case and accents)."


@dataclass
class Named:
    model: type
    create: object  # (organization, actor, name) -> instance
    rename: object  # (instance, actor, name) -> instance
    page: str  # where an administrator creates one
    form: dict  # the rest of that page's form


NAMED = {
    "user type": Named(
        UserType,
        lambda organization, actor, name: user_type_create(organization=organization, actor=actor, name=name),
        lambda thing, actor, name: user_type_rename(user_type=thing, actor=actor, name=name),
        "/settings/user-types/",
        {},
    ),
    "group": Named(
        UserGroup,
        lambda organization, actor, name: group_create(organization=organization, actor=actor, name=name),
        lambda thing, actor, name: group_update(group=thing, actor=actor, name=name),
        "/groups/new/",
        {"description": ""},
    ),
    "rights profile": Named(
        RightsProfile,
        lambda organization, actor, name: profile_create(organization=organization, actor=actor, name=name, grants={}),
        lambda thing, actor, name: profile_update(profile=thing, actor=actor, name=name, grants={}),
        "/rights/profiles/new/",
        {"description": ""},
    ),
}


def test_a_name_key_ignores_case_accents_and_surrounding_spaces():
    assert name_key("  Équipe Lyon ") == name_key("equipe lyon") == name_key("ÉQUIPE LYON") == "equipe lyon"
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("Equipe") != name_key("Equipes")


@pytest.mark.parametrize("kind", NAMED)
def test_equipe_and_Equipe_clash_for_each_named_thing(kind, alice, acme):
    named = NAMED[kind]
    first = named.create(acme, alice, "Équipe")
    for clash in ("equipe", "EQUIPE", " Équipe ", "équipe"):
        with pytest.raises(NameTaken) as taken:
            named.create(acme, alice, clash)
        assert taken.value.errors == {"name": [MESSAGE.format(clash.strip())]}
        assert isinstance(taken.value, InvalidFields)
    other = named.create(acme, alice, "Autre")
    with pytest.raises(NameTaken):
        named.rename(other, alice, "EQUIPE")
    # Its own name in another case or with its accents is no clash.
    assert named.rename(first, alice, "EQUIPE").name == "EQUIPE"
    assert named.model.objects.filter(organization=acme, name_key="equipe").count() == 1


@pytest.mark.parametrize("kind", NAMED)
def test_the_same_name_is_free_in_another_organisation(kind, alice, mallory):
    NAMED[kind].create(alice.organization, alice, "Équipe")
    assert NAMED[kind].create(mallory.organization, mallory, "equipe").name == "equipe"


@pytest.mark.parametrize("kind", NAMED)
def test_the_database_refuses_a_clash_that_skips_the_services(kind, acme):
    model = NAMED[kind].model
    model.objects.create(organization=acme, name="Équipe")
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(organization=acme, name="equipe")
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.bulk_create([model(organization=acme, name="EQUIPE")])


@pytest.mark.parametrize("kind", NAMED)
def test_bulk_creation_and_update_keep_the_name_key(kind, acme):
    model = NAMED[kind].model
    model.objects.bulk_create([model(organization=acme, name="Élan"), model(organization=acme, name="Vent")])
    assert set(model.objects.filter(organization=acme).values_list("name_key", flat=True)) >= {"elan", "vent"}
    model.objects.filter(organization=acme, name="Vent").update(name="Été")
    assert model.objects.get(organization=acme, name="Été").name_key == "ete"


@pytest.mark.parametrize("kind", NAMED)
def test_the_pages_show_the_clash_next_to_the_name(kind, alice, alice_client, acme):
    named = NAMED[kind]
    named.create(acme, alice, "Équipe")
    response = alice_client.post(named.page, {"name": "equipe", **named.form})
    assert response.status_code == 200
    assert MESSAGE.format("equipe") in response.content.decode().replace("&ldquo;", "“").replace("&rdquo;", "”")
    assert named.model.objects.filter(organization=acme).filter(name_key="equipe").count() == 1


def test_the_default_user_types_of_a_new_organisation_get_their_keys(db):
    from accounts.services import organization_create

    organization = organization_create(
        name="Initech", slug="initech", admin_email="boss@initech.example", admin_password="long-enough-pass-2026"
    )
    assert all(t.name_key == name_key(t.name) for t in UserType.objects.filter(organization=organization))


BEFORE_KEYS = [
    ("accounts", "0006_user_session_generation"),
    ("usergroups", "0003_grants_and_profiles_move_to_rights"),
    ("rights", "0001_move_grants_and_profiles_from_groups"),
]
WITH_KEYS = [
    ("accounts", "0007_usertype_name_key"),
    ("usergroups", "0004_usergroup_name_key"),
    ("rights", "0002_rightsprofile_name_key"),
]


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_keys_and_numbers_the_names_that_now_clash():
    """Names differing only by accents were allowed before the rule: the later one gets a number, so
    the unique constraint can be added and nobody's data is lost."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_KEYS)
    old = executor.loader.project_state(BEFORE_KEYS).apps
    organization = old.get_model("accounts", "Organization").objects.create(name="Old", slug="old")
    other = old.get_model("accounts", "Organization").objects.create(name="Other", slug="other")
    for app, model in (("accounts", "UserType"), ("usergroups", "UserGroup"), ("rights", "RightsProfile")):
        Model = old.get_model(app, model)
        for name in ("Équipe", "Equipe", "Vente"):
            Model.objects.create(organization=organization, name=name)
        Model.objects.create(organization=other, name="equipe")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(WITH_KEYS)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    for kind in NAMED.values():
        rows = kind.model.objects.filter(organization__slug="old").order_by("pk")
        assert [(row.name, row.name_key) for row in rows] == [
            ("Équipe", "equipe"),
            ("Equipe (2)", "equipe (2)"),
            ("Vente", "vente"),
        ]
        assert kind.model.objects.get(organization__slug="other").name_key == "equipe"
