"""The URL roots include every page, so they sit on the top floor (web), which may import them all.

A root on a lower floor would reach up to the pages through dotted-path strings (`include("web…")`),
an upward dependency that import-linter cannot see.
"""

import ast

from django.conf import settings

from experquiz.tests.codebase import product_modules


def test_both_url_roots_are_in_web():
    assert settings.ROOT_URLCONF.split(".")[0] == "web"
    assert settings.PLATFORM_URLCONF.split(".")[0] == "web"


def test_no_lower_floor_includes_urls_by_dotted_path():
    found = []
    for module, tree in product_modules():
        if module.split(".")[0] == "web":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "include"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.append(f"{module}: include({node.args[0].value!r})")
    assert not found, found
