"""Analysis runs and the cells they found: the one door to ``inference``."""
