"""Who may do what: identity and roles, sign-in and tokens, password strength, guessing
protection, revocation, the audit log."""
