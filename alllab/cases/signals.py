"""Events of the cases app, for the apps above it: they act on a case without ``cases`` knowing them.

``case_analysed`` is sent once the transaction that moved a case to "every slide's current run has finished"
(``awaiting_review``) has committed, with ``case_id``. Runs that failed count as finished, whoever failed them (the
worker, or the sweeper giving up on a run whose worker died). A re-analysis that finishes sends it again.
"""

from django.dispatch import Signal

case_analysed = Signal()
