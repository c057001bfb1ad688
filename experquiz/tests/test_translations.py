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
