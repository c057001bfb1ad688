"""Forms of the rights pages: a right's scope is chosen among the actor's own."""

from django import forms
from django.utils.translation import gettext_lazy as _

from rights.names import Right
from rights.selectors import NO_SCOPE, Scope, actor_scope, groups_in_scope, profiles_for
from web.groups.forms import ScopedChoicesField

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

    def profile(self) -> dict:
        """What the profile services take: its name, description and grants."""
        return {name: self.cleaned_data[name] for name in ("name", "description", "grants")}
