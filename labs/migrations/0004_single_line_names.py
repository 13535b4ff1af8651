"""Names, titles and labels are one line: the validator on the fields, and existing rows made to fit it."""

import labs.validators
from django.db import migrations, models


CONTROL = r"[\x01-\x1f\x7f-\x9f\u2028\u2029]"  # NUL cannot be stored in PostgreSQL text anyway
FIELDS = {
    "labs.Site": ["name", "address"],
    "labs.Floor": ["name"],
    "labs.Zone": ["name"],
    "labs.Company": ["name"],
    "labs.Person": ["phone", "job_title"],
    "auth.User": ["first_name", "last_name"],
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
        ('auth', '0012_alter_user_first_name_max_length'),
        ('labs', '0003_mqtt_credential'),
    ]

    operations = [
        migrations.AlterField(
            model_name='company',
            name='name',
            field=models.CharField(max_length=160, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='floor',
            name='name',
            field=models.CharField(max_length=80, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='person',
            name='job_title',
            field=models.CharField(blank=True, max_length=120, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='person',
            name='phone',
            field=models.CharField(blank=True, max_length=32, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='site',
            name='address',
            field=models.CharField(blank=True, max_length=255, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='site',
            name='name',
            field=models.CharField(max_length=120, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.AlterField(
            model_name='zone',
            name='name',
            field=models.CharField(max_length=80, validators=[labs.validators.SingleLineValidator()]),
        ),
        migrations.RunPython(make_existing_rows_single_line, migrations.RunPython.noop),
    ]
