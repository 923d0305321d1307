"""Leave room in metrics_series pages so the per-write update of last_timestamp/last_value is a
HOT update (no new index entries, no table bloat). PostgreSQL only."""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE metrics_series SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE metrics_series RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("metrics", "0002_scrapetarget")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
