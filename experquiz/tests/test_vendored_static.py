"""Bootstrap is kept as its released dist files, so any installer (pip, uv, pip-tools) works."""

import hashlib
import re
from pathlib import Path

from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "static" / "vendor" / "bootstrap"


def manifest():
    """The committed `sha256sum`-style list: one `<hex>  <path>` line per vendored file."""
    lines = (BOOTSTRAP / "SHA256SUMS").read_text().splitlines()
    return dict(reversed(line.split(maxsplit=1)) for line in lines if line.strip())


def test_the_vendored_bootstrap_files_match_their_committed_checksums():
    files = manifest()
    assert {"css/bootstrap.min.css", "js/bootstrap.bundle.min.js", "LICENSE"} <= set(files)
    for name, expected in files.items():
        assert hashlib.sha256((BOOTSTRAP / name).read_bytes()).hexdigest() == expected, name


def test_the_vendored_bootstrap_is_the_pinned_release():
    version = (BOOTSTRAP / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert f"Bootstrap  v{version}" in (BOOTSTRAP / "css" / "bootstrap.min.css").read_text()[:200]
    assert f"Bootstrap v{version}" in (BOOTSTRAP / "js" / "bootstrap.bundle.min.js").read_text()[:200]


def test_the_pages_get_bootstrap_from_the_vendored_files():
    assert Path(finders.find("vendor/bootstrap/css/bootstrap.min.css")) == BOOTSTRAP / "css" / "bootstrap.min.css"
    assert "vendor/bootstrap/js/bootstrap.bundle.min.js" in (ROOT / "templates" / "base.html").read_text()


def test_no_requirement_needs_building_from_an_sdist():
    """XStatic-Bootstrap shipped only an sdist whose setup.py imports pkg_resources (gone from setuptools 81)."""
    requirements = (ROOT / "requirements.txt").read_text().lower()
    assert "xstatic" not in requirements
