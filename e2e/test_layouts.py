"""Every page of the admin area, and every page a link in a message opens, at a desktop size (1366×900)
and at a phone's (390×844): no page is wider than the window, axe-core finds no serious or critical
accessibility fault, and the Content-Security-Policy blocks nothing. The pages reached by a form (a
confirmation, an import's preview, an invitation's review) are reached the way an administrator
reaches them. A full-page screenshot of each lands in test-results/ (not committed), named
layout-<desktop|phone>-<page>.png.

The sweep knows which pages it saw: every page of the URLconf (the access matrix's list) must be
visited here or be named in NOT_VISITED with the reason, so a page added later cannot escape it.
"""

from datetime import timedelta

import pytest
from django.urls import resolve
from django.utils import timezone

from accounts.models import BulkJob, User
from accounts.tests.factories import (
    PASSWORD,
    AdministratorFactory,
    ContactFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
    UserTypeFactory,
)
from assessments.models import Attempt
from assessments.tests.factories import make_assignment, make_questionnaire
from audit.models import Action, AuditEvent
from groups.tests.factories import RightsProfileFactory
from invitations.models import Invitation, InvitationBatch
from invitations.services import account
from invitations.tests.helpers import last_token
from invitations.tokens import hash_token, make_token
from web.tests.access import ACCESS

from .conftest import watch_policy

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}

# The pages the sweep does not open, and why: files to download, JSON read by a page's own script,
# and endpoints that only act on a POST (their confirmation or result pages are visited). A POST that
# shows a page (a confirmation, a review) is visited by pressing its button.
NOT_VISITED = {
    "accounts:logout": "POST only: logs out",
    "set_language": "POST: sets the language and redirects back",
    "accounts:user_export": "download (CSV, Excel)",
    "accounts:user_import_sample": "download (sample file)",
    "accounts:user_import_progress": "JSON polled by the import's page",
    "accounts:user_import_confirm": "POST only: the import's result page is visited",
    "accounts:user_type_delete": "POST only: deletes a user type",
    "invitations:resend": "POST only: resends and redirects back",
    "invitations:revoke": "POST only: revokes and redirects back",
    "invitations:batch_progress": "JSON polled by the batch's page",
    "invitations:batch_retry": "POST only: retries and redirects back",
    "invitations:users_send": "POST only, and no page posts to it now; its confirmation is the sending one "
    "(templates/confirm.html), visited as invitations-group-resend-confirm",
    "invitations:user_send": "POST only: sends and redirects back",
    "invitations:user_revoke": "POST only: revokes and redirects back",
    "invitations:user_activate": "POST only, and no page offers its button now (a person's page activates "
    "through its status actions); its confirmation is templates/confirm.html, visited as "
    "invitations-paste-confirm",
    "audit:export": "download (CSV)",
    "assessments:publish": "POST only",
    "assessments:unpublish": "POST only",
    "assessments:export": "download (JSON)",
    "assessments:question_move": "POST only",
    "assessments:invite_confirm": "POST: leads to the invitation's page, visited",
    "assessments:assignment_add_confirm": "POST: leads to the invitation's page, visited",
    "assessments:results_export": "download (CSV, Excel)",
    "assessments:take_start": "POST only: starts an attempt (its question page is visited)",
    "assessments:assigned_start": "POST only: starts an invited attempt (same pages as take_start)",
    "assessments:take_submit": "POST: its result page is visited as me-attempt-result",
    "assessment_link_opened": "POST by the landing page's script (answers 204)",
    "assessment_link_submit": "POST: its score page is visited as a-score",
}

USERS_CSV = (
    "Prénom;Nom;E-mail;Téléphone mobile;Groupes\n"
    "Zoé;Lefèvre-Delacroix-Montmorency;zoe.lefevre-delacroix@a-very-long-domain-name.example.com;06 12 34 56 78;Lyon\n"
    "Maximilienne;Renamed;{update_email};;Lyon\n"
)
USERS_CSV_WITH_ERRORS = "Prénom;Nom;E-mail;Téléphone mobile\nBad;Address;not-an-address;\nNo;Address;;\n"
CONTACTS_CSV = (
    "Prénom;Nom;E-mail;Téléphone mobile\n"
    "Cunégonde;Wolfeschlegelsteinhausen;cunegonde.wolfeschlegelsteinhausen@another-long-domain.example.org;\n"
    "Bad;Row;not-an-address;\n"
)


