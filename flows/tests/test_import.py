import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook

from accounts.models import ImportJob, StatusChange, User
from accounts.tests.factories import UserFactory, UserGroupFactory, UserTypeFactory
from flows import importing
from flows.importing import ImportFileError, check_rows, read_table

pytestmark = pytest.mark.django_db
UPLOAD = reverse("accounts:user_import")


@pytest.fixture
def setup(alice):
    org = alice.organization
    UserTypeFactory(organization=org, name="Employé")
    UserGroupFactory(organization=org, name="Sales")
    UserGroupFactory(organization=org, name="Lyon")
    return org


def csv_bytes(text, bom=False, encoding="utf-8"):
    return (("\ufeff" if bom else "") + text).encode(encoding)


def xlsx_bytes(rows):
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def check(org, data, actor=None):
    header, rows = read_table(data)
    return check_rows(organization=org, actor=actor, header=header, rows=rows)


def errors_of(result):
    return [(row.number, column, reason) for row in result.rows for column, reason in row.errors]


def test_french_headers_semicolons_and_a_bom_are_understood(setup):
    data = csv_bytes(
        "Prénom;Nom;E-mail;Téléphone mobile;Matricule;Type;Groupes;Langue;Canal\n"
        "Zoé;Lefèvre;Zoe@Example.com;06 12 34 56 78;E-1;employe;Sales, lyon;français;sms\n",
        bom=True,
    )
    result = check(setup, data)
    assert errors_of(result) == []
    (row,) = result.rows
    assert row.values["email"] == "zoe@example.com"
    assert row.values["mobile"] == "+33612345678"
    assert row.values["language"] == "fr" and row.values["preferred_channel"] == "sms"
    assert len(row.values["group_ids"]) == 2 and row.values["user_type_id"]


def test_xlsx_with_numbers_as_cells(setup):
    data = xlsx_bytes([["first_name", "email", "mobile", "employee_number"], ["Al", "al@example.com", 612345678, 42]])
    (row,) = check(setup, data).rows
    assert row.values["mobile"] == "+33612345678" and row.values["employee_number"] == "42"


def test_the_declared_type_is_not_trusted(alice_client, setup):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 50
    response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("users.csv", png, "text/csv")})
    assert response.status_code == 200
    assert "neither a CSV text file nor an Excel" in response.content.decode()
    fake_xlsx = SimpleUploadedFile("users.xlsx", b"PK\x03\x04garbage", "application/vnd.ms-excel")
    assert "not a readable Excel" in alice_client.post(UPLOAD, {"file": fake_xlsx}).content.decode()
    csv_as_xlsx = SimpleUploadedFile("users.xlsx", b"email\nx@example.com\n", "application/octet-stream")
    assert alice_client.post(UPLOAD, {"file": csv_as_xlsx}).status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Prénom;Nom\nÉlodie;Dupont\n".encode("latin-1"), "not UTF-8"),
        (b"first_name,last_name\nAnn,Bee\n", "Missing column"),
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Old Excel files"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(setup, data, message):
    with pytest.raises(ImportFileError, match=message):
        check(setup, data)


def test_a_csv_cell_too_long_for_the_csv_module_is_refused_naming_its_line(setup, alice_client):
    data = b'email,first_name\na@x.com,Ann\nb@x.com,"Bo\n' + b"c@x.com,Cy\n" * 20_000
    with pytest.raises(ImportFileError, match="Line 3 of the file cannot be read as CSV"):
        check(setup, data)
    response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("users.csv", data, "text/csv")})
    assert response.status_code == 200 and "cannot be read as CSV" in response.content.decode()


def test_size_and_row_caps(setup, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 2)
    with pytest.raises(ImportFileError, match="at most 2"):
        check(setup, b"email\na@x.com\nb@x.com\nc@x.com\n")
    monkeypatch.setattr(importing, "MAX_BYTES", 10)
    with pytest.raises(ImportFileError, match="the limit is"):
        check(setup, b"email\na@x.com\nb@x.com\n")


