"""Commands keep the indexes their lookups use and no more (comfort.models.Command.Meta).

Each change of a command's state writes a new row version with an entry in every index covering it. Before: seven
indexes, 20 entries over a command's life (queued, sent, applied). After: the device's own index goes (the unique
(device, version) leads with the device), the deadline and the person acted for are indexed only where they are
looked up (open commands; commands that act for somebody): 13 entries for a command that acts for nobody
(a fan-out's), 15 for a check-in's. On PostgreSQL the new indexes are built while the table is locked against
writes: on a table of millions of commands, the check-ins, fan-outs and bridge batches that write commands wait
for a few seconds. Run it at a quiet hour.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("comfort", "0003_device_fillfactor"),
        ("labs", "0007_privacy_rights"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="command",
            name="command_open_deadline_idx",
        ),
        migrations.AlterField(
            model_name="command",
            name="acts_for",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="comfort_commands",
                to="labs.person",
            ),
        ),
        migrations.AlterField(
            model_name="command",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="commands",
                to="comfort.device",
            ),
        ),
        migrations.AddIndex(
            model_name="command",
            index=models.Index(
                condition=models.Q(("state__in", ("queued", "sent", "delivered", "in_progress"))),
                fields=["deadline_at"],
                name="command_open_deadline_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="command",
            index=models.Index(
                condition=models.Q(("acts_for__isnull", False)), fields=["acts_for"], name="command_acts_for_idx"
            ),
        ),
    ]
