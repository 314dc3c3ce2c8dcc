"""``python -m inference.eval_domain``: an entry point kept where labs and CI call it; the code is in the workshop,
``inference.training.eval_domain`` (the engine never imports it, this door only opens from the command line)."""

from inference.training.eval_domain import main

if __name__ == "__main__":
    raise SystemExit(main())
