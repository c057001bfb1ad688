"""Reading the project's own code, for tests that keep a rule over every caller of something."""

import ast
from pathlib import Path

from django.conf import settings

NOT_PRODUCT = {"e2e", "bench"}


def product_modules():
    """(module name, parsed tree) of every module of the product: the apps' packages, without their
    tests and migrations (and without any virtualenv or tool folder beside them)."""
    root = Path(settings.BASE_DIR)
    for package in sorted(root.iterdir()):
        if package.name in NOT_PRODUCT or not (package / "__init__.py").exists():
            continue
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(root).parts
            if "tests" in parts or "migrations" in parts:
                continue
            yield ".".join(path.relative_to(root).with_suffix("").parts), ast.parse(path.read_text())
