"""`python -m kyc_core.cli` is the `kyc` command."""

from kyc_core.cli import main

raise SystemExit(main())
