"""Dependency audit for ``scripts/test.sh``: fail on a known vulnerability, say so plainly when nothing could be checked.

Runs ``pip-audit`` on the installed environment (bounded by a timeout) and reads its JSON. Exit status 1 when any
installed package has a known vulnerability; 0 otherwise, with a clear line when the vulnerability service (PyPI's
JSON API) could not be reached or did not know the packages, as behind a registry mirror without that API.
``AUDIT_STRICT=1`` turns "could not audit" into a failure too (for CI with internet access).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = int(os.environ.get("AUDIT_TIMEOUT_S", "120"))


def main() -> int:
    strict = os.environ.get("AUDIT_STRICT") == "1"
    pip_audit = Path(sys.executable).with_name("pip-audit")
    cmd = [str(pip_audit), "--format", "json", "--progress-spinner", "off"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        print("dependency audit: pip-audit is not installed (pip install -r requirements-dev.txt)")
        return 1
    except subprocess.TimeoutExpired:
        print(
            f"dependency audit: NOT DONE, pip-audit did not finish in {TIMEOUT_S} s (vulnerability service unreachable?)"
        )
        return 1 if strict else 0
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"dependency audit: NOT DONE, pip-audit failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        return 1 if strict else 0
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"dependency audit: {dep['name']} {dep.get('version', '')} has known vulnerabilities: {ids}")
    if vulnerable:
        return 1
    audited = len(deps) - len(skipped)
    if audited == 0:
        print(
            f"dependency audit: NOT DONE, none of {len(deps)} packages could be audited "
            f"(the vulnerability service does not know them: {skipped[0]['skip_reason'] if skipped else 'no packages'})"
        )
        return 1 if strict else 0
    print(f"dependency audit: no known vulnerabilities in {audited} packages ({len(skipped)} could not be audited)")
    return 1 if strict and skipped else 0


if __name__ == "__main__":
    sys.exit(main())
