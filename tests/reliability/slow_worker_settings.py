"""Settings of the worker the SIGKILL test kills: the fast-redelivery ones, with an analysis that cannot finish first.

On a quiet machine a test smear is analysed in under 2 s, so the test could miss the moment to kill the worker
while the run is ``running``. Each progress report here is followed by a pause, so the run stays mid-analysis (and
visibly so, with progress above 0) for several seconds. Only this test's worker imports this module.
"""

import time

from inference import predict
from tests.reliability.worker_settings import *  # noqa: F403

_analyze = predict.Predictor.analyze


def _slow_analyze(self, rgb, *, progress=None, **kwargs):
    def slow_progress(*args):
        progress(*args)
        time.sleep(1.0)

    return _analyze(self, rgb, progress=slow_progress if progress else None, **kwargs)


predict.Predictor.analyze = _slow_analyze
