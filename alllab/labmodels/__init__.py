"""A lab's own models: the registry of checkpoints a lab may analyse with, and the adaptation jobs that make them."""
