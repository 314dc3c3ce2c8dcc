"""The model's label "normal" becomes "non_blast": the model knows blast or not, never "normal" (issue 12)."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    apps.get_model("analysis", "Cell").objects.filter(ai_label="normal").update(ai_label="non_blast")


def backwards(apps, schema_editor):
    apps.get_model("analysis", "Cell").objects.filter(ai_label="non_blast").update(ai_label="normal")


class Migration(migrations.Migration):
    dependencies = [("analysis", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="cell",
            name="ai_label",
            field=models.CharField(choices=[("blast", "Blast"), ("non_blast", "Non-blast")], max_length=10),
        ),
        migrations.RunPython(forwards, backwards),
    ]
