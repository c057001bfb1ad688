"""Local development: DEBUG on, plain HTTP, a throwaway secret key."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,.localhost,127.0.0.1")

from .base import *  # noqa: E402,F403
