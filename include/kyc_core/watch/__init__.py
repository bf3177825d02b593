"""The register watch: BODACC notices and Sirene/RNE changes for the monitored book, stored as flagged events."""
