# CaseOrder moves here from the api app (issue 11): the state moves without touching the table, then the table is
# renamed (api_caseorder -> interop_caseorder), which keeps every row.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_lisclient"),
        ("api", "0002_case_order_callback_state"),
        ("cases", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CaseOrder",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("clinical_notes", models.TextField(blank=True, max_length=4000)),
                        ("callback_url", models.URLField(blank=True, max_length=500)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("callback_runs", models.CharField(blank=True, max_length=500)),
                        ("callback_status", models.CharField(blank=True, max_length=10)),
                        ("callback_attempts", models.PositiveSmallIntegerField(default=0)),
                        ("callback_error", models.CharField(blank=True, max_length=500)),
                        ("callback_delivered_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "case",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE, related_name="order", to="cases.case"
                            ),
                        ),
                        (
                            "client",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="orders",
                                to="accounts.lisclient",
                            ),
                        ),
                    ],
                    options={"db_table": "api_caseorder"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="caseorder", table=None),
    ]
