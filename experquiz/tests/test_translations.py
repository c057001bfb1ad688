"""French ships beside English: every string in the catalogue is translated and the catalogue compiles."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def entries():
    for block in CATALOGUE.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        yield lines


def _strings(lines, keyword):
    """The concatenated text of every `keyword` (msgid, msgstr, msgstr[n]) in one entry."""
    texts, current = [], None
    for line in lines:
        match = re.match(rf'^({keyword}(?:\[\d+\])?) "(.*)"$', line)
        if match:
            current = [match.group(2)]
            texts.append(current)
        elif line.startswith('"') and current is not None:
            current.append(line[1:-1])
        else:
            current = None if not line.startswith('"') else current
    return ["".join(parts) for parts in texts]


def test_every_string_has_a_french_translation():
    untranslated = []
    for lines in entries():
        msgid = _strings(lines, "msgid")[0]
        if not msgid:
            continue  # the header
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        if fuzzy or not all(_strings(lines, "msgstr")):
            untranslated.append(msgid)
    assert not untranslated, f"{len(untranslated)} strings lack French (make messages): {untranslated[:10]}"


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="GNU gettext (msgfmt) is not installed")
def test_the_catalogue_compiles_with_matching_placeholders():
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(CATALOGUE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_compiled_catalogue_holds_every_string():
    import gettext

    with CATALOGUE.with_suffix(".mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)._catalog
    compiled_ids = {key[0] if isinstance(key, tuple) else key for key in catalog}
    missing = []
    for lines in entries():
        msgid = _strings(lines, "msgid")[0].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        context = _strings(lines, "msgctxt")
        if context:
            msgid = f"{context[0]}\x04{msgid}"
        if msgid and msgid not in compiled_ids:
            missing.append(msgid)
    assert not missing, f"django.mo is stale (make messages): {missing[:5]}"


# The names xgettext reads in Python code when `makemessages` runs: its own defaults and the keywords
# Django adds. A translation function imported under any other name (`gettext_lazy as _lazy`) marks
# strings that `make messages` does not see, and drops from the catalogue.
EXTRACTED_NAMES = {
    "_", "gettext", "ngettext", "dgettext", "dngettext", "gettext_noop", "gettext_lazy",
    "ngettext_lazy", "pgettext", "npgettext", "pgettext_lazy", "npgettext_lazy",
}  # fmt: skip


def test_translation_functions_keep_names_makemessages_extracts():
    import ast

    from experquiz.tests.codebase import product_modules

    renamed = [
        f"{module}: {alias.name} as {alias.asname}"
        for module, tree in product_modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation"
        for alias in node.names
        if alias.asname and alias.asname not in EXTRACTED_NAMES
    ]
    assert not renamed, f"strings marked through these names never reach the catalogue: {renamed}"


def _msgids(catalogue: Path) -> set[tuple[str, str]]:
    found = set()
    for lines in entries_of(catalogue):
        context = _strings(lines, "msgctxt")
        msgid = _strings(lines, "msgid")[0]
        if msgid:
            found.add((context[0] if context else "", msgid))
    return found


def entries_of(catalogue: Path):
    for block in catalogue.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if any(line.startswith("msgid ") for line in lines):
            yield lines


@pytest.mark.skipif(not shutil.which("xgettext"), reason="GNU gettext (xgettext) is not installed")
def test_every_string_the_code_marks_is_in_the_catalogue(tmp_path, monkeypatch, settings):
    """What `make messages` would extract today, on a copy of the catalogue: a string marked in the
    code but missing from the catalogue ships in English to French readers."""
    from django.core.management import call_command

    root = CATALOGUE.parents[3]
    for entry in root.iterdir():
        if entry.name not in {"locale", ".venv", ".git", "staticfiles", "test-results", "node_modules"}:
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copytree(root / "locale", tmp_path / "locale")
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command(
        "makemessages", locale=["fr"], extensions=["html", "txt", "py", "jinja"], symlinks=True,
        ignore_patterns=[".venv", "staticfiles", "bench", "e2e", "*/tests/*"], verbosity=0,
    )  # fmt: skip
    missing = _msgids(tmp_path / "locale" / "fr" / "LC_MESSAGES" / "django.po") - _msgids(CATALOGUE)
    assert not missing, f"marked for translation but missing from the French catalogue: {sorted(missing)}"
