from django.db.models import Q

from experquiz.tenancy import OrgQuerySet


class UserQuerySet(OrgQuerySet):
    def active(self):
        return self.filter(status=self.model.Status.ACTIVE)

    def awaiting_invitation(self):
        """Users nobody has invited yet or who have not accepted their invitation (User.AWAITING_INVITATION)."""
        return self.filter(status__in=self.model.AWAITING_INVITATION)

    def not_deleted(self):
        return self.exclude(status=self.model.Status.DELETED)

    def administrators(self):
        return self.filter(is_administrator=True)

    def search(self, q: str, region: str = "FR", *, word: str = "", organization=None):
        """Users whose name, email, mobile or employee number contain every word of `q`
        (case- and accent-insensitive; a phone number typed in any format matches).

        `word`: the one known word of `organization` that contains the query's word term
        (accounts.search.word_term, on a database that keeps them): that term's matches are read
        from that word's people (SearchWord, one row per person), the other terms in the text."""
        from .search import search_terms, word_term

        terms = search_terms(q, region)
        served = word_term(terms) if word else ""
        qs = self
        if served:
            qs = qs.filter(search_words__organization=organization, search_words__word=word)
        for term in terms:
            if term != served:
                qs = qs.filter(search_text__contains=term)
        return qs

    def in_groups(self, group_ids):
        """Users in at least one of these groups (no duplicates: a semi-join, not a join).

        Memberships belong to the groups floor above: they are reached through their relation to
        users (`memberships`), not imported."""
        members = self.model.memberships.rel.related_model.objects.filter(group_id__in=group_ids)
        return self.filter(pk__in=members.values("user_id"))

    def with_login_id(self, *, email: str = "", mobile: str = ""):
        """Users whose email or mobile is one of these (already normalised) login IDs."""
        condition = Q(pk__in=[])
        if email:
            condition |= Q(email=email)
        if mobile:
            condition |= Q(mobile=mobile)
        return self.filter(condition)


class ContactQuerySet(OrgQuerySet):
    def search(self, q: str, region: str = "FR"):
        from .search import search_terms

        qs = self
        for term in search_terms(q, region):
            qs = qs.filter(search_text__contains=term)
        return qs
