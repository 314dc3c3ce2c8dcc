"""Settings of the killable test workers: production's, with Redis redelivering an unacknowledged task in seconds.

Production keeps a visibility timeout of twice the task's hard limit, and kombu looks for expired deliveries about
every 100 s (every 10th tick of 10 s); a test cannot wait that long, so both shrink here, and only here.
"""

from alllab.settings import *  # noqa: F403
from alllab.settings import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "visibility_timeout": 3,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # A worker killed while it holds the restore lock would block every restore for the default 300 s.
    "unacked_mutex_expire": 5,
}
