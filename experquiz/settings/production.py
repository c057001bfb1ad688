"""Production: every secret comes from the environment, with no default."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
