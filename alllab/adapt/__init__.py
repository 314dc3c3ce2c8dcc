"""The lab admin's "Models" page: adapt the lab's model from its reviewed cells, compare, activate, roll back."""
