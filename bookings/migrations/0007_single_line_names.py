"""Names, titles and labels are one line: the validator on the fields, and existing rows made to fit it."""

import labs.validators
from django.db import migrations, models


CONTROL = r"[\x01-\x1f\x7f-\x9f\u2028\u2029]"  # NUL cannot be stored in PostgreSQL text anyway
FIELDS = {
    "bookings.Room": ["name"],
    "bookings.Desk": ["label"],
    "bookings.Booking": ["title", "override_reason"],
    "bookings.BookingSeries": ["title"],
}


def make_existing_rows_single_line(apps, schema_editor):
    """Rows saved before the rule could hold a newline that breaks an email header: replace it by a space."""
    from labs.validators import single_line

    for label, names in FIELDS.items():
        model = apps.get_model(label)
        for name in names:
            for pk, value in model.objects.filter(**{f"{name}__regex": CONTROL}).values_list("pk", name):
                model.objects.filter(pk=pk).update(**{name: single_line(value)})


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0006_checked_in_via_series_notified'),
    ]

    operations = [
        migrations.AlterField(
            model_name='booking',
            name='override_reason',
            field=models.CharField(blank=True, help_text='Why staff overrode the booking rules.', max_length=300, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='booking',
            name='title',
            field=models.CharField(blank=True, max_length=200, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='bookingseries',
            name='title',
            field=models.CharField(blank=True, max_length=200, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='desk',
            name='label',
            field=models.CharField(max_length=40, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='room',
            name='name',
            field=models.CharField(max_length=120, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.RunPython(make_existing_rows_single_line, migrations.RunPython.noop),
    ]
