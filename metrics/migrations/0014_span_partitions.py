"""Spans keyed by (trace id, span id, start), partitioned by day on PostgreSQL, with each
resource stored once (SpanResource) instead of on every span.

Django cannot change a primary key into a composite one, so the old table is set aside, the
new ones are created, the stored spans are copied over and the old table is dropped. The code
here is self-contained: it must keep working whatever the app's modules become."""

import datetime
import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models

OLD = "metrics_span_0013"
NANOS_PER_DAY = 86_400 * 10**9
COPY_BATCH = 5_000
COLUMNS = (
    "trace_id, span_id, parent_span_id, service, name, kind, start_ns, duration_ns, "
    "status_code, status_message, attributes, resource_key, events, links, team_id"
)


def set_old_table_aside(apps, schema_editor):
    """Rename the old span table and free the constraint and index names the new one uses."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE metrics_span RENAME TO {OLD}")
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", [OLD]
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'ALTER TABLE {OLD} DROP CONSTRAINT "{name}"')
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [OLD])
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                "AND sql IS NOT NULL",
                [OLD],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')


def partition_name(day):
    date = datetime.date(1970, 1, 1) + datetime.timedelta(days=day)
    return f"metrics_span_{date:%Y%m%d}"


def partition_span_table(apps, schema_editor):
    """PostgreSQL: the span table becomes partitioned by start (one partition per UTC day,
    created as spans arrive, plus a default one for anything written otherwise), with a BRIN
    index on the start instead of a B-tree (see create_start_index)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE metrics_span_partitioned (LIKE metrics_span INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (start_ns)"
        )
        cursor.execute("DROP TABLE metrics_span")
        cursor.execute("ALTER TABLE metrics_span_partitioned RENAME TO metrics_span")
        cursor.execute(
            "ALTER TABLE metrics_span ADD CONSTRAINT metrics_span_pkey "
            "PRIMARY KEY (trace_id, span_id, start_ns)"
        )
        cursor.execute("CREATE TABLE metrics_span_default PARTITION OF metrics_span DEFAULT")
        cursor.execute(f"SELECT DISTINCT day FROM {OLD}")
        for (day,) in cursor.fetchall():
            name = partition_name(day)
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF metrics_span "
                f"FOR VALUES FROM ({day * NANOS_PER_DAY}) TO ({(day + 1) * NANOS_PER_DAY})"
            )


def create_start_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        using = "USING brin "  # spans arrive roughly in start order: a tiny index suffices
    else:
        using = ""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX span_start ON metrics_span {using}(start_ns)")


def drop_start_index(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX span_start")


def resource_key(text):
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def copy_spans(apps, schema_editor):
    """Copy the stored spans over, in batches, each resource stored once a day."""
    connection = schema_editor.connection
    last_id = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT id, trace_id, span_id, parent_span_id, service, name, kind, start_ns, "
                "duration_ns, status_code, status_message, attributes, resource, events, links, "
                f"team_id FROM {OLD} WHERE id > %s ORDER BY id LIMIT %s",
                [last_id, COPY_BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            last_id = rows[-1][0]
            resources = {}
            spans = []
            for row in rows:
                resource = _json(row[12])
                text = json.dumps(resource, sort_keys=True, separators=(",", ":"))
                key = resource_key(text)
                resources[(key, row[7] // NANOS_PER_DAY)] = text
                spans.append(
                    (*row[1:11], json.dumps(_json(row[11])), key, json.dumps(_json(row[13])),
                     json.dumps(_json(row[14])), row[15])
                )  # fmt: skip
            cursor.executemany(
                "INSERT INTO metrics_spanresource (key, day, attributes) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(key, day, text) for (key, day), text in resources.items()],
            )
            cursor.executemany(
                f"INSERT INTO metrics_span ({COLUMNS}) VALUES "
                f"({', '.join(['%s'] * 15)}) ON CONFLICT DO NOTHING",
                spans,
            )


def drop_old_table(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {OLD}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("metrics", "0013_span_fewer_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Span")],
            database_operations=[migrations.RunPython(set_old_table_aside)],
        ),
        migrations.CreateModel(
            name="SpanResource",
            fields=[
                ("pk", models.CompositePrimaryKey("key", "day", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),
                ("key", models.BigIntegerField()),
                ("day", models.IntegerField()),
                ("attributes", models.JSONField(default=dict)),
            ],
        ),  # fmt: skip
        migrations.CreateModel(
            name="Span",
            fields=[
                ("pk", models.CompositePrimaryKey("trace_id", "span_id", "start_ns", blank=True,
                                                  editable=False, primary_key=True,
                                                  serialize=False)),
                ("trace_id", models.CharField(help_text="32 hex digits.", max_length=32)),
                ("span_id", models.CharField(help_text="16 hex digits.", max_length=16)),
                ("parent_span_id", models.CharField(blank=True, max_length=16)),
                ("service", models.CharField(max_length=200)),
                ("name", models.CharField(max_length=300)),
                ("kind", models.SmallIntegerField(
                    choices=[(0, "unspecified"), (1, "internal"), (2, "server"), (3, "client"),
                             (4, "producer"), (5, "consumer")], default=0)),
                ("start_ns", models.BigIntegerField()),
                ("duration_ns", models.BigIntegerField()),
                ("status_code", models.SmallIntegerField(
                    choices=[(0, "unset"), (1, "ok"), (2, "error")], default=0)),
                ("status_message", models.TextField(blank=True)),
                ("attributes", models.JSONField(blank=True, default=dict)),
                ("resource_key", models.BigIntegerField(default=0)),
                ("events", models.JSONField(blank=True, default=list)),
                ("links", models.JSONField(blank=True, default=list)),
                ("team", models.ForeignKey(
                    blank=True, db_constraint=False, db_index=False, null=True,
                    on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                    to="accounts.team")),
            ],
        ),  # fmt: skip
        migrations.RunPython(partition_span_table, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="span",
            index=models.Index(fields=["service", "start_ns"], name="span_service_start"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="span",
                    index=models.Index(fields=["start_ns"], name="span_start"),
                ),
            ],
            database_operations=[migrations.RunPython(create_start_index, drop_start_index)],
        ),
        migrations.RunPython(copy_spans, migrations.RunPython.noop),
        migrations.RunPython(drop_old_table, migrations.RunPython.noop),
    ]