def test_each_bad_row_is_reported_with_its_row_column_and_reason(setup):
    data = csv_bytes(
        "email,mobile,user_type,groups,language,preferred_channel\n"
        "ok@example.com,,,,,\n"  # row 2
        "not-an-email,,,,,\n"  # row 3
        ",12,,,,\n"  # row 4
        "t@example.com,,Astronaut,,,\n"  # row 5
        "g@example.com,,,Nowhere,,\n"  # row 6
        "OK@example.com,,,,,\n"  # row 7: same as row 2
        "l@example.com,,,,klingon,\n"  # row 8
        ",,,,,sms\n"  # row 9: nothing but a channel
        "c@example.com,,,,,sms\n"  # row 10: sms without a mobile
    )
    assert errors_of(check(setup, data)) == [
        (3, "email", "“not-an-email” is not a valid email address."),
        (4, "mobile", "“12” is not a valid mobile number."),
        (5, "user_type", "unknown user type “Astronaut”"),
        (6, "groups", "unknown group “Nowhere”"),
        (7, "email", "same value as row 2"),
        (8, "language", "unknown language “klingon” (use en or fr)"),
        (9, "email", "Give an email address or a mobile number: one of them is the login ID."),
        (10, "preferred_channel", "SMS is the preferred channel but there is no mobile number."),
    ]


def test_a_row_matching_an_existing_user_updates_it(setup, alice):
    existing = UserFactory(organization=setup, email="known@example.com", first_name="Old", employee_number="E-9")
    by_number = UserFactory(organization=setup, email="other@example.com", employee_number="E-10")
    data = csv_bytes(
        "first_name,email,employee_number\nNew,KNOWN@example.com,\nRenamed,,E-10\nFresh,fresh@example.com,\n"
    )
    result = check(setup, data, actor=alice)
    assert [(row.action, row.user_id) for row in result.rows] == [
        ("update", existing.pk),
        ("update", by_number.pk),
        ("create", None),
    ]


def test_a_row_matching_two_different_users_is_an_error(setup):
    UserFactory(organization=setup, email="a@example.com")
    UserFactory(organization=setup, email="b@example.com", mobile="+33612345678")
    result = check(setup, csv_bytes("email,mobile\na@example.com,0612345678\n"))
    assert errors_of(result) == [
        (2, "email, mobile", "the email, mobile or employee number belong to different existing users")
    ]


def test_another_tenants_users_do_not_match(setup, mallory):
    result = check(setup, csv_bytes(f"email\n{mallory.email}\n"))
    assert result.rows[0].action == "create"


def test_upload_preview_confirm_writes_everything(alice_client, alice, setup, django_capture_on_commit_callbacks):
    existing = UserFactory(organization=setup, email="known@example.com", first_name="Old", last_name="Name")
    data = csv_bytes("first_name,last_name,email,groups\nNew,,known@example.com,Sales\nAnn,Bee,ann@example.com,Lyon\n")
    response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("people.csv", data), "invite": "on"})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("accounts:user_import_job", args=[job.pk])
    assert job.state == "ready" and job.invite
    page = alice_client.get(response["Location"]).content.decode()
    assert "1 to create" in page and "1 to update" in page
    assert not User.objects.filter(email="ann@example.com").exists()
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "done", job.error
    ann = User.objects.get(email="ann@example.com")
    assert (ann.status, ann.created_by, ann.organization) == ("invited", alice, setup)  # "invite" was ticked
    assert [g.name for g in ann.user_groups.all()] == ["Lyon"]
    assert StatusChange.objects.filter(user=ann, to_status="created").exists()
    assert StatusChange.objects.filter(user=ann, to_status="invited").exists()
    assert User.objects.search("ann bee").get() == ann
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name) == ("New", "Name")  # empty cells keep values
    assert [g.name for g in existing.user_groups.all()] == ["Sales"]
    assert "Import done: 1 users created, 1 updated." in alice_client.get(response["Location"]).content.decode()


