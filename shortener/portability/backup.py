"""A backup of the whole instance and its restore, whichever database either side runs.

A backup is one ZIP file: `manifest.json` (the format and its version, when, the
migrations the data is at, each table's columns, row count and the SHA-256 of its member)
and one JSON Lines member per table, a row a line. It is read from one consistent
snapshot while the site serves: on PostgreSQL one REPEATABLE READ, READ ONLY
transaction; on SQLite a copy made with SQLite's online backup API, read afterwards (a
read transaction on the live file would hold its write lock for the whole backup).
Memory stays flat: rows are streamed a chunk at a time in and out.

Left out, and said so in the manifest: sessions (everyone signs in again) and webhook
secrets (stored in clear, so a backup would carry them; rotate them after a restore).

A restore checks the whole file first (format, version, every member's digest, the
migrations: one this code lacks means a newer or a foreign Torii) and writes nothing
until it holds; then it brings the schema to the backup's migrations, replaces every
table's rows in one transaction (a failure leaves the instance as it was), resets the
sequences, and migrates to this release, so a backup of one release restores into the
next.
"""

import base64
import hashlib
import json
import os
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from shortener.links.models import Link

FORMAT = "torii-backup"
VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 5000
LEFT_OUT = {
    "django_session": "Sessions are left out: everyone signs in again after a restore.",
    "shortener_webhooksecret": (
        "Webhook secrets are left out (Torii keeps them in clear): rotate each source's "
        "secret after a restore (`manage.py webhook_source rotate NAME`) and give the new "
        "one to its sender."
    ),
    "shortener_exitjob": (
        "Redirect files written for the browser are left out (each lives a day): ask for "
        "them again."
    ),
}


class BackupRefused(ValueError):
    """A file that is no backup this Torii can restore, or an instance it must not overwrite."""


@dataclass
class Table:
    model: Any
    columns: list[str]  # attnames, in the order a row holds them
    kinds: list[str]  # each column's internal type

    @property
    def name(self) -> str:
        return self.model._meta.db_table


