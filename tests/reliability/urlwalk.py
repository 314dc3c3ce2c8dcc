"""Every URL the project routes, as a concrete path: the security tests walk them all, so a new view cannot slip by."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver

# Sample values for path parameters, by name; an id that exists is filled in by the caller when it matters.
SAMPLES = {"object_id": "1", "content_type_id": "1", "id": "1", "path": "x", "url": "x"}


def _fill(regex: str, values: dict[str, str]) -> str:
    """A concrete path matching ``regex`` (the joined pattern of a route), with ``values`` for named groups."""

    def group(match: re.Match) -> str:
        name, body = match.group(1), match.group(2)
        if name in values:
            return values[name]
        if name == "app_label" or "|" in body:
            return body.split("|")[0].strip("()")
        if body in (r"[0-9]+", r"\d+"):
            return values.get("int", "1")
        return SAMPLES.get(name, "x")

    path = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, regex)
    path = path.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + re.sub(r"\.\*", "anything", path)


def all_paths(values: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(path, route name) for every URL pattern, with parameters filled from ``values`` (by name) or samples."""
    values = values or {}
    found: list[tuple[str, str]] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            regex = p.pattern.regex.pattern
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + regex.lstrip("^").rstrip("$"), ns)
            elif isinstance(p, URLPattern):
                found.append((_fill(prefix + regex.lstrip("^"), values), f"{namespace}{p.name or p.lookup_str}"))

    walk(get_resolver().url_patterns, "", "")
    return found