def test_a_file_with_errors_cannot_be_confirmed(alice_client, setup):
    data = csv_bytes("email\nok@example.com\nbad\n")
    alice_client.post(UPLOAD, {"file": SimpleUploadedFile("people.csv", data)})
    job = ImportJob.objects.get()
    page = alice_client.get(reverse("accounts:user_import_job", args=[job.pk])).content.decode()
    assert "Rows in error" in page and "“bad” is not a valid email address" in page
    response = alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]), follow=True)
    assert "cannot be confirmed" in response.content.decode()
    assert not User.objects.filter(email="ok@example.com").exists()


def test_the_import_is_all_or_nothing(alice, setup, monkeypatch):
    from flows import imports
    from groups.models import Membership

    result = check(setup, csv_bytes("email,groups\na@example.com,Sales\nb@example.com,Sales\n"), actor=alice)

    insert_many = imports.insert_many

    def fail(model, objects, **kwargs):
        if model is Membership:  # the users and their history are written by then
            raise RuntimeError("disk full")
        return insert_many(model, objects, **kwargs)

    monkeypatch.setattr(imports, "insert_many", fail)
    with pytest.raises(RuntimeError):
        imports.users_import(organization=setup, actor=alice, check=result)
    assert not User.objects.filter(email__in=["a@example.com", "b@example.com"]).exists()
    assert not StatusChange.objects.filter(user__email="a@example.com").exists()


def test_a_clash_appearing_after_the_preview_fails_the_import_cleanly(
    alice_client, setup, django_capture_on_commit_callbacks
):
    alice_client.post(
        UPLOAD, {"file": SimpleUploadedFile("p.csv", csv_bytes("email,mobile\nx@example.com,0612345678\n"))}
    )
    job = ImportJob.objects.get()
    UserFactory(organization=setup, email="y@example.com", mobile="+33612345678")
    UserFactory(organization=setup, email="x@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "failed" and "nothing was imported" in job.error


def test_someone_elses_import_is_a_404(alice_client, alice, mallory, setup):
    job = ImportJob.objects.create(organization=mallory.organization, created_by=mallory, filename="x", data=b"")
    assert alice_client.get(reverse("accounts:user_import_job", args=[job.pk])).status_code == 404
    assert alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk])).status_code == 404


def test_sample_files_download_and_import_cleanly(alice_client, setup):
    UserTypeFactory(organization=setup, name="Employee")
    UserTypeFactory(organization=setup, name="Trainee")
    for fmt in ("csv", "xlsx"):
        response = alice_client.get(reverse("accounts:user_import_sample", args=[fmt]))
        data = b"".join(response.streaming_content)
        assert errors_of(check(setup, data)) == []


@pytest.mark.slow
def test_a_10000_row_file_goes_through_the_background_task_with_progress(
    alice_client, alice, setup, django_capture_on_commit_callbacks
):
    lines = ["first_name;last_name;email;mobile;groups"]
    lines += [
        f"P{n};Big;p{n}@big.example;06 {n // 10000 + 10:02d} {n // 100 % 100:02d} {n % 100:02d} 11;Sales"
        for n in range(10_000)
    ]
    data = csv_bytes("\n".join(lines) + "\n", bom=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(UPLOAD, {"file": SimpleUploadedFile("big.csv", data)})
    job = ImportJob.objects.get()
    assert job.state == "ready" and job.total == 10_000 and job.progress == 10_000
    assert job.report["create"] == 10_000 and job.report["error"] == 0
    progress = alice_client.get(reverse("accounts:user_import_progress", args=[job.pk])).json()
    assert progress["percent"] == 100
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "done" and job.progress == 10_000
    assert User.objects.filter(organization=setup, last_name="Big").count() == 10_000
    assert setup.user_groups.get(name="Sales").members.count() == 10_000
    assert response.status_code == 302


def test_the_command_prints_the_report_and_fails_on_error_rows(setup, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"email\nok@example.com\nnope\n")
    with pytest.raises(CommandError, match="1 rows in error"):
        call_command("importusers", setup.slug, str(bad))
    out = capsys.readouterr().out
    assert "1 to create, 0 to update, 1 in error" in out
    assert "row 3, email: “nope” is not a valid email address" in out
    assert not User.objects.filter(email="ok@example.com").exists()


def test_the_command_dry_run_writes_nothing_then_imports(setup, tmp_path, capsys):
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx_bytes([["E-mail", "Prénom"], ["new@example.com", "Neo"]]))
    call_command("importusers", setup.slug, str(good), "--dry-run")
    assert "Dry run" in capsys.readouterr().out
    assert not User.objects.filter(email="new@example.com").exists()
    call_command("importusers", setup.slug, str(good), "--invite")
    assert "1 created, 0 updated" in capsys.readouterr().out
    assert User.objects.get(email="new@example.com").first_name == "Neo"


