"""The OpenAPI schema, the local Swagger UI, and a schemathesis pass over every operation finding no 500.

The schemathesis pass is bounded (``MAX_EXAMPLES`` per operation) and runs in-process over WSGI. Each generated
request is sent twice: as generated (mostly unknown ids: 404s and bad input) and with its path ids pointed at a real
case, slide and cell of the caller's lab, so the success paths are fuzzed too.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
import yaml
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from openapi_spec_validator import OpenAPIV30SpecValidator
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

MAX_EXAMPLES = 12

pytestmark = pytest.mark.django_db


def _schema(client) -> dict:
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_it_publishes_an_openapi_3_schema_with_every_route(api):
    schema = _schema(api)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/cases/",
        "/api/v1/cases/{case_id}/",
        "/api/v1/cases/{case_id}/slides/",
        "/api/v1/cases/{case_id}/fhir/",
        "/api/v1/cases/{case_id}/hl7/",
        "/api/v1/cases/{case_id}/report.pdf",  # alllab.api.views.report_pdf
        "/api/v1/slides/{slide_id}/",
        "/api/v1/slides/{slide_id}/cells/",
        "/api/v1/cells/{cell_id}/crop/",
        "/api/v1/models/",  # alllab.api.views.lab_models
        "/api/v1/models/active/",
        "/api/v1/models/{model_id}/",
    }
    assert schema["components"]["securitySchemes"]["lisToken"]["scheme"] == "bearer"


def test_it_publishes_a_schema_the_openapi_validator_accepts(api):
    schema = _schema(api)
    assert schema["openapi"].startswith("3.0")
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OpenAPIV30SpecValidator(schema).iter_errors()
    ]
    assert errors == []


def test_it_documents_the_error_shape_for_every_operation(api):
    schema = _schema(api)
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/Error"), (method, path, code)


def test_it_types_every_output_field(api):
    components = _schema(api)["components"]["schemas"]
    for name in ("Case", "CaseDetail", "Slide", "Cell", "Summary"):
        for field, spec in components[name]["properties"].items():
            assert "type" in spec or "$ref" in spec or "allOf" in spec or "oneOf" in spec, (name, field)


def test_it_serves_swagger_ui_from_local_assets_without_inline_script(api):
    response = api.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)  # the CSP allows no inline
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs, _ in scripts]
    assert any(src.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/") for src in sources)
    start_up = api.get(next(src for src in sources if src.startswith("/api/v1/docs/")))
    assert start_up.status_code == 200
    assert b"SwaggerUIBundle" in start_up.content


def test_it_refuses_the_schema_and_its_docs_to_anonymous_callers(anon):
    assert anon.get(reverse("api:schema")).status_code == 401
    assert anon.get(reverse("api:docs")).status_code == 401


def _load_fuzzed_schema():
    """The schema as the view renders it, generated at collection time: fetching the (login-only) view would need a
    token, and so the database, before any test has one."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiYamlRenderer

    rendered = OpenApiYamlRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    loaded = schemathesis.openapi.from_dict(yaml.safe_load(rendered))
    loaded.app = get_wsgi_application()
    loaded.location = "/api/v1/schema/"
    return loaded


fuzzed = _load_fuzzed_schema()


@pytest.fixture
def _wsgi_in_test_transaction(settings):
    """Let raw WSGI calls share the test's transaction (Django's test client does the same) and its rate budget."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"lis_client": "100000/min", "user": "100000/min"},
    }
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("_wsgi_in_test_transaction")
@fuzzed.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible, not a flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_it_never_answers_500_and_matches_its_schema(case, lis, done_case):
    headers = {"Authorization": f"Bearer {lis[1]}"}
    checks = [not_a_server_error, content_type_conformance, response_schema_conformance]
    case.call_and_validate(headers=headers, checks=checks)
    real_ids = {"case_id": done_case[0].pk, "slide_id": done_case[1].pk, "cell_id": done_case[3][0].pk}
    if case.path_parameters:
        case.path_parameters = {k: real_ids.get(k, v) for k, v in case.path_parameters.items()}
        case.call_and_validate(headers=headers, checks=checks)