@dataclass
class Result:
    tables: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def tables() -> list[Table]:
    """Every table Django knows, many-to-many tables included, but what is left out."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy or meta.db_table in LEFT_OUT:
            continue
        fields = list(meta.concrete_fields)
        found.append(
            Table(model, [f.attname for f in fields], [f.get_internal_type() for f in fields])
        )
    return sorted(found, key=lambda table: table.name)


# --- values as JSON and back ----------------------------------------------------------


def to_json(value, kind: str):
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def from_json(value, kind: str):
    if value is None:
        return None
    if kind == "DateTimeField":
        return datetime.fromisoformat(value)
    if kind == "DateField":
        return date.fromisoformat(value)
    if kind == "BinaryField":
        return base64.b64decode(value)
    if kind == "DecimalField":
        return Decimal(value)
    if kind == "UUIDField":
        return UUID(value)
    return value


# --- backup ---------------------------------------------------------------------------


def backup(
    path: Path, *, progress: Callable[[str, int], None] = lambda table, rows: None
) -> Result:
    """Write a backup of this instance to `path` (a new file; written beside it, then moved)."""
    result = Result(notes=list(LEFT_OUT.values()))
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with (
        snapshot() as source,
        zipfile.ZipFile(
            partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True
        ) as archive,
    ):
        with source.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
            migrations = [tuple(row) for row in cursor.fetchall()]
        members = {}
        for table in tables():
            digest, count = write_member(archive, table, source, progress)
            result.tables[table.name] = count
            members[table.name] = {
                "model": table.model._meta.label,
                "columns": table.columns,
                "kinds": table.kinds,
                "rows": count,
                "sha256": digest,
            }
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": timezone.now().isoformat(),
            "database": connection.vendor,
            "migrations": [list(name) for name in migrations],
            "tables": members,
            "left_out": LEFT_OUT,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
    os.replace(partial, path)
    return result


@contextmanager
def snapshot() -> Iterator[Any]:
    """A database connection that sees one consistent moment of the data."""
    if connection.vendor != "sqlite":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield connection
        return
    with tempfile.TemporaryDirectory(prefix="torii-backup-") as folder:
        copy = Path(folder) / "snapshot.sqlite3"
        source = sqlite3.connect(connection.settings_dict["NAME"])
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # SQLite's online backup: writers go on meanwhile
        finally:
            target.close()
            source.close()
        # A connection of its own to the copy, outside `connections`: nothing else uses it.
        settings = {**connection.settings_dict, "NAME": str(copy), "OPTIONS": {}}
        copied = type(connections[DEFAULT_DB_ALIAS])(settings, alias="torii-backup-snapshot")
        try:
            yield copied
        finally:
            copied.close()


def write_member(archive: zipfile.ZipFile, table: Table, source, progress) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    query = (
        table.model._base_manager.order_by(*[f.attname for f in table.model._meta.pk_fields])
        .values_list(*table.columns)
        .query
    )
    # Compiled for `source` (the snapshot), with Django's converters for each column.
    rows = query.get_compiler(connection=source).results_iter(chunked_fetch=True, chunk_size=CHUNK)
    # Only the columns JSON cannot carry as they are go through to_json; one encoder for
    # every row (json.dumps with options makes a new one each call): a backup of ten
    # million visits spent most of its time there.
    converted = [
        (index, kind)
        for index, (column, kind) in enumerate(zip(table.columns, table.kinds, strict=True))
        if stored_kind(field_of(table.model, column), kind) not in AS_STORED
    ]
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with archive.open(f"tables/{table.name}.jsonl", "w", force_zip64=True) as member:
        lines = []
        for row in rows:
            values = list(row)
            for index, kind in converted:
                values[index] = to_json(values[index], kind)
            lines.append(encode(values))
            count += 1
            if len(lines) >= CHUNK:
                flush_lines(member, digest, lines)
                progress(table.name, count)
        flush_lines(member, digest, lines)
        progress(table.name, count)
    return digest.hexdigest(), count


def flush_lines(member: IO[bytes], digest, lines: list[str]) -> None:
    if lines:
        data = ("\n".join(lines) + "\n").encode()
        digest.update(data)
        member.write(data)
        lines.clear()


# --- restore --------------------------------------------------------------------------


def read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise BackupRefused("This is not a Torii backup: it has no manifest.") from None
    except ValueError:
        raise BackupRefused("The backup's manifest is not JSON: the file is damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupRefused("This is not a Torii backup (its manifest names another format).")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise BackupRefused("The backup's format version is not one Torii wrote.")
    if version > VERSION:
        raise BackupRefused(
            f"This backup is of format {version}, newer than this Torii reads ({VERSION}): "
            "restore it with the release that made it, or a newer one."
        )
    return manifest


def open_backup(path: Path) -> tuple[zipfile.ZipFile, dict]:
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupRefused(f"There is no file {path}.") from None
    except (zipfile.BadZipFile, OSError):
        raise BackupRefused(
            "This is not a Torii backup, or it is cut short or damaged (not a whole ZIP file)."
        ) from None
    return archive, read_manifest(archive)


def verify(archive: zipfile.ZipFile, manifest: dict) -> None:
    """Every member whole and as the manifest says, every table and migration known here;
    nothing is written before this holds."""
    known = {table.name: table for table in tables()}
    members = manifest.get("tables")
    if not isinstance(members, dict):
        raise BackupRefused("The backup's manifest lists no tables: the file is damaged.")
    for name, member in members.items():
        table = known.get(name)
        if table is None:
            raise BackupRefused(
                f"The backup holds a table this Torii does not have ({name}): it comes from "
                "a newer or a different application."
            )
        if not isinstance(member, dict) or not set(member.get("columns") or ["?"]) <= set(
            table.columns
        ):
            raise BackupRefused(f"The backup's table {name} has columns this Torii lacks.")
        digest = hashlib.sha256()
        try:
            with archive.open(f"tables/{name}.jsonl") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
        except KeyError:
            raise BackupRefused(
                f"The backup lacks its table {name}: the file is damaged."
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
            raise BackupRefused(f"The backup's table {name} is damaged or cut short.") from None
        if digest.hexdigest() != member.get("sha256"):
            raise BackupRefused(
                f"The backup's table {name} does not match its checksum: the file was changed "
                "after it was written. Nothing was restored."
            )
    graph = MigrationExecutor(connection).loader.graph
    for app, name in manifest.get("migrations", []):
        if (app, name) not in graph.nodes:
            raise BackupRefused(
                f"The backup was made at migration {app}.{name}, which this Torii does not "
                "have: it comes from a newer release. Restore it with that release or a newer one."
            )


def is_empty() -> bool:
    """No links yet (a database never migrated counts as empty)."""
    if Link._meta.db_table not in connection.introspection.table_names():
        return True
    return not Link.objects.exists()


def restore(
    path: Path,
    *,
    replace: bool = False,
    progress: Callable[[str, int], None] = lambda table, rows: None,
) -> Result:
    archive, manifest = open_backup(Path(path))
    with archive:
        verify(archive, manifest)
        if not replace and not is_empty():
            raise BackupRefused(
                "This instance already holds links: a restore replaces everything in it. "
                "Restore into an empty instance, or say so with --replace."
            )
        leaves = leaves_of(manifest["migrations"])
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)  # the schema the backup's rows were written for
        result = Result(notes=list(manifest.get("left_out", {}).values()))
        known = {table.name: table for table in tables()}
        restored = [known[name] for name in manifest["tables"]]
        try:
            with transaction.atomic():
                for table in restored:
                    table.model._base_manager.all()._raw_delete(connection.alias)
                for table in restored:
                    member = manifest["tables"][table.name]
                    result.tables[table.name] = load(archive, table, member, progress)
                reset_sequences([table.model for table in restored])
        finally:
            # This release's migrations, and what they make after a migrate (content
            # types, permissions, the registry's flags), whether or not the rows went in.
            call_command("migrate", interactive=False, verbosity=0)
    return result


def leaves_of(applied: list) -> list[tuple[str, str]]:
    """Per app, the last migration the backup had applied (by the graph's order)."""
    graph = MigrationExecutor(connection).loader.graph
    applied = {tuple(name) for name in applied}
    leaves = []
    for app in {app for app, _ in applied}:
        mine = [node for node in applied if node[0] == app]
        leaves += [
            node
            for node in mine
            if not any(other != node and node in graph.forwards_plan(other) for other in mine)
        ]
    return sorted(leaves)


# Columns whose JSON value is already what the driver takes (numbers, text, booleans):
# asking the field to prepare each of ten million values would be most of a restore.
AS_STORED = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "CharField",
        "TextField",
        "SlugField",
        "EmailField",
        "URLField",
        "BooleanField",
    }
)


