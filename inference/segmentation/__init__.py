"""White-cell segmentation, split by job: colour features, scale, clustering, cells, crops, quality.

The public entry points are re-exported by ``inference.segment``.
"""
