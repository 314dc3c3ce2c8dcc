"""A case's summary gains the columns every summary has: the quality flags of its call and the model version."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [
        migrations.AddField(model_name="case", name="flags", field=models.JSONField(blank=True, default=list)),
        migrations.AddField(
            model_name="case", name="model_version", field=models.CharField(blank=True, max_length=100)
        ),
    ]
