"""The LIS REST API (v1): token-authenticated, lab-scoped, documented at ``/api/v1/schema/``."""
