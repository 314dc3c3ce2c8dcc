"""A run's summary gains the flags column of ``SummaryFields`` (its call gets the choices and index a case's has).

Existing rows keep their numbers; the new columns are filled from what is stored: a finished run's flags are its
smear's quality flags, and a case's are those shared by every finished current run (the rule ``case_refresh``
applies), with the model version when those runs used one.
"""

from django.db import migrations, models


def backfill(apps, schema_editor):
    AnalysisRun = apps.get_model("analysis", "AnalysisRun")
    Case = apps.get_model("cases", "Case")
    for run in AnalysisRun.objects.exclude(call="").only("id", "quality"):
        AnalysisRun.objects.filter(pk=run.pk).update(flags=list((run.quality or {}).get("flags", [])))
    for case in Case.objects.exclude(call="").only("id"):
        latest = {}
        for run in AnalysisRun.objects.filter(slide__case_id=case.pk).order_by("slide_id", "-created_at", "-id"):
            latest.setdefault(run.slide_id, run)
        done = [r for r in latest.values() if r.status == "done"]
        if not done:
            continue
        shared = set.intersection(*(set(r.flags or []) for r in done))
        versions = {r.model_version for r in done}
        Case.objects.filter(pk=case.pk).update(
            flags=sorted(shared), model_version=versions.pop() if len(versions) == 1 else ""
        )


class Migration(migrations.Migration):
    dependencies = [("analysis", "0002_cell_ai_label_non_blast"), ("cases", "0002_summary_fields")]

    operations = [
        migrations.AddField(model_name="analysisrun", name="flags", field=models.JSONField(blank=True, default=list)),
        migrations.AlterField(
            model_name="analysisrun",
            name="call",
            field=models.CharField(
                blank=True,
                choices=[("suspicious", "Suspicious"), ("negative", "Negative"), ("insufficient", "Insufficient")],
                db_index=True,
                max_length=20,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
