"""``python -m inference.eval_segmentation``: an entry point kept where labs and CI call it; the code is in the workshop,
``inference.training.eval_segmentation`` (the engine never imports it, this door only opens from the command line)."""

from inference.training.eval_segmentation import *  # noqa: F403  (the old import path keeps working)
from inference.training.eval_segmentation import main

if __name__ == "__main__":
    raise SystemExit(main())
