"""The benchmarks' own PostgreSQL database, created when missing."""

import os
import sys


def ensure_database(url: str = "") -> None:
    """Create the database of `url` (default: DATABASE_URL) if it does not exist yet (PostgreSQL only)."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(url or os.environ.get("DATABASE_URL", ""))
    if "postgresql" not in config.get("ENGINE", ""):
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    params = {key.lower(): config[key] for key in ("HOST", "PORT", "USER", "PASSWORD") if config.get(key)}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as maintenance:
        if not maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
            maintenance.execute(f'CREATE DATABASE "{config["NAME"]}"')
