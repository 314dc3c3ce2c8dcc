"""API views: one module per resource, each view thin (parse, call a selector or service, shape the output)."""
