"""Small helpers for the views of any area (they know no app)."""

from django.conf import settings


def use_language(response, language: str):
    """Show the product in the user's own language from now on (after logging in)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.HTTPS,
    )
    return response
