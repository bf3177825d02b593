"""Source SLA and cost monitoring: windows over the call ledger, status, incidents, alerts, budgets."""
