"""``python -m inference.crossval``: an entry point kept where labs and CI call it; the code is in the workshop,
``inference.training.crossval`` (the engine never imports it, this door only opens from the command line)."""

from inference.training.crossval import *  # noqa: F403  (the old import path keeps working)
from inference.training.crossval import main

if __name__ == "__main__":
    raise SystemExit(main())
