"""The search words' row triggers look each word up by its whole key, one statement per word.

PL/pgSQL plans a trigger's statements once per session and may keep a generic plan, made without
the values. Migration 0015's statements named a person's words as a set (`word = ANY (…)`, and a
`NOT EXISTS` join with the known words). On word tables never analysed and full of dead rows (as
where autovacuum is off), their plans read every word of the organisation for each person: 2.6 ms
for the known words and 7 ms for the search words a person, 30 s to 60 s in the database for an
import that renamed 10,000 people. A statement that gives every column of a key (a search word, a
known word) is planned as a lookup of the key's index. Measured once replaced, on analysed tables:
2,000 people of a 100,000-person organisation renamed in one statement, 155–180 ms against 344–680 ms
(plans generic or chosen by PostgreSQL). The functions are replaced in place: no table is locked.
"""

import importlib

from django.db import migrations

BY_KEY = """
CREATE OR REPLACE FUNCTION accounts_user_words_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    words text[] := accounts_search_words(NEW.search_text);
    word_ text;
    learned boolean := false;
BEGIN
    -- Every statement below gives the whole key of the row it reads or deletes (see migration 0017).
    IF OLD.organization_id IS NOT NULL THEN
        FOREACH word_ IN ARRAY accounts_search_words(OLD.search_text) LOOP
            DELETE FROM accounts_searchword
                WHERE organization_id = OLD.organization_id AND word = word_
                  AND last_name = OLD.last_name AND first_name = OLD.first_name AND user_id = OLD.id;
        END LOOP;
    END IF;
    IF NEW.organization_id IS NOT NULL THEN
        INSERT INTO accounts_searchword (organization_id, word, last_name, first_name, user_id)
            SELECT NEW.organization_id, new_word, NEW.last_name, NEW.first_name, NEW.id FROM unnest(words) AS new_word;
        FOREACH word_ IN ARRAY words LOOP
            IF NOT EXISTS (
                SELECT 1 FROM accounts_knownword WHERE organization_id = NEW.organization_id AND word = word_
            ) THEN
                INSERT INTO accounts_knownword (organization_id, word) VALUES (NEW.organization_id, word_);
                learned := true;
            END IF;
        END LOOP;
        IF learned THEN
            INSERT INTO accounts_peoplechange (organization_id) VALUES (NEW.organization_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION accounts_user_words_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone record;
    word_ text;
BEGIN
    -- One DELETE by the whole key per word of each person (see migration 0017): PostgreSQL knows
    -- nothing of a transition table's size, and a join with it was planned as a scan of every word
    -- for each person (minutes for 10,000).
    FOR gone IN SELECT organization_id, search_text, last_name, first_name, id FROM removed
                WHERE organization_id IS NOT NULL LOOP
        FOREACH word_ IN ARRAY accounts_search_words(gone.search_text) LOOP
            DELETE FROM accounts_searchword
                WHERE organization_id = gone.organization_id AND word = word_
                  AND last_name = gone.last_name AND first_name = gone.first_name AND user_id = gone.id;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;
"""


def _functions_of_0015(*names) -> str:
    """Migration 0015's definitions of the functions `names`, as replacements: what going back restores."""
    sql = importlib.import_module("accounts.migrations.0015_search_words").POSTGRESQL
    definitions = []
    for name in names:
        start = sql.index(f"CREATE FUNCTION {name}()")
        definition = sql[start : sql.index("$$;", start) + len("$$;")]
        definitions.append(definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    return "\n\n".join(definitions)


def by_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BY_KEY)


def back(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_functions_of_0015("accounts_user_words_changed", "accounts_user_words_removed"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0016_typed_page_indexes"),
    ]

    operations = [
        migrations.RunPython(by_key, back),
    ]
