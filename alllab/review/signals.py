"""Events of the review app, for the apps above it (interop): they act on a signature without ``review`` knowing them.

``report_signed`` is sent once the transaction that froze a report version (a sign-off, version 1, or an amendment,
version n) has committed, with ``case_id`` and ``version`` (its number).
"""

from django.dispatch import Signal

report_signed = Signal()