def token_for(user, kind, **fields):
    """A sent link of `kind` for `user`, made directly; returns its token."""
    token = make_token()
    Invitation.objects.create(
        organization=user.organization,
        kind=kind,
        user=user,
        channel="email",
        address=user.email,
        token_hash=hash_token(token),
        expires_at=fields.pop("expires_at", timezone.now() + timedelta(days=7)),
        delivery=Invitation.Delivery.SENT,
        sent_at=timezone.now(),
        **fields,
    )
    return token


@pytest.fixture
def world(transactional_db):
    """An organisation with what makes pages wide or long: long names and addresses, every status,
    a group with more members than one page, invitations on their way, contacts, a questionnaire with
    an assessment invitation in every state, results, rights profiles, user types, a background job,
    audit events."""
    org = OrganizationFactory(slug="acme", name="Acme Training Centre")
    admin = AdministratorFactory(organization=org, email="ada@acme.example", first_name="Ada", last_name="Admin")
    group = UserGroupFactory(
        organization=org, name="Regional managers of the south-west", description="Everyone who manages a region."
    )
    lyon = UserGroupFactory(organization=org, name="Lyon")
    trainee = UserTypeFactory(organization=org, name="Apprentice technician (work-study)")
    people = []
    for n, status in enumerate(["active", "created", "invited", "inactive", "active", "created"] * 5):
        person = UserFactory(
            organization=org,
            first_name=f"Maximilienne{n}",
            last_name="de la Tour-Montgolfier",
            email=f"maximilienne.delatour-montgolfier.{n}@a-very-long-domain-name.example.com",
            mobile=f"+3361234{n:04d}",
            status=status,
            user_type=trainee if n % 2 else None,
        )
        MembershipFactory(group=group, user=person)
        if n % 3 == 0:
            MembershipFactory(group=lyon, user=person)
        people.append(person)
    # More members than one page of the group's list (50).
    for n in range(25):
        MembershipFactory(group=group, user=UserFactory(organization=org, first_name=f"Member{n}", last_name="Page"))
    contact = ContactFactory(
        organization=org,
        first_name="Bartholomew",
        last_name="Featherstonehaugh",
        email="bartholomew.featherstonehaugh@another-long-domain.example.org",
        mobile="+33756123456",
    )
    later, late, removed = (
        ContactFactory(organization=org, first_name=first, last_name="Contact", email=f"{first.lower()}@example.org")
        for first in ("Later", "Late", "Removed")
    )
    newcomer = UserFactory(organization=org, email="noa@acme.example", status="created", first_name="", last_name="")
    account.invitations_send(organization=org, users=User.objects.filter(pk=newcomer.pk), actor=admin)
    batch = InvitationBatch.objects.get(organization=org)
    questionnaire = make_questionnaire(
        org,
        title="Fire safety at the regional warehouses",
        questions=3,
        instructions="Three questions. Take your time: you can come back with the same link.",
        time_limit_minutes=20,
        created_by=admin,
    )
    # The assessment invitation: the contact takes it through their link; a user's link, opened by
    # someone else; a person who submitted (results); someone removed from it.
    assignment, links = make_assignment(
        questionnaire, people=[contact, people[1], people[0], removed], created_by=admin
    )
    place = assignment.assignees.get(user=people[0])
    not_started = assignment.assignees.get(user=people[1])
    Attempt.objects.create(
        organization=org,
        questionnaire=questionnaire,
        user=people[0],
        assignee=place,
        started_at=timezone.now() - timedelta(minutes=12),
        submitted_at=timezone.now(),
        score=66.67,
        correct_count=2,
        question_count=3,
    )
    assignment.assignees.filter(contact=removed).update(removed_at=timezone.now())
    now = timezone.now()
    _later, later_links = make_assignment(questionnaire, people=[later], opens_at=now + timedelta(days=2))
    _late, late_links = make_assignment(
        questionnaire, people=[late], opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=1)
    )
    profile = RightsProfileFactory(organization=org)
    bulk_job = BulkJob.objects.create(
        organization=org, created_by=admin, action="deactivate", total=300, state=BulkJob.State.DONE
    )
    AuditEvent.objects.create(
        organization=org,
        created_at=timezone.now(),
        actor=admin,
        action=Action.USER_UPDATED,
        target_user=people[0],
        target_type="user",
        target_id=people[0].pk,
        target_label=people[0].full_name,
        before={"email": "old." + people[0].email, "last_name": "Montgolfier-de-la-Tour-du-Pin-Chambly"},
        after={"email": people[0].email, "last_name": people[0].last_name},
    )
    return {
        "org": org,
        "admin": admin,
        "group": group,
        "person": people[0],
        "created": people[1],
        "to_update": people[2],
        "contact": contact,
        "questionnaire": questionnaire,
        "question": questionnaire.questions.first(),
        "assignment": assignment,
        "not_started": not_started,
        "profile": profile,
        "user_type": trainee,
        "bulk_job": bulk_job,
        "batch": batch,
        "token": last_token(newcomer.email),
        "expired_token": token_for(people[2], Invitation.Kind.ACCOUNT, expires_at=timezone.now() - timedelta(days=1)),
        "reset_token": token_for(people[4], Invitation.Kind.PASSWORD_RESET),
        "link": links[contact],
        "someone_elses_link": links[people[1]],
        "removed_link": links[removed],
        "later_link": later_links[later],
        "late_link": late_links[late],
    }


