"""Phone numbers to the last 10 digits of the national number (how the shop's SQL keys them)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

DEFAULT_REGION = "RU"


@dataclass(frozen=True, slots=True)
class Phone:
    national: str  # the national significant number, digits only (10 for Russia)
    extension: str | None = None

    @property
    def last10(self) -> str:
        return self.national[-10:]


def parse_phone(text: str, region: str | None = DEFAULT_REGION) -> Phone | None:
    """Parse a phone as written anywhere (``8 (423) 202-25-11 доб. 100``, ``tel:+7…;ext=1``).

    ``region`` is the country assumed for numbers without ``+``; ``None`` means such
    numbers are rejected. Numbers that cannot be a phone (too short or too long) give
    ``None``; numbers that are possible but not assigned are kept, because a PBX may
    pass internal or new ranges.
    """
    number = _parse(text, region)
    if number is None or not phonenumbers.is_possible_number(number):
        return None
    national = str(phonenumbers.national_significant_number(number))
    if number.country_code == 7 and national.startswith("0"):
        # +7 numbers never start with 0: the «8» taken for a trunk prefix was a digit
        # of an over-long number («+7 (800) 55-35-35-55»).
        return None
    return Phone(national=national, extension=number.extension or None)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        pass
    # A number inside a sentence: «The phone number is: 8 (800) 555 35 35. Some text.»
    leniency = phonenumbers.Leniency.POSSIBLE
    for match in phonenumbers.PhoneNumberMatcher(text, region or "ZZ", leniency=leniency):
        return match.number
    return None


def normalize_phone(text: str, region: str | None = DEFAULT_REGION) -> str | None:
    """The last 10 digits of the national number, or ``None`` if ``text`` is no phone.

    A national number shorter than 10 digits (a 7-digit city number without its code, an
    internal extension) gives ``None`` as well: the shop's key is exactly ten digits
    (``connectors.shop.phone``), so such a caller is an unknown caller, not a failed look-up.
    """
    phone = parse_phone(text, region)
    if phone is None or len(phone.national) < 10:
        return None
    return phone.last10
