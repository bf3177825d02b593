"""Development tools of the KYC suite: the local source emulator and an SMTP catcher (not in the production wheel)."""
