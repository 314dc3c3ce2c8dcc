"""Reviewer classes become the white-cell differential a lab reports (issue 12).

The old "normal" was shown as "Normal lymphocyte", so it becomes "lymphocyte"; the other old values keep their names.
Going back folds every new white class except blast and other white cell into "normal".
"""

from django.db import migrations, models

DIFFERENTIAL = [
    ("blast", "Blast"),
    ("lymphocyte", "Lymphocyte"),
    ("neutrophil", "Neutrophil"),
    ("monocyte", "Monocyte"),
    ("eosinophil", "Eosinophil"),
    ("basophil", "Basophil"),
    ("other_wbc", "Other white cell"),
    ("artefact", "Smudge cell or artefact"),
    ("unsure", "Unsure"),
]


def forwards(apps, schema_editor):
    apps.get_model("review", "CellReview").objects.filter(label="normal").update(label="lymphocyte")


def backwards(apps, schema_editor):
    folded = ["lymphocyte", "neutrophil", "monocyte", "eosinophil", "basophil"]
    apps.get_model("review", "CellReview").objects.filter(label__in=folded).update(label="normal")


class Migration(migrations.Migration):
    dependencies = [("review", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="cellreview", name="label", field=models.CharField(choices=DIFFERENTIAL, max_length=12)
        ),
        migrations.RunPython(forwards, backwards),
    ]
