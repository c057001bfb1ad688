"""Production: every secret comes from the environment, with no default."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Platform staff see every tenant: their admin needs a second factor (README, "Platform staff").
PLATFORM_ADMIN_OTP = env.bool("PLATFORM_ADMIN_OTP", default=True)
