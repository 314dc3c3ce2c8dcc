"""Interoperability: FHIR R4 bundles and HL7 v2 messages built from stored results, and their senders.

The builders take plain dataclasses (``report.ReportData``), so they know nothing of the database; ``adapters`` turns a
case into one.
"""
