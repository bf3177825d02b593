"""Cases: decisions as stored, four-eyes human review, and the case file a regulator can read."""
