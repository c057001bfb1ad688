from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from experquiz.parsing import parse_id
from rights.names import Right
from rights.selectors import NO_SCOPE, Scope, actor_scope, groups_in_scope, profiles_for


class ScopedChoicesField(forms.ModelMultipleChoiceField):
    """A multiple choice among a scoped queryset that refuses malformed ids before querying.

    SQLite raises OverflowError (a 500) for an id beyond 64 bits instead of finding nothing.
    """

    def _check_values(self, value):
        for pk in value:
            if parse_id(pk) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label=_("Search people"), max_length=100, required=False)


class PeopleChoiceField(ScopedChoicesField):
    def label_from_instance(self, user):
        return f"{user} · {user.login_id}"


class PickPeopleForm(forms.Form):
    """Pick people among `queryset` (already scoped by the caller): an id outside it is a form error."""

    users = PeopleChoiceField(
        label=_("People"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Select at least one person."),
            "invalid_choice": _("Select people from the list."),
            "invalid_pk_value": _("Select people from the list."),
        },
    )

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = queryset


class MembershipGridForm(forms.Form):
    """The grid's save: the rows and columns shown, and the checked (user, group) cells."""

    rows = ScopedChoicesField(queryset=None, required=False)
    cols = ScopedChoicesField(queryset=None)

    def __init__(self, *args, users, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rows"].queryset = users
        self.fields["cols"].queryset = groups

    def clean(self):
        data = super().clean()
        rows, cols = data.get("rows"), data.get("cols")
        if rows is None or cols is None:
            return data
        row_ids, col_ids = {u.pk for u in rows}, {g.pk for g in cols}
        pairs = set()
        # Checked cells are "user_id:group_id" strings; each must be a cell of the grid shown.
        for cell in self.data.getlist("member"):
            try:
                user_id, group_id = (int(part) for part in cell.split(":"))
            except ValueError:
                raise ValidationError(_("The grid was changed in an unexpected way; reload the page.")) from None
            if user_id not in row_ids or group_id not in col_ids:
                raise ValidationError(_("The grid was changed in an unexpected way; reload the page."))
            pairs.add((user_id, group_id))
        data["pairs"] = pairs
        return data


SCOPE_NONE, SCOPE_GROUPS, SCOPE_ALL = "none", "groups", "all"


class ScopedRightsMixin:
    """Two fields per scoped right: over whom (nobody, some groups, everyone) and which groups.

    Only the groups in the actor's own scope for that right are offered, and "everyone" only when
    the actor holds the right over everyone: an id outside them is a form error.
    """

    def add_rights_fields(self, actor, initial: dict[str, Scope]):
        self.rights = list(Right)
        for right in self.rights:
            held = actor_scope(actor, right)
            choices = [(SCOPE_NONE, _("No")), (SCOPE_GROUPS, _("For the users of these groups"))]
            if held.all_users:
                choices.append((SCOPE_ALL, _("For all users")))
            current = initial.get(right.value, NO_SCOPE)
            self.fields[f"{right.value}_scope"] = forms.ChoiceField(
                label=right.label,
                choices=choices,
                required=False,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                initial=SCOPE_ALL if current.all_users else SCOPE_GROUPS if current.group_ids else SCOPE_NONE,
            )
            self.fields[f"{right.value}_groups"] = ScopedChoicesField(
                label=_("Groups for “%(right)s”") % {"right": right.label},
                queryset=groups_in_scope(actor, right),
                required=False,
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
                initial=sorted(current.group_ids),
            )

    def rights_rows(self):
        """(right, scope field, groups field) for the template."""
        return [(right, self[f"{right.value}_scope"], self[f"{right.value}_groups"]) for right in self.rights]

    def clean_rights(self, data):
        grants = {}
        for right in self.rights:
            how = data.get(f"{right.value}_scope")
            groups = data.get(f"{right.value}_groups") or []
            if how == SCOPE_ALL:
                grants[right.value] = Scope(all_users=True)
            elif how == SCOPE_GROUPS:
                if not groups:
                    self.add_error(f"{right.value}_groups", _("Choose at least one group."))
                grants[right.value] = Scope(group_ids=frozenset(group.pk for group in groups))
        data["grants"] = grants
        return data


class UserRightsForm(ScopedRightsMixin, forms.Form):
    is_administrator = forms.BooleanField(
        label=_("Administrator"),
        required=False,
        help_text=_("Can do everything in the organisation, including granting rights."),
    )
    profiles = ScopedChoicesField(
        label=_("Rights profiles"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, actor, user, personal: dict[str, Scope], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["is_administrator"].initial = user.is_administrator
        self.fields["profiles"].queryset = profiles_for(actor)
        self.fields["profiles"].initial = [profile.pk for profile in user.rights_profiles.all()]
        self.add_rights_fields(actor, personal)

    def clean(self):
        return self.clean_rights(super().clean())


class ProfileForm(ScopedRightsMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, actor, grants: dict[str, Scope], **kwargs):
        super().__init__(*args, **kwargs)
        self.add_rights_fields(actor, grants)

    def clean(self):
        return self.clean_rights(super().clean())
