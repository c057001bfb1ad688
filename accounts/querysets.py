from django.db.models import Q

from experquiz.tenancy import OrgQuerySet


class UserQuerySet(OrgQuerySet):
    def with_status(self, *statuses):
        return self.filter(status__in=statuses)

    def active(self):
        return self.filter(status=self.model.Status.ACTIVE)

    def not_deleted(self):
        return self.exclude(status=self.model.Status.DELETED)

    def administrators(self):
        return self.filter(is_administrator=True)

    def with_login_id(self, *, email: str = "", mobile: str = ""):
        """Users whose email or mobile is one of these (already normalised) login IDs."""
        condition = Q(pk__in=[])
        if email:
            condition |= Q(email=email)
        if mobile:
            condition |= Q(mobile=mobile)
        return self.filter(condition)


class ContactQuerySet(OrgQuerySet):
    def not_converted(self):
        return self.filter(converted_to__isnull=True)
