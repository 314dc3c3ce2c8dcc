"""Template context: the signed-in user's roles, so the navigation shows only what they may use."""

from alllab.accounts.selectors import user_roles


def roles(request) -> dict:
    """``user_roles`` (a set of role names) for the templates; empty for anonymous users."""
    user = getattr(request, "user", None)
    if user is None:
        return {"user_roles": set()}
    return {"user_roles": user_roles(user=user)}
