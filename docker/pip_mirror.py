"""Hand this machine's pip configuration to ``docker build``: its local indexes and wheel folders, served on loopback.

A machine without open internet (or one that keeps its own wheels, such as a CPU build of torch) tells pip where
to look in ``pip.conf`` files and ``PIP_*`` variables, often as local paths (``find-links = /opt/wheels``,
``extra-index-url = file:///opt/pypi/simple``). A build container cannot see those paths, so this script serves each
of them over HTTP on 127.0.0.1 and prints the same settings rewritten to those addresses, as ``--build-arg`` lines;
the image is built with ``--network host``, so pip inside the build reaches them. Settings that are already URLs
(an http index) pass through unchanged. Only the named folders are served, read-only, and only on loopback. The CA
bundle pip trusts (``cert``: a proxy's own CA, say) is copied into the build context instead, for the build stages.

    python3 docker/pip_mirror.py --args-file FILE --context-dir DIR
        serve until killed; FILE gets one build argument per line, DIR/.pip-build/ the CA bundle if pip has one
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

# pip settings that name places to find packages; the keys of `pip config list` and the PIP_* variables.
LOCATION_KEYS = ("index-url", "extra-index-url", "find-links", "constraint")
SETTING_KEYS = (*LOCATION_KEYS, "cert")
CERT_IN_BUILD = "/tmp/pip-build/cert.pem"  # where docker/Dockerfile copies the context's .pip-build/


def pip_settings(*, pip: list[str], environ: dict[str, str]) -> dict[str, str]:
    """The merged pip settings that locate packages: config files first, ``PIP_*`` variables over them."""
    out = subprocess.run([*pip, "config", "list"], capture_output=True, text=True, check=False).stdout
    settings: dict[str, str] = {}
    for line in out.splitlines():
        scope_key, _, value = line.partition("=")
        key = scope_key.rpartition(".")[2]
        if key in SETTING_KEYS and not scope_key.startswith(":env:"):
            settings[key] = value.strip().strip("'\"")
    for key in SETTING_KEYS:
        env_value = environ.get("PIP_" + key.upper().replace("-", "_"))
        if env_value:
            settings[key] = env_value
    return settings


def local_path(location: str) -> Path | None:
    """The local path a pip location names (a ``file://`` URL or a path), or None for a remote URL."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and location.startswith("/"):
        return Path(location)
    return None


def served_root(*, key: str, path: Path) -> Path:
    """The folder to serve for one location: an index's parent (its pages link to ``../../files``), a wheel
    folder itself, a constraints file's folder."""
    if key in ("index-url", "extra-index-url"):
        return path.parent
    return path if path.is_dir() else path.parent


def rewrite(settings: dict[str, str], *, base_url: str) -> tuple[dict[str, str], list[Path]]:
    """Settings with every local location replaced by ``base_url/<n>/...``, and the roots ``<n>`` stands for."""
    roots: list[Path] = []
    rewritten: dict[str, str] = {}
    for key, value in settings.items():
        parts = []
        for location in value.split():
            path = local_path(location)
            if path is None:
                parts.append(location)
                continue
            if not path.exists():
                continue  # pip would skip a missing folder too; a build must not fail on it
            root = served_root(key=key, path=path)
            if root not in roots:
                roots.append(root)
            relative = path.relative_to(root).as_posix()
            url = f"{base_url}/{roots.index(root)}/"
            if relative != ".":
                url += relative + ("/" if path.is_dir() else "")
            parts.append(url)
        if parts:
            rewritten[key] = " ".join(parts)
    return rewritten, roots


class RootsHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``/<n>/rest`` from ``roots[n]/rest``; nothing else on the machine is reachable."""

    def __init__(self, *args, roots: list[Path], **kwargs):
        self.roots = roots
        super().__init__(*args, directory=str(roots[0]) if roots else "/nonexistent", **kwargs)

    def translate_path(self, path: str) -> str:
        head, _, rest = unquote(urlparse(path).path).lstrip("/").partition("/")
        if not head.isdigit() or int(head) >= len(self.roots):
            return "/nonexistent"
        root = self.roots[int(head)].resolve()
        target = (root / rest).resolve()
        return str(target) if target == root or root in target.parents else "/nonexistent"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # pip fetches hundreds of pages; the build log shows what it installed


DEFAULT_PORT = 18141  # away from the stack test's 15432, 16379 and 18000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--args-file", required=True, type=Path, help="Where to write the --build-arg lines.")
    parser.add_argument("--pip", default=f"{sys.executable} -m pip", help="The pip whose configuration is used.")
    parser.add_argument("--context-dir", required=True, type=Path, help="Extra build-context files go here.")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PIP_MIRROR_PORT", DEFAULT_PORT)),
        help="Loopback port (default %(default)s, or $PIP_MIRROR_PORT). The URLs become build arguments, and Docker's"
        " build cache keys on those: a fixed port lets the next build reuse the dependency layers.",
    )
    args = parser.parse_args()

    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), None)  # type: ignore[arg-type]
    except OSError as exc:
        print(
            f"port {args.port} is taken ({exc}); a free one is used, so the build cache is not reused", file=sys.stderr
        )
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    settings = pip_settings(pip=args.pip.split(), environ=dict(os.environ))
    cert = settings.pop("cert", "")
    settings, roots = rewrite(settings, base_url=base_url)
    if cert and Path(cert).is_file():
        (args.context_dir / ".pip-build").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cert, args.context_dir / ".pip-build" / "cert.pem")
        settings["cert"] = CERT_IN_BUILD
    server.RequestHandlerClass = functools.partial(RootsHandler, roots=roots)  # type: ignore[assignment]
    lines = [f"PIP_{key.upper().replace('-', '_')}={value}" for key, value in settings.items()]
    tmp = args.args_file.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    tmp.replace(args.args_file)  # the build script waits for this file: it must appear whole
    for line in lines:
        print(f"pip for the build: {line}", file=sys.stderr)
    for n, root in enumerate(roots):
        print(f"serving {root} at {base_url}/{n}/", file=sys.stderr)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
