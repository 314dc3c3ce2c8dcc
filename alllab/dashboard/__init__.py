"""Pathologists' dashboard and the home page."""
