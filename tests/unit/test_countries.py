"""Country codes as registers publish them become ISO 3166 alpha-2."""

import pytest
from kyc_core.countries import iso2


@pytest.mark.parametrize(
    ("value", "expected"),
    [("fr", "FR"), ("FRA", "FR"), ("DEU", "DE"), ("Germany", "DE"), ("Française", "FR"), ("  lu ", "LU"),
     ("XX", None), ("Atlantis", None), ("", None), (None, None)],
)
def test_iso2(value, expected):
    assert iso2(value) == expected
