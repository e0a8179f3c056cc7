"""Search by an index, and the staff list's order as an index.

SQLite: an FTS5 table with the trigram tokenizer over target, title, notes and slug,
kept in step with shortener_link by triggers (external content: the text is not stored
twice). A migration that makes SQLite rebuild shortener_link (most AlterField on it)
drops these triggers with the old table: re-create them after it (the test
tests/test_link_search.py fails until then).

PostgreSQL: pg_trgm GIN indexes on the very expressions Django's icontains compares
(UPPER(column::text)), so today's query uses them unchanged. CREATE EXTENSION needs a
role that may create it (a superuser, or the database's owner on PostgreSQL 13+ since
pg_trgm is a trusted extension).
"""

from django.db import migrations, models

COLUMNS = ("target", "title", "notes", "slug")

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE shortener_link_search USING fts5("
    + ", ".join(COLUMNS)
    + ", content='shortener_link', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER shortener_link_search_insert AFTER INSERT ON shortener_link BEGIN "
    "INSERT INTO shortener_link_search(rowid, target, title, notes, slug) "
    "VALUES (new.id, new.target, new.title, new.notes, new.slug); END",
    "CREATE TRIGGER shortener_link_search_delete AFTER DELETE ON shortener_link BEGIN "
    "INSERT INTO shortener_link_search(shortener_link_search, rowid, target, title, notes, slug) "
    "VALUES ('delete', old.id, old.target, old.title, old.notes, old.slug); END",
    "CREATE TRIGGER shortener_link_search_update AFTER UPDATE OF target, title, notes, slug "
    "ON shortener_link BEGIN "
    "INSERT INTO shortener_link_search(shortener_link_search, rowid, target, title, notes, slug) "
    "VALUES ('delete', old.id, old.target, old.title, old.notes, old.slug); "
    "INSERT INTO shortener_link_search(rowid, target, title, notes, slug) "
    "VALUES (new.id, new.target, new.title, new.notes, new.slug); END",
    "INSERT INTO shortener_link_search(shortener_link_search) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS shortener_link_search_insert",
    "DROP TRIGGER IF EXISTS shortener_link_search_delete",
    "DROP TRIGGER IF EXISTS shortener_link_search_update",
    "DROP TABLE IF EXISTS shortener_link_search",
]
POSTGRESQL_FORWARD = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"] + [
    f"CREATE INDEX IF NOT EXISTS link_search_{column} ON shortener_link "
    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
    for column in COLUMNS
]
# The extension stays: other tables may use it, and it costs nothing unused.
POSTGRESQL_BACKWARD = [f"DROP INDEX IF EXISTS link_search_{column}" for column in COLUMNS]


def run(statements_by_vendor):
    def operation(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("shortener", "0016_reports_quarantine"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="link",
            index=models.Index(
                models.F("created_at").desc(),
                models.F("id").desc(),
                condition=models.Q(deleted_at__isnull=True),
                name="link_live_newest",
            ),
        ),
        migrations.RunPython(
            run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD}),
            run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD}),
        ),
    ]
