"""Sanctions lists: parsers for every official format, one normalized entry model, versions and deltas.

`sources` says where each list is downloaded from, `download` fetches a file through the resilience
guard, `refresh` downloads, validates, stores and activates one list, `versions` keeps versions and deltas.
"""
