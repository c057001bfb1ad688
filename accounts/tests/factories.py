"""Factories whose sub-factories keep every object in the same organisation."""

import factory

from accounts.models import Contact, Organization, User, UserType
from groups.models import Membership, UserGroup

PASSWORD = "correct-horse-battery"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org{n}")
    phone_region = "FR"


class UserTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserType

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Type {n}")


class UserFactory(factory.django.DjangoModelFactory):
    """An active user with the password PASSWORD. Test data: real code changes status via services."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    status = User.Status.ACTIVE
    language = "en"

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class AdministratorFactory(UserFactory):
    is_administrator = True


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.org")


class UserGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserGroup

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    group = factory.SubFactory(UserGroupFactory)
    organization = factory.SelfAttribute("group.organization")
    user = factory.SubFactory(UserFactory, organization=factory.SelfAttribute("..group.organization"))
