"""The 10-digit phone key used by every shop look-up.

The shop database is searched by the last 10 digits of the caller number (the seed's
``right(o.Phone, 10)``): that drops ``+7`` / ``8`` / ``7`` prefixes. The key is always bound
as an SQL parameter; :func:`validate_phone10` is defence in depth on top of that, so no
string that is not exactly ten ASCII digits ever reaches a query.
"""

from __future__ import annotations

import re

_PHONE10 = re.compile(r"[0-9]{10}")


def validate_phone10(phone: str) -> str:
    """Return ``phone`` unchanged if it is exactly ten ASCII digits, else raise ValueError.

    The error message does not repeat the value: phone numbers are personal data.
    """
    if not isinstance(phone, str) or _PHONE10.fullmatch(phone) is None:
        raise ValueError("phone key must be exactly 10 ASCII digits")
    return phone


def phone10(raw: str) -> str | None:
    """Last ten digits of a caller number as the PBX gave it, or None if it has fewer.

    Every non-digit character (``+``, spaces, dashes, quotes, ...) is dropped first, so the
    result can only ever contain the characters ``0``-``9``.

    >>> phone10("+7 (960) 777-55-77")
    '9607775577'
    >>> phone10("100") is None
    True
    """
    digits = "".join(ch for ch in raw if "0" <= ch <= "9")
    if len(digits) < 10:
        return None
    return digits[-10:]
