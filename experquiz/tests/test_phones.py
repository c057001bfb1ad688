"""`phones.read` gives, from one parse, what `to_e164` and the search's second reading of the stored
number gave: an import parses each mobile of its file once (issue 12)."""

import random

import phonenumbers
import pytest

from accounts.search import phone_variants, search_text_for
from experquiz import phones

REGIONS = ["FR", "BE", "CH", "IT", "DE", "GB", "ES", "US", "CA", "MA", "SN", "BR", "MX", "AR"]


def typed_numbers(seed: int, count: int):
    """Mobile numbers of many regions, typed the ways people type them (with an extension too)."""
    rng = random.Random(seed)
    for _ in range(count):
        region = rng.choice(REGIONS)
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        digits = list(str(example.national_number))
        digits[3:] = [str(rng.randrange(10)) for _ in digits[3:]]
        national = "".join(digits)
        code = example.country_code
        for typed in (national, f"0{national}", f"+{code} {national}", f"00{code}{national}", f"{national} ext. 12"):
            yield typed, region


def test_one_reading_gives_the_stored_number_and_the_digits_the_search_matches():
    read = 0
    for typed, region in typed_numbers(seed=12, count=2000):
        try:
            e164, national = phones.read(typed, region)
        except phones.InvalidPhoneNumber:
            with pytest.raises(phones.InvalidPhoneNumber):
                phones.to_e164(typed, region)
            continue
        read += 1
        assert e164 == phones.to_e164(typed, region), typed
        assert [e164[1:], national] == phone_variants(e164), (typed, region)
        assert search_text_for(last_name="Lefèvre", mobile=e164, national=national) == search_text_for(
            last_name="Lefèvre", mobile=e164
        )
    assert read > 5000  # most typed numbers are valid: the comparison ran


def test_a_number_that_is_not_one_is_refused_by_both():
    for typed in ("12", "06 12", "+99 123", "hello"):
        with pytest.raises(phones.InvalidPhoneNumber):
            phones.read(typed, "FR")
