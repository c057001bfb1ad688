from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from experquiz.parsing import parse_id


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
