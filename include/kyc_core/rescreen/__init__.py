"""Screening what changed in the sanctions lists against the whole customer base.

`delta` screens the added and changed entries of new list versions against every customer, officer and
beneficial owner (built by `kyc_core.customers.book`); downloading and activating lists is `kyc_core.lists`.
"""
