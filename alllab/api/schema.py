"""OpenAPI extensions: how drf-spectacular should describe the token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class LisTokenScheme(OpenApiAuthenticationExtension):
    target_class = "alllab.api.authentication.LisTokenAuthentication"
    name = "lisToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "alllab_<12 hex>_<43 url-safe chars>",
            "description": "A per-client token from `manage.py create_lis_client NAME --lab SLUG`, scoped to one lab.",
        }