def stored_kind(field, kind: str) -> str:
    """The type a column holds: a relation's is its target's."""
    return field.target_field.get_internal_type() if field.is_relation else kind


def preparer(field, kind: str):
    """How one column's JSON value becomes what the database takes; None: as it is."""
    if stored_kind(field, kind) in AS_STORED:
        return None

    def prepare(value):
        return field.get_db_prep_save(from_json(value, kind), connection)

    return prepare


def load(archive: zipfile.ZipFile, table: Table, member: dict, progress) -> int:
    columns = member["columns"]
    fields = [field_of(table.model, column) for column in columns]
    preparers = [
        (index, prepare)
        for index, (f, kind) in enumerate(zip(fields, member["kinds"], strict=True))
        if (prepare := preparer(f, kind)) is not None
    ]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    count = 0
    with archive.open(f"tables/{table.name}.jsonl") as stream, connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: one stream of rows instead of an INSERT each.
            with cursor.cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                for line in stream:
                    copy.write_row(prepared(json.loads(line), preparers))
                    count += 1
                    if count % CHUNK == 0:
                        progress(table.name, count)
            progress(table.name, count)
            return count
        sql = (
            f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        )
        batch = []
        for line in stream:
            batch.append(prepared(json.loads(line), preparers))
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
                progress(table.name, count)
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
        progress(table.name, count)
    return count


def prepared(values: list, preparers: list) -> list:
    for index, prepare in preparers:
        values[index] = prepare(values[index])
    return values


def field_of(model, attname: str):
    for candidate in model._meta.concrete_fields:
        if candidate.attname == attname:
            return candidate
    raise BackupRefused(
        f"The backup's table {model._meta.db_table} has a column {attname} this Torii lacks."
    )


def reset_sequences(models: list) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
