"""Health endpoints for load balancers and container healthchecks: ``/readyz`` (``/healthz`` lives in dashboard)."""
