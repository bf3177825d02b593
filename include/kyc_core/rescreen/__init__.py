"""Keeping the sanctions lists current and screening what changed against the whole customer base.

`sources` says where each list is downloaded from, `refresh` downloads, validates, stores and
activates one list, `parties` turns the KYC database into the screened side (customers, officers,
beneficial owners), and `delta` screens the added and changed entries of new list versions.
"""