def test_the_command_exits_non_zero_from_the_shell(setup, tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"first_name\nAnn\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "importusers", "nosuchorg", str(bad)], capture_output=True, text=True
    )
    assert result.returncode != 0


def test_an_update_that_would_break_a_rule_is_refused_at_the_preview_with_its_row_not_a_500(
    alice_client, setup, django_capture_on_commit_callbacks
):
    UserFactory(organization=setup, email="mail.only@example.com")
    UserFactory(organization=setup, email="has.mobile@example.com", mobile="+33612345678")
    data = csv_bytes(
        "email,preferred_channel\nmail.only@example.com,sms\nnew@example.com,\nhas.mobile@example.com,texto\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(UPLOAD, {"file": SimpleUploadedFile("p.csv", data)})
        job = ImportJob.objects.get()
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    # The rule is judged on the user as the row leaves them: the first has no mobile for SMS (row 2),
    # the other has one, so SMS is fine for them (row 4).
    assert job.state == "ready" and (job.report["update"], job.report["error"]) == (1, 1)
    [row] = [row for row in job.report["rows"] if row["action"] == "error"]
    assert (row["row"], row["errors"]) == (
        2,
        [["preferred_channel", "SMS is the preferred channel but there is no mobile number."]],
    )
    assert not User.objects.filter(email="new@example.com").exists()
    assert User.objects.get(email="has.mobile@example.com").preferred_channel == "email"


def test_an_update_broken_by_a_change_after_its_check_is_refused_at_the_write_with_its_row(setup, alice):
    """The write judges each updated person again, as the check left them and as they are now: a
    mobile removed since the check leaves the row's SMS channel without an address."""
    from experquiz.errors import DomainError
    from flows import imports

    person = UserFactory(organization=setup, email="has.mobile@example.com", mobile="+33612345678", first_name="Ann")
    data = csv_bytes("email,first_name,preferred_channel\nhas.mobile@example.com,Anne,sms\nnew@example.com,New,\n")
    result = check(setup, data, actor=alice)
    assert [row.action for row in result.rows] == ["update", "create"]
    User.objects.filter(pk=person.pk).update(mobile="")
    with pytest.raises(DomainError) as refused:
        imports.users_import(organization=setup, actor=alice, check=result)
    assert refused.value.message == "Row 2: SMS is the preferred channel but there is no mobile number."
    person.refresh_from_db()
    assert (person.first_name, person.preferred_channel) == ("Ann", "email")
    assert not User.objects.filter(email="new@example.com").exists()


def test_an_update_to_a_type_deleted_after_its_check_is_refused_at_the_write_with_its_row(setup, alice):
    from accounts.models import UserType
    from experquiz.errors import DomainError
    from flows import imports

    UserFactory(organization=setup, email="ann@example.com")
    UserTypeFactory(organization=setup, name="Intern")
    result = check(setup, csv_bytes("email,type\nann@example.com,Intern\n"), actor=alice)
    assert [row.action for row in result.rows] == ["update"]
    UserType.objects.filter(organization=setup, name="Intern").delete()
    with pytest.raises(DomainError) as refused:
        imports.users_import(organization=setup, actor=alice, check=result)
    assert refused.value.message == "Row 2: Unknown user type."
    assert User.objects.get(email="ann@example.com").user_type_id is None


def test_an_xlsx_unfolding_past_the_row_cap_is_refused(setup, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 5)
    data = xlsx_bytes([["email"], *([f"p{n}@example.com"] for n in range(50))])
    with pytest.raises(ImportFileError, match="at most 5"):
        check(setup, data)


def test_a_group_scoped_manager_must_put_new_people_in_one_of_their_groups(setup, bob):
    from groups.models import UserGroup
    from groups.tests.factories import grant
    from rights.names import Right

    grant(bob, Right.MANAGE_USERS, UserGroup.objects.get(organization=setup, name="Lyon"))
    data = csv_bytes("first_name,email,groups\nNo,nogroup@example.com,\nYes,lyon@example.com,Lyon\n")
    result = check(setup, data, actor=bob)
    assert [row.action for row in result.rows] == ["error", "create"]
    assert errors_of(result) == [(2, "groups", "a new user must be put in one of your groups")]


def test_the_import_locks_the_users_it_updates_in_id_order(setup, alice):
    """users_mark_invited and account_links_revoke_for_users lock users by id: an import that locked
    them by name could deadlock with them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flows import imports

    if not connection.features.has_select_for_update:
        if os.environ.get("CI"):
            pytest.fail("Row locks are read in PostgreSQL's SQL: CI must run this (DATABASE_URL=postgres://…).")
        pytest.skip("SQLite has no row locks to read (DATABASE_URL=postgres://…).")
    UserFactory(organization=setup, email="zed@example.com", last_name="Aaron")
    UserFactory(organization=setup, email="amy@example.com", last_name="Zola")
    result = check(setup, csv_bytes("email,first_name\nzed@example.com,Z\namy@example.com,A\n"), actor=alice)
    with CaptureQueriesContext(connection) as queries:
        imports.users_import(organization=setup, actor=alice, check=result)
    locks = [q["sql"] for q in queries if "FOR" in q["sql"] and "UPDATE" in q["sql"] and "accounts_user" in q["sql"]]
    assert locks, "the updated users are locked"
    for sql in locks:
        assert sql.rsplit("ORDER BY", 1)[-1].split("FOR")[0].strip() == '"accounts_user"."id" ASC', sql


TWO_PEOPLE = "email;mobile;first_name;groups\nann@example.com;06 12 34 56 78;Ann;Sales\ncy@example.com;;Cy;Lyon\n"


def test_the_write_takes_the_previews_check_without_reading_the_file_again(
    alice_client, setup, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 12: the check made for the preview is kept with the job; confirming writes it as it is
    when nothing it read has changed: no cell is read again."""
    data = csv_bytes(TWO_PEOPLE)
    alice_client.post(UPLOAD, {"file": SimpleUploadedFile("p.csv", data)})
    job = ImportJob.objects.get()
    assert job.state == "ready" and job.plan
    read = []
    monkeypatch.setattr(importing, "identity_read", lambda *args, **kwargs: read.append(kwargs))
    monkeypatch.setattr(importing, "iter_table", lambda *args: read.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "done", job.error
    assert read == [], "the file was read again"
    assert (job.report["result"]["created"], job.plan, job.data) == (2, b"", b"")
    ann = User.objects.get(organization=setup, email="ann@example.com")
    assert (ann.mobile, ann.first_name, [g.name for g in ann.user_groups.all()]) == ("+33612345678", "Ann", ["Sales"])
    assert User.objects.search("0612345678").get() == ann


@pytest.mark.parametrize("change", ["a person arrives", "a group is renamed", "the region changes"])
def test_a_change_since_the_preview_makes_the_write_check_the_file_again(
    alice_client, alice, setup, monkeypatch, django_capture_on_commit_callbacks, change
):
    from groups.models import UserGroup

    data = csv_bytes(TWO_PEOPLE)
    alice_client.post(UPLOAD, {"file": SimpleUploadedFile("p.csv", data)})
    job = ImportJob.objects.get()
    if change == "a person arrives":
        cy = UserFactory(organization=setup, email="cy@example.com", first_name="Old")
    elif change == "a group is renamed":
        UserGroup.objects.filter(organization=setup, name="Lyon").update(name="Lyon 2")
    else:
        setup.phone_region = "BE"
        setup.save()
    read, identity_read = [], importing.identity_read
    monkeypatch.setattr(
        importing, "identity_read", lambda *args, **kwargs: read.append(kwargs) or identity_read(*args, **kwargs)
    )
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert len(read) == 2, "every row is read again"
    if change == "a person arrives":
        # As a check of the file now finds: the row updates the person who arrived meanwhile.
        assert job.state == "done" and job.report["result"] | {"batch": None} == {
            "created": 1,
            "updated": 1,
            "invite": False,
            "invited": 0,
            "not_invited": 0,
            "batch": None,
        }
        cy.refresh_from_db()
        assert cy.first_name == "Cy"
    elif change == "a group is renamed":
        assert job.state == "failed" and "some rows are now in error" in job.error
        assert [(row["row"], row["errors"]) for row in job.report["rows"]] == [
            (2, []),
            (3, [["groups", "unknown group “Lyon”"]]),
        ]
        assert not User.objects.filter(organization=setup, email="ann@example.com").exists()
    else:
        # 06 12 34 56 78 read in Belgium is not a mobile number.
        assert job.state == "failed" and not User.objects.filter(organization=setup, email="ann@example.com").exists()


def test_plan_holds_until_what_the_check_read_changes(setup, alice, bob):
    from flows.importing import plan_holds
    from groups.tests.factories import grant
    from rights.names import Right

    data = csv_bytes(f"email,first_name,groups\n{bob.email},Bobby,Sales\nnew@example.com,New,Lyon\n")
    checked = check(setup, data, actor=alice)
    assert [row.action for row in checked.rows] == ["update", "create"]
    assert plan_holds(checked, organization=setup, actor=alice)
    # Another reader: another scope, so another basis.
    grant(bob, Right.MANAGE_USERS)
    assert not plan_holds(checked, organization=setup, actor=bob)
    # The person updated changes their login ID: the row no longer matches them.
    bob.email = "bob.elsewhere@example.com"
    bob.save()
    assert not plan_holds(checked, organization=setup, actor=alice)


def test_the_write_tells_the_progress_page_how_many_rows_it_wrote(
    alice_client, setup, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from flows import tasks

    monkeypatch.setattr(importing, "FRAME_ROWS", 2)  # a step of the write every two rows
    UserFactory(organization=setup, email="known@example.com")  # the row that updates
    data = csv_bytes("email\na@example.com\nknown@example.com\nb@example.com\nc@example.com\nd@example.com\n")
    alice_client.post(UPLOAD, {"file": SimpleUploadedFile("p.csv", data)})
    job = ImportJob.objects.get()
    progress_url = reverse("accounts:user_import_progress", args=[job.pk])
    seen, written = [], tasks._written

    def spy(job_id, n):
        written(job_id, n)
        # What the page polls meanwhile (another request, outside the write's transaction).
        seen.append(alice_client.get(progress_url).json()["progress"])

    monkeypatch.setattr(tasks, "_written", spy)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:user_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "done", job.error
    assert seen == [0, 1, 3, 4, 5], "from nothing, the creations by steps of the file, then the update"
    done = alice_client.get(progress_url).json()
    assert done["progress"] == job.progress == job.total == 5 and done["percent"] == 100, "done: the job's own count"
    assert cache.get(tasks.write_progress_key(job.pk)) == 5
