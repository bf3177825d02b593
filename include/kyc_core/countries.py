"""Country codes: one place that turns what registers and customers publish into ISO 3166 alpha-2."""

from __future__ import annotations

import pycountry

# RNE publishes some nationalities as French adjectives rather than codes.
_FRENCH_NATIONALITIES = {
    "française": "FR", "francaise": "FR", "allemande": "DE", "belge": "BE", "italienne": "IT", "espagnole": "ES",
    "britannique": "GB", "suisse": "CH", "luxembourgeoise": "LU", "américaine": "US", "americaine": "US",
    "portugaise": "PT", "néerlandaise": "NL", "neerlandaise": "NL",
}


def iso2(value: str | None) -> str | None:
    """ISO 3166 alpha-2 of an alpha-2 or alpha-3 code (the RNE publishes alpha-3), a country name or a
    French nationality adjective; None when unknown."""
    if not value or not value.strip():
        return None
    text = value.strip()
    found = None
    if len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3 and text.isalpha():
        found = pycountry.countries.get(alpha_3=text.upper())
    if found is None:
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            return _FRENCH_NATIONALITIES.get(text.casefold())
    return found.alpha_2
