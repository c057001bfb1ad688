"""Each person's search words (SearchWord) and their organisation's known words (KnownWord), kept by
PostgreSQL's triggers (accounts migration 0015), equal what `accounts.search.search_words` makes of
the users' search texts after every kind of write on users: the ORM one row at a time and in bulk,
raw SQL, COPY, renames, moves, deletes. The people list reads a searched word's people, in name
order, from those rows (flows.filters.UserFilter)."""

import pytest
from django.db import connection

from accounts.models import KnownWord, PeopleVersion, SearchWord, User
from accounts.search import search_text_for, search_words
from accounts.tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the words are kept on PostgreSQL only"),
]


def words_wrong() -> tuple[set, set]:
    """(rows missing, rows too many) of SearchWord against the users' texts; known words missing."""
    expected = {
        (user.organization_id, word, user.last_name, user.first_name, user.pk)
        for user in User.objects.exclude(organization=None)
        for word in search_words(user.search_text)
    }
    kept = set(SearchWord.objects.values_list("organization_id", "word", "last_name", "first_name", "user_id"))
    known = set(KnownWord.objects.values_list("organization_id", "word"))
    unknown = {(organization, word) for organization, word, *_rest in expected} - known
    return expected - kept, kept - expected, unknown


def test_the_database_splits_a_text_into_words_as_python_does():
    texts = [
        "jean lefevre jean.lefevre.4242@bench0.example e000042 33600000000 0600000000",
        "zoe o'neil-dupont zoe_o.neil+tag@sub.example.co.uk",
        "al bo 12345 ab1cd2 abc1 x9yz9 ---",
        "",
        "mariéhélène 北京 marie",  # what folding left alone separates words
    ]
    with connection.cursor() as cursor:
        for text in texts:
            cursor.execute("SELECT accounts_search_words(%s)", [text])
            assert set(cursor.fetchone()[0]) == search_words(text), text
    assert search_words(texts[0]) == {"jean", "lefevre", "bench0", "example"}


def test_every_write_on_users_keeps_their_words(acme, globex):
    ann = UserFactory(organization=acme, first_name="Ann", last_name="Lefèvre", email="ann.lefevre@acme.example")
    User.objects.bulk_create(
        [
            User(
                organization=acme,
                first_name="Bob",
                last_name="Martin",
                email=f"bob{n}@acme.example",
                search_text=search_text_for(first_name="Bob", last_name="Martin", email=f"bob{n}@acme.example"),
            )
            for n in range(3)
        ]
    )
    columns = "organization_id, first_name, last_name, email, mobile, employee_number, search_text"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO accounts_user (password, is_superuser, {columns}, preferred_channel, language, status,"
            " is_administrator, must_change_password, is_staff, created_at, updated_at, session_generation)"
            " VALUES ('!', false, %s, 'Cid', 'Raw', 'cid@acme.example', '', '', 'cid raw cid@acme.example',"
            " 'email', 'en', 'active', false, false, false, now(), now(), 0)",
            [acme.pk],
        )
        with cursor.cursor.copy(
            f"COPY accounts_user (password, is_superuser, {columns}, preferred_channel, language, status,"
            " is_administrator, must_change_password, is_staff, created_at, updated_at, session_generation)"
            " FROM STDIN"
        ) as copy:
            copy.write_row(
                ("!", False, globex.pk, "Dee", "Copied", "dee@globex.example", "", "E77",
                 "dee copied dee@globex.example e77", "email", "en", "active", False, False, False,
                 "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", 0)
            )  # fmt: skip
    assert words_wrong() == (set(), set(), set())
    assert SearchWord.objects.filter(word="martin").count() == 3

    # A rename through save(), a new email, a search text changed in bulk, a move to another
    # organisation: the old words go, the new ones come.
    ann.last_name = "Durand"
    ann.save()
    ann.email = "ann.zeller@acme.example"
    ann.save()
    User.objects.filter(last_name="Martin").update(search_text="bob martinez bob@acme.example")
    User.objects.filter(last_name="Raw").update(organization=globex)
    bobs = list(User.objects.filter(first_name="Bob"))
    for bob in bobs:
        bob.first_name = "Robert"
    User.objects.bulk_update(bobs, ["first_name"])
    # A login or a status change does not touch the words.
    User.objects.filter(pk=ann.pk).update(status=User.Status.INACTIVE)
    assert words_wrong() == (set(), set(), set())
    assert not SearchWord.objects.filter(user=ann, word="lefevre").exists()
    assert SearchWord.objects.filter(user=ann, word="zeller", last_name="Durand").exists()

    # Deletes, one and many.
    ann.delete()
    User.objects.filter(first_name="Robert").delete()
    assert words_wrong() == (set(), set(), set())
    assert not SearchWord.objects.filter(organization=acme).exclude(user__first_name="Alice").exists()
    # Known words stay: they only ever make the list's search take the slower path.
    assert KnownWord.objects.filter(organization=acme, word="lefevre").exists()


@pytest.mark.django_db(transaction=True)
def test_a_word_new_to_the_organisation_changes_its_people_version(acme):
    """The people list caches which known word holds a searched word under the people version: a
    new word, however written (here raw SQL, which calls no service), moves the version."""
    UserFactory(organization=acme, first_name="Ann", last_name="Martin")

    def version():
        return PeopleVersion.objects.filter(organization=acme).values_list("version", flat=True).first() or 0

    before = version()
    User.objects.filter(last_name="Martin").update(search_text="ann martin")  # only known words
    assert version() == before
    User.objects.filter(last_name="Martin").update(search_text="ann martinez")
    assert version() == before + 1
    # Two new words and a known one, in one write: one new version.
    User.objects.filter(last_name="Martin").update(search_text="ann martinez zola zygmunt")
    assert version() == before + 2
    assert set(KnownWord.objects.filter(organization=acme).values_list("word", flat=True)) >= {"zola", "zygmunt"}
