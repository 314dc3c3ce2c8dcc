"""``python -m inference.fit_reference``: an entry point kept where labs and CI call it; the code is in the workshop,
``inference.training.fit_reference`` (the engine never imports it, this door only opens from the command line)."""

from inference.training.fit_reference import main

if __name__ == "__main__":
    raise SystemExit(main())
