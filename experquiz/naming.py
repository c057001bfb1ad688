"""The names an organisation gives its own things (user types, groups, rights profiles): one rule.

Two names are the same name when they differ only by case or accents, or by spaces around them:
“Équipe”, “equipe” and “ ÉQUIPE ” clash. Each such model inherits `NamedInOrganization`, which keeps the folded form
of its name in `name_key` (filled on every save and bulk creation), and declares a unique
constraint on (organization, name_key): the database holds the rule even for two requests racing
each other. Services save through `named_save`, which checks first for a clear message and turns
the database's refusal in a race into that same message.
"""

import unicodedata

from django.db import IntegrityError, migrations, models, transaction
from django.utils.translation import gettext as _

from .errors import InvalidFields
from .tenancy import OrgQuerySet

NAME_KEY_MAX = 300


def fold(text: str) -> str:
    """'Élodie O’Neil' → 'elodie o'neil': case- and accent-insensitive comparisons."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("’", "'").casefold()


def name_key(name: str) -> str:
    """The form under which two names are the same: stripped and folded (case and accents)."""
    return fold((name or "").strip())[:NAME_KEY_MAX]


class NameTaken(InvalidFields):
    """Another thing of the same kind in the organisation already has this name (field `name`)."""

    def __init__(self, name: str):
        super().__init__(
            {"name": [_("The name “%(name)s” is already used (names ignore case and accents).") % {"name": name}]}
        )


class NamedQuerySet(OrgQuerySet):
    """Keeps `name_key` right where save() is skipped: bulk creation and update(name=…)."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.name_key = name_key(obj.name)
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        if isinstance(kwargs.get("name"), str):
            kwargs["name_key"] = name_key(kwargs["name"])
        return super().update(**kwargs)


class NamedInOrganization(models.Model):
    """A thing named by its organisation; the concrete model declares `organization`, `name` and
    `UniqueConstraint(fields=["organization", "name_key"], …)`."""

    name_key = models.CharField(max_length=NAME_KEY_MAX, editable=False, default="")

    objects = NamedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.name_key = name_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)


def name_check_free(instance: NamedInOrganization) -> None:
    """Raise NameTaken if another row of the same model and organisation has the same name."""
    others = type(instance).objects.filter(organization_id=instance.organization_id, name_key=name_key(instance.name))
    if instance.pk:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        raise NameTaken(instance.name)


def named_save(instance: NamedInOrganization) -> None:
    """Validate and save a named thing (its name stripped); a name already used is NameTaken, even
    when another request saved it a moment ago (the unique constraint refuses, in a savepoint that
    keeps the caller's transaction usable, and the check sees the winner)."""
    instance.name = (instance.name or "").strip()
    name_check_free(instance)
    instance.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        name_check_free(instance)
        raise


def fill_name_keys(model) -> None:
    """For a data migration adding `name_key` to `model` (a historical model): fill it in and make
    the names that now clash distinct, so the unique constraint can be added.

    Names that differed only by accents (“Équipe” and “Equipe”) were allowed before; the later of
    each clash gets a number (“Equipe (2)”), which its organisation can rename.
    """
    max_length = model._meta.get_field("name").max_length
    taken = set()
    for row in model.objects.order_by("organization_id", "pk"):
        key, name, number = name_key(row.name), row.name, 1
        while (row.organization_id, key) in taken:
            number += 1
            suffix = f" ({number})"
            name = row.name[: max_length - len(suffix)] + suffix
            key = name_key(name)
        taken.add((row.organization_id, key))
        row.name, row.name_key = name, key
        row.save(update_fields=["name", "name_key"])


def name_key_operations(app_label: str, model_name: str, *, old_constraint: str, new_constraint: str) -> list:
    """The migration that moves a model onto this rule: add `name_key`, fill it (fill_name_keys), and
    replace the case-only unique index on LOWER(name) by the unique (organization, name_key)."""

    def fill(apps, schema_editor):
        fill_name_keys(apps.get_model(app_label, model_name))

    return [
        migrations.AddField(
            model_name=model_name.lower(),
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=NAME_KEY_MAX),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name=model_name.lower(), name=old_constraint),
        migrations.AddConstraint(
            model_name=model_name.lower(),
            constraint=models.UniqueConstraint(fields=("organization", "name_key"), name=new_constraint),
        ),
    ]
