from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from assessments.interchange import MAX_FILE_BYTES
from assessments.models import MAX_TIME_LIMIT_MINUTES, Choice, Question, Questionnaire
from assessments.services import MAX_CHOICES, ChoiceSpec
from web.groups.forms import ScopedChoicesField

Visibility = Questionnaire.Visibility
# Empty choice rows under the filled ones, so that a question can grow without JavaScript; with it,
# "Add a choice" shows more (static/assessments/question_form.js).
SPARE_ROWS = 2
MIN_ROWS = 4


class GroupsField(ScopedChoicesField):
    widget = forms.CheckboxSelectMultiple


class QuestionnaireForm(forms.Form):
    """A questionnaire's settings. `groups`: the groups the actor may choose (their scope)."""

    title = forms.CharField(label=_("Title"), max_length=Questionnaire._meta.get_field("title").max_length)
    kind = forms.ChoiceField(label=_("Kind"), choices=Questionnaire.Kind.choices)
    instructions = forms.CharField(
        label=_("Instructions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown before the first question."),
    )
    time_limit_minutes = forms.IntegerField(
        label=_("Time limit (minutes)"),
        required=False,
        min_value=1,
        max_value=MAX_TIME_LIMIT_MINUTES,
        help_text=_("Leave empty for no time limit."),
    )
    visibility = forms.ChoiceField(
        label=_("Who may take it freely"),
        choices=Visibility.choices,
        widget=forms.RadioSelect,
        help_text=_("People can always be invited to it, whatever its visibility."),
    )
    groups = GroupsField(
        label=_("Groups"),
        queryset=None,
        required=False,
        help_text=_("With “Chosen groups”: their members see it in their space."),
        error_messages={
            "invalid_choice": _("Choose groups from the list."),
            "invalid_pk_value": _("Choose groups from the list."),
        },
    )

    def __init__(self, *args, groups, may_show_to_all: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = groups.order_by("name")
        if not may_show_to_all:
            # A group-scoped holder shows questionnaires to their own groups only (the service
            # refuses the rest): the choice is not offered, unless it is already the questionnaire's.
            current = self.initial.get("visibility")
            self.fields["visibility"].choices = [
                (value, label) for value, label in Visibility.choices if value != Visibility.ALL or current == value
            ]

    def clean(self):
        data = super().clean()
        if data.get("visibility") == Visibility.GROUPS and not data.get("groups") and "groups" not in self.errors:
            self.add_error("groups", _("Choose at least one group, or another visibility."))
        return data


class QuestionForm(forms.Form):
    """A question and its choices: one row per choice (its text, and whether it is correct).

    Rows left empty are dropped; at least two choices and one correct one are needed.
    """

    text = forms.CharField(
        label=_("Question"),
        max_length=Question._meta.get_field("text").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, question=None, **kwargs):
        existing = list(question.choices.all()) if question is not None else []
        initial = kwargs.setdefault("initial", {})
        if question is not None:
            initial.setdefault("text", question.text)
        for number, choice in enumerate(existing, start=1):
            initial[f"choice_{number}"] = choice.text
            initial[f"correct_{number}"] = choice.is_correct
        super().__init__(*args, **kwargs)
        # As many rows as the question has (or was posted with), plus spare ones, up to the maximum.
        posted = max((self._posted_rows(), len(existing)))
        self.visible_rows = min(MAX_CHOICES, max(MIN_ROWS, posted + SPARE_ROWS))
        for number in range(1, MAX_CHOICES + 1):
            self.fields[f"choice_{number}"] = forms.CharField(
                label=_("Choice %(number)s") % {"number": number},
                max_length=Choice._meta.get_field("text").max_length,
                required=False,
            )
            self.fields[f"correct_{number}"] = forms.BooleanField(
                label=_("Choice %(number)s is correct") % {"number": number}, required=False
            )

    def _posted_rows(self) -> int:
        if not self.is_bound:
            return 0
        filled = [n for n in range(1, MAX_CHOICES + 1) if (self.data.get(f"choice_{n}") or "").strip()]
        return max(filled, default=0)

    def rows(self):
        """(number, text field, correct field, shown) for the template."""
        return [
            (number, self[f"choice_{number}"], self[f"correct_{number}"], number <= self.visible_rows)
            for number in range(1, MAX_CHOICES + 1)
        ]

    def clean(self):
        data = super().clean()
        rows = [
            ChoiceSpec((data.get(f"choice_{n}") or "").strip(), bool(data.get(f"correct_{n}")))
            for n in range(1, MAX_CHOICES + 1)
        ]
        ticked_empty = [n for n, row in enumerate(rows, start=1) if row.is_correct and not row.text]
        if ticked_empty:
            raise ValidationError(
                _("Choice %(number)s is marked correct but has no text.") % {"number": ticked_empty[0]}
            )
        choices = [row for row in rows if row.text]
        if len(choices) < 2:
            raise ValidationError(_("A question needs at least two choices."))
        if not any(row.is_correct for row in choices):
            raise ValidationError(_("Mark at least one choice as correct."))
        data["choices"] = choices
        return data


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Questionnaire file (JSON)"),
        help_text=_("At most %(mb)s MB.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)},
    )
    publish = forms.BooleanField(label=_("Publish it once imported"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(_("The file is larger than %(mb)s MB.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)})
        return upload


class AnswerForm(forms.Form):
    """One question as the person taking it sees it: one choice (radio buttons) when the question has
    one correct choice, any number (checkboxes) when it has several."""

    def __init__(self, *args, question, several: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(choice.pk, choice.text) for choice in question.choices.all()]
        if several:
            field = forms.TypedMultipleChoiceField(
                coerce=int,
                choices=choices,
                required=False,
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
            )
        else:
            field = forms.TypedChoiceField(
                coerce=int,
                choices=choices,
                required=False,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                empty_value=None,
            )
        field.label = question.text
        field.error_messages["invalid_choice"] = _("Choose among the choices shown.")
        self.fields["choices"] = field

    def chosen(self) -> list[int]:
        value = self.cleaned_data.get("choices")
        if value is None or value == "":
            return []
        return list(value) if isinstance(value, list) else [value]
