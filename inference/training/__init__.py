"""The workshop: datasets, training, cross-validation, evaluation and benchmarks of the cell classifier.

It imports the engine (``inference.io``, ``segmentation``, ``models``, ``predict``, ``preprocess``, ...);
the engine never imports it (``tests/inference/test_layers.py``). Run it through the top-level entry points
(``python -m inference.train``, ``evaluate``, ``crossval``, ``bench``, ``eval_segmentation``, ``eval_bccd``).
"""
