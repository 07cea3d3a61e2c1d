"""Who acts: accounts, roles, passwords and sign-in throttling."""
