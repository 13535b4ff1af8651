"""Names, titles and labels are one line: the validator on the fields, and existing rows made to fit it."""

import labs.validators
from django.db import migrations, models


CONTROL = r"[\x01-\x1f\x7f-\x9f\u2028\u2029]"  # NUL cannot be stored in PostgreSQL text anyway
FIELDS = {
    "badges.Door": ["name"],
    "badges.Reader": ["name"],
    "badges.Visit": ["name", "email", "purpose"],
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
        ('badges', '0002_access_decision_append_only'),
    ]

    operations = [
        migrations.AlterField(
            model_name='door',
            name='name',
            field=models.CharField(max_length=120, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='reader',
            name='name',
            field=models.CharField(blank=True, max_length=120, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='visit',
            name='email',
            field=models.EmailField(max_length=254, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='visit',
            name='name',
            field=models.CharField(max_length=160, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='visit',
            name='purpose',
            field=models.CharField(blank=True, max_length=200, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.RunPython(make_existing_rows_single_line, migrations.RunPython.noop),
    ]
