"""``python -m inference.eval_bccd``: an entry point kept where labs and CI call it; the code is in the workshop,
``inference.training.eval_bccd`` (the engine never imports it, this door only opens from the command line)."""

from inference.training.eval_bccd import *  # noqa: F403  (the old import path keeps working)
from inference.training.eval_bccd import main

if __name__ == "__main__":
    raise SystemExit(main())