# The elements that reach past the window's right edge while none of their children do: what to fix.
WIDEST = """(window) => {
  const past = (element) => element.getBoundingClientRect().right > window + 0.5;
  const name = (element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
    + [...element.classList].slice(0, 3).map((c) => "." + c).join("");
  return [...document.body.querySelectorAll("*")]
    .filter((element) => past(element) && ![...element.children].some(past))
    .slice(0, 3)
    .map((element) => `${name(element)} (${Math.round(element.getBoundingClientRect().right)} px)`);
}"""


# The boxes that scroll sideways inside the page (a table in .table-responsive too wide for it).
SCROLLING = """() => [...document.body.querySelectorAll("*")]
  .filter((element) => ["auto", "scroll"].includes(getComputedStyle(element).overflowX)
    && element.scrollWidth > element.clientWidth + 1)
  .map((element) => element.tagName.toLowerCase() + [...element.classList].slice(0, 3).map((c) => "." + c).join(""))"""
# Pages whose content is two-dimensional and scrolls sideways on a phone on purpose, in a box a
# keyboard can scroll: the people × groups grid and the example of the questionnaire file.
SCROLL_ON_A_PHONE = {"groups-memberships", "questionnaire-import"}


def problems_of(page, window: int, *, may_scroll=False) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    problems = []
    # Compared with the window asked for: a phone browser zooms out to show a page wider than the
    # screen, and window.innerWidth grows with it.
    width = page.evaluate("document.scrollingElement.scrollWidth")
    if width > window:
        problems.append(f"{width} px wide in a {window} px window, because of {page.evaluate(WIDEST, window)}")
    # On a phone, lists are cards (.table-stack), not tables to scroll sideways.
    if window < 768 and not may_scroll and (scrolling := page.evaluate(SCROLLING)):
        problems.append(f"scrolls sideways in {scrolling[:3]}")
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"axe {violation['id']} ({violation['impact']}): {targets}")
    return problems


class Sweep:
    """One browser window of one size going through pages: each page checked is measured, run through
    axe and photographed, and its URL name noted."""

    def __init__(self, page, size, url, screenshot):
        self.page, self.size, self.url, self.screenshot = page, size, url, screenshot
        self.found: dict[str, list[str]] = {}
        self.seen: set[str] = set()

    def get(self, name, path, status=200):
        response = self.page.goto(self.url(path))
        assert response.status == status, f"{name} ({path}): {response.status}, expected {status}"
        assert response.request.redirected_from is None, f"{name} ({path}) redirected to {self.page.url}"
        self.check(name)

    def check(self, name):
        """The page now shown, as `name`."""
        self.page.wait_for_load_state()
        path = self.page.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        self.seen.add(resolve("/" + path).view_name)
        assert name not in self.found, f"two pages named {name}"
        self.found[name] = problems_of(self.page, VIEWPORTS[self.size]["width"], may_scroll=name in SCROLL_ON_A_PHONE)
        self.screenshot(self.page, f"layout-{self.size}-{name}")

    def click(self, role, name, **options):
        self.page.get_by_role(role, name=name, **options).click()
        self.page.wait_for_load_state()


