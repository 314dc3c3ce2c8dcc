"""Labs, memberships and roles: who may see and do what."""
