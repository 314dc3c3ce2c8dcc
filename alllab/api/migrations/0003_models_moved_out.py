# LisClient moved to accounts and CaseOrder to interop (issue 11); their tables were renamed there, so only the
# migration state forgets them here.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_case_order_callback_state"),
        ("interop", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="CaseOrder"), migrations.DeleteModel(name="LisClient")],
            database_operations=[],
        ),
    ]