def log_in(page, url):
    page.goto(url("/login/"))
    page.get_by_label("Email or mobile number").fill("ada@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def token_pages(sweep, world, settings):
    """The pages of the links in messages, and of the way in, as their recipient sees them (signed out)."""
    sweep.get("login", "/login/")
    sweep.get("password-forgot", "/password/forgot/")
    sweep.page.get_by_label("Email or mobile number").fill(world["person"].email)
    sweep.click("button", "Send me a link")
    sweep.check("password-forgot-sent")
    sweep.get("i-accept", f"/i/{world['token']}/")
    sweep.get("i-expired", f"/i/{world['expired_token']}/", status=410)
    sweep.get("i-unknown", "/i/no-such-token-at-all/", status=404)
    sweep.get("r-reset", f"/r/{world['reset_token']}/")

    # A contact's assessment link, from its landing page to the score, then used up.
    link = f"/a/{world['link']}/"
    sweep.get("a-landing", link)
    sweep.click("button", "Start")
    sweep.page.get_by_role("heading", name="Question 1 of 3").wait_for()
    sweep.check("a-question")
    for number in (1, 2, 3):
        sweep.page.get_by_role("heading", name=f"Question {number} of 3").wait_for()
        sweep.page.get_by_label(f"Right {number}", exact=True).check()
        sweep.click("button", "Next" if number < 3 else "Save and review", exact=True)
    sweep.page.get_by_role("heading", name="Review your answers").wait_for()
    sweep.check("a-review")
    sweep.click("button", "Submit my answers")
    sweep.page.get_by_role("heading", name="Your score").wait_for()
    sweep.check("a-score")
    sweep.page.context.clear_cookies()
    sweep.get("a-completed", link, status=410)
    sweep.get("a-not-open-yet", f"/a/{world['later_link']}/")
    sweep.get("a-too-late", f"/a/{world['late_link']}/", status=410)
    sweep.get("a-removed", f"/a/{world['removed_link']}/", status=410)
    sweep.get("a-unknown", "/a/no-such-token-at-all/", status=404)
    # Too many failed look-ups from one address: the page that says to wait.
    allowed, settings.TOKEN_THROTTLE_PER_IP = settings.TOKEN_THROTTLE_PER_IP, 0
    sweep.get("a-throttled", f"/a/{world['link']}/", status=429)
    settings.TOKEN_THROTTLE_PER_IP = allowed


def admin_pages(sweep, world, tmp_path):
    """Every page of the admin area, as the administrator reaches it."""
    person, created, group, contact = world["person"].pk, world["created"].pk, world["group"].pk, world["contact"].pk
    quiz, question = world["questionnaire"].pk, world["question"].pk
    assignment, place = world["assignment"].pk, world["not_started"].pk

    sweep.get("dashboard", "/")
    # People.
    sweep.get("users", "/users/")
    sweep.get("users-page-2", "/users/?page=2")
    # The bulk confirmation: two people checked on the list (on a phone, on their cards).
    sweep.page.goto(sweep.url("/users/?q=Maximilienne1"))
    for box in sweep.page.locator("input.row-check").all()[:2]:
        box.check()
    sweep.page.get_by_label("With the selected users").select_option(label="Deactivate")
    sweep.click("button", "Apply")
    sweep.page.get_by_role("heading", name="Deactivate: 2 users?").wait_for()
    sweep.check("users-bulk-confirm")
    # A bulk edit: the value first, then the confirmation, then the undo's confirmation.
    sweep.page.goto(sweep.url("/users/?q=Maximilienne1"))
    for box in sweep.page.locator("input.row-check").all()[:2]:
        box.check()
    sweep.page.get_by_label("With the selected users").select_option(label="Set the type")
    sweep.click("button", "Apply")
    sweep.page.get_by_role("heading", name="Set the type: 2 users").wait_for()
    sweep.check("users-bulk-value")
    sweep.page.get_by_label("New type").select_option(label=world["user_type"].name)
    sweep.click("button", "Continue")
    sweep.page.get_by_role("heading", name="Set the type: 2 users?").wait_for()
    sweep.check("users-bulk-value-confirm")
    sweep.click("button", "Yes, Set the type")
    sweep.page.get_by_role("alert").filter(has_text="changed to type").get_by_role("button", name="Undo").click()
    sweep.page.wait_for_load_state()
    sweep.check("users-bulk-undo-confirm")
    sweep.get("users-bulk-job", f"/users/bulk/{world['bulk_job'].pk}/")
    sweep.get("user-detail", f"/users/{person}/")
    sweep.get("user-edit", f"/users/{person}/edit/")
    sweep.get("user-status-confirm", f"/users/{person}/status/inactive/")
    sweep.get("user-rights", f"/users/{person}/rights/")
    sweep.get("user-activity", f"/audit/?person={person}")
    sweep.get("user-created-detail", f"/users/{created}/")
    sweep.get("user-new", "/users/new/")
    # Importing users: the upload, the preview (a row to create, one to update), one with errors, done.
    sweep.get("users-import", "/users/import/")
    for name, filename, text in (
        ("users-import-errors", "team-with-mistakes.csv", USERS_CSV_WITH_ERRORS),
        ("users-import-preview", "team.csv", USERS_CSV.format(update_email=world["to_update"].email)),
    ):
        csv_file = tmp_path / filename
        csv_file.write_text(text, encoding="utf-8-sig")
        sweep.page.goto(sweep.url("/users/import/"))
        sweep.page.get_by_label("File").set_input_files(str(csv_file))
        sweep.click("button", "Check the file")
        sweep.page.locator("#import-summary").wait_for()
        sweep.check(name)
    sweep.click("button", "Import: create 1, update 1")
    sweep.page.locator("#import-result").wait_for()
    sweep.check("users-import-done")
    # Contacts.
    sweep.get("contacts", "/contacts/")
    sweep.page.get_by_label("Select Bartholomew Featherstonehaugh").check()
    sweep.click("button", "Convert the selected contacts to users")
    sweep.check("contact-convert-confirm")
    sweep.get("contact-new", "/contacts/new/")
    sweep.get("contact-edit", f"/contacts/{contact}/edit/")
    sweep.get("contact-delete", f"/contacts/{contact}/delete/")
    sweep.get("contacts-import", "/contacts/import/")
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(CONTACTS_CSV, encoding="utf-8-sig")
    sweep.page.get_by_label("File").set_input_files(str(csv_file))
    sweep.click("button", "Check the file")
    sweep.check("contacts-import-preview")
    # Groups and rights.
    sweep.get("groups", "/groups/")
    sweep.get("group-new", "/groups/new/")
    sweep.get("groups-memberships", "/groups/memberships/")
    sweep.get("group-detail", f"/groups/{group}/")
    sweep.get("group-detail-page-2", f"/groups/{group}/?page=2")
    sweep.get("group-edit", f"/groups/{group}/edit/")
    sweep.get("group-delete", f"/groups/{group}/delete/")
    sweep.get("group-members-add", f"/groups/{group}/members/add/")
    sweep.get("group-members-remove", f"/groups/{group}/members/remove/?users={person}&users={created}")
    sweep.get("rights", "/rights/")
    sweep.get("rights-profile-new", "/rights/profiles/new/")
    sweep.get("rights-profile-edit", f"/rights/profiles/{world['profile'].pk}/")
    sweep.get("rights-profile-delete", f"/rights/profiles/{world['profile'].pk}/delete/")
    # Account invitations.
    sweep.get("invitations", "/invitations/")
    sweep.page.locator("form[action$='/invitations/resend-group/'] select").select_option(label=world["group"].name)
    sweep.page.locator("form[action$='/invitations/resend-group/'] button[type=submit]").click()
    sweep.page.wait_for_load_state()
    sweep.check("invitations-group-resend-confirm")
    sweep.get("invitations-paste", "/invitations/paste/")
    sweep.page.get_by_label("Email addresses and mobile numbers").fill(
        f"{world['person'].email}\nnew.person.with.a.long.address@a-very-long-domain-name.example.com\n06 98 76 54 32"
    )
    sweep.click("button", "Invite")
    sweep.check("invitations-paste-confirm")
    sweep.get("invitations-batch", f"/invitations/batches/{world['batch'].pk}/")
    # The audit trail and the organisation's settings.
    sweep.get("audit", "/audit/")
    sweep.get("settings-organisation", "/settings/organisation/")
    sweep.get("settings-user-types", "/settings/user-types/")
    sweep.get("settings-user-type-edit", f"/settings/user-types/{world['user_type'].pk}/edit/")
    # Questionnaires, and inviting people to one.
    sweep.get("questionnaires", "/questionnaires/")
    sweep.get("questionnaire-new", "/questionnaires/new/")
    sweep.get("questionnaire-import", "/questionnaires/import/")
    sweep.get("questionnaire-detail", f"/questionnaires/{quiz}/")
    sweep.get("questionnaire-edit", f"/questionnaires/{quiz}/edit/")
    sweep.get("questionnaire-delete", f"/questionnaires/{quiz}/delete/")
    sweep.get("question-new", f"/questionnaires/{quiz}/questions/new/")
    sweep.get("question-edit", f"/questionnaires/{quiz}/questions/{question}/edit/")
    sweep.get("question-delete", f"/questionnaires/{quiz}/questions/{question}/delete/")
    sweep.get("questionnaire-invite", f"/questionnaires/{quiz}/invite/")
    sweep.page.locator("[data-pick=groups] input[type=checkbox]").first.check()
    sweep.page.get_by_label("Emails or mobile numbers").fill("new.person.with.a.long.address@example.com")
    sweep.click("button", "Review")
    sweep.page.locator("[data-summary]").wait_for()
    sweep.check("questionnaire-invite-review")
    base = f"/questionnaires/{quiz}/invitations/{assignment}/"
    sweep.get("assignment", base)
    sweep.get("assignment-add", f"{base}add/")
    sweep.page.get_by_label("Emails or mobile numbers").fill("one.more.person@example.com")
    sweep.click("button", "Review")
    sweep.page.locator("[data-summary]").wait_for()
    sweep.check("assignment-add-review")
    sweep.get("assignment-remove", f"{base}people/{place}/remove/")
    # Results.
    sweep.get("results", "/results/")
    sweep.get("results-questionnaire", f"/results/questionnaires/{quiz}/")
    sweep.get("results-user", f"/results/users/{person}/")
    sweep.get("results-contact", f"/results/contacts/{contact}/")
    # A user's assessment link opened by someone else (the administrator, signed in).
    sweep.get("a-someone-else", f"/a/{world['someone_elses_link']}/", status=403)
    sweep.get("password-change", "/password/change/")


def own_space_pages(sweep, world):
    """The administrator's own space: what they are invited to and may take, and taking it."""
    sweep.get("me", "/me/")
    sweep.page.locator(f"[data-questionnaire='{world['questionnaire'].pk}'] button").click()
    sweep.page.get_by_role("heading", name="Question 1 of 3").wait_for()
    sweep.check("me-attempt-question")
    for number in (1, 2, 3):
        sweep.page.get_by_role("heading", name=f"Question {number} of 3").wait_for()
        sweep.page.get_by_label(f"Wrong {number}", exact=True).check()
        sweep.click("button", "Next" if number < 3 else "Save and review", exact=True)
    sweep.page.get_by_role("heading", name="Review your answers").wait_for()
    sweep.check("me-attempt-review")
    sweep.click("button", "Submit my answers")
    sweep.page.get_by_role("heading", name="Your score").wait_for()
    sweep.check("me-attempt-result")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_page_fits_the_window_and_passes_axe(browser, world, tenant_url, screenshot, settings, tmp_path, size):
    context = browser.new_context(viewport=VIEWPORTS[size], is_mobile=size == "phone", has_touch=size == "phone")
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = watch_policy(page)
    sweep = Sweep(page, size, lambda path: tenant_url(world["org"], path), screenshot)
    try:
        token_pages(sweep, world, settings)
        context.clear_cookies()
        log_in(page, sweep.url)
        admin_pages(sweep, world, tmp_path)
        own_space_pages(sweep, world)
    finally:
        context.close()
    failing = [f"{name}: {'; '.join(problems)}" for name, problems in sweep.found.items() if problems]
    if blocked:
        failing.append(f"The Content-Security-Policy blocked: {blocked}")
    missed = set(ACCESS) - sweep.seen - set(NOT_VISITED)
    if missed:
        failing.append(f"Pages neither visited nor named in NOT_VISITED: {sorted(missed)}")
    if visited := set(NOT_VISITED) & sweep.seen:
        failing.append(f"Pages visited, yet named in NOT_VISITED: {sorted(visited)}")
    assert not failing, "\n".join(failing)
