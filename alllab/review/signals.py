"""Signals other apps may listen to, so they can act on a sign-off without the review app knowing them.

``report_version_signed`` is sent once the transaction that froze a version has committed (a receiver never sees a
version that was rolled back), with ``version`` (the ``ReportVersion``) and ``case_id``. The interop app can use it
to push a final or amended result to a LIS.
"""

from django.dispatch import Signal

report_version_signed = Signal()
