#!/usr/bin/env python3
"""Validate ``docker-compose.yml`` without Docker.

Usage: ``python deploy/compose_check.py [docker-compose.yml]`` (``make compose-check``).

There is no Docker engine on our development and CI machines, so the compose file would otherwise only be
tested by whoever runs ``docker compose up`` next. This checker catches the mistakes that break that run:
dangling or impossible ``depends_on`` conditions, commands pointing at modules that do not exist, ``EXEML_*``
variables that no settings class reads (a typo silently falls back to a default), interpolations that need a
value nobody documents, host-port clashes and undeclared named volumes.

Each check is a function ``check_*(compose, ...) -> list[str]`` returning one ``"service: problem"`` string
per problem, so tests can call them on small snippets. The module has no dependency beyond PyYAML except
the settings check, which imports each service's ``<service>.config`` module (the repo is installed in the
project venv; the source folders are added to ``sys.path`` as a fallback).
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "OUR_SERVICES",
    "ComposeError",
    "SettingsUnavailable",
    "check_build_or_image",
    "check_commands",
    "check_dependency_cycles",
    "check_depends_on",
    "check_env_vars",
    "check_host_ports",
    "check_interpolations",
    "check_volumes",
    "load_compose",
    "main",
    "run_checks",
    "service_package",
    "settings_env_names",
]

Compose = dict[str, Any]
Service = Mapping[str, Any]
#: Resolves a service package name to the env var names its settings accept; ``None`` or raising
#: :class:`SettingsUnavailable` means it cannot tell (reported as a problem).
EnvResolver = Callable[[str], "set[str] | None"]

REPO_ROOT = Path(__file__).resolve().parent.parent
OUR_SERVICES: tuple[str, ...] = (
    "gateway",
    "dataset",
    "labeling",
    "trainer",
    "registry",
    "inference",
    "workflow",
)
VALID_CONDITIONS = frozenset({"service_started", "service_healthy", "service_completed_successfully"})
# A one-shot dependency never "completes" if Docker restarts it after a successful exit.
RESTARTING_POLICIES = frozenset({"always", "unless-stopped"})
MIGRATE_MODULE = "shared.db.migrate"
_NAMED_VOLUME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_APP_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*)$")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --------------------------------------------------------------------------------------------- loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader (anchors and ``<<`` merge keys included) that rejects duplicate mapping keys.

    PyYAML keeps the last of two equal keys silently; Docker Compose refuses the file. A second
    ``environment:`` in one service would otherwise drop the first without a word.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys may legitimately be overridden by explicit ones
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class ComposeError(ValueError):
    """The file is not a compose file at all (unparsable YAML, no ``services`` mapping)."""


def load_compose(path: Path) -> Compose:
    """Parse a compose file, resolving anchors and merge keys; raise :class:`ComposeError` on malformed input."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ComposeError(f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ComposeError("no 'services' mapping at the top level")
    return data


def load_env_example(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a dotenv file (comments and blank lines skipped); empty if it is missing."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def services_of(compose: Compose) -> dict[str, Service]:
    """The ``services`` mapping, with ``None`` bodies (``svc:`` alone) read as empty."""
    return {name: (body or {}) for name, body in compose.get("services", {}).items()}


# ---------------------------------------------------------------------------------------- depends_on


def depends_on_of(service: Service) -> dict[str, str]:
    """``depends_on`` as ``{target: condition}``; the short (list) form means ``service_started``."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {str(target): "service_started" for target in raw}
    return {
        str(target): str((spec or {}).get("condition", "service_started")) for target, spec in raw.items()
    }


def has_healthcheck(service: Service) -> bool:
    """Whether the compose file itself gives the service a usable healthcheck."""
    check = service.get("healthcheck")
    if not isinstance(check, Mapping) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test != ["NONE"]


def check_depends_on(compose: Compose) -> list[str]:
    """Targets exist, conditions are valid and satisfiable (healthcheck present, one-shots not restarted)."""
    services = services_of(compose)
    problems: list[str] = []
    for name, service in services.items():
        for target, condition in depends_on_of(service).items():
            if target not in services:
                problems.append(f"{name}: depends_on unknown service '{target}'")
                continue
            if condition not in VALID_CONDITIONS:
                problems.append(f"{name}: depends_on '{target}' has invalid condition '{condition}'")
            elif condition == "service_healthy" and not has_healthcheck(services[target]):
                problems.append(
                    f"{name}: depends_on '{target}' with service_healthy, but '{target}' has no healthcheck"
                )
            elif (
                condition == "service_completed_successfully"
                and str(services[target].get("restart", "no")) in RESTARTING_POLICIES
            ):
                problems.append(
                    f"{name}: depends_on '{target}' with service_completed_successfully, "
                    f"but '{target}' has restart: {services[target]['restart']}"
                )
    return problems


def check_dependency_cycles(compose: Compose) -> list[str]:
    """``depends_on`` must be acyclic, or Compose refuses to start anything."""
    services = services_of(compose)
    graph = {name: [t for t in depends_on_of(svc) if t in services] for name, svc in services.items()}
    problems: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                problems.append(f"{nxt}: depends_on cycle {' -> '.join(cycle)}")
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    return problems


# ----------------------------------------------------------------------------------------- build/image


def check_build_or_image(compose: Compose, base_dir: Path) -> list[str]:
    """Every service has an ``image`` or a ``build`` whose context and Dockerfile exist."""
    problems: list[str] = []
    for name, service in services_of(compose).items():
        build = service.get("build")
        if build is None:
            if not service.get("image"):
                problems.append(f"{name}: neither 'image' nor 'build'")
            continue
        spec = {"context": build} if isinstance(build, str) else dict(build)
        context_ref = str(spec.get("context", "."))
        if "://" in context_ref or context_ref.startswith("git@"):
            continue  # remote context: nothing local to check
        context = (base_dir / context_ref).resolve()
        if not context.is_dir():
            problems.append(f"{name}: build context '{context_ref}' does not exist")
            continue
        if "dockerfile_inline" in spec:
            continue
        dockerfile = str(spec.get("dockerfile", "Dockerfile"))
        if not (context / dockerfile).is_file():
            problems.append(f"{name}: Dockerfile '{dockerfile}' not found in build context '{context_ref}'")
    return problems


# -------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Invocation:
    """One entry point a compose command starts: ``kind`` is ``uvicorn`` or ``module`` (``python -m``)."""

    kind: str
    module: str
    attr: str | None = None
    args: tuple[str, ...] = ()


def command_tokens(service: Service) -> tuple[list[str], list[str]]:
    """``entrypoint + command`` as tokens, plus problems with their form (Compose wants strings only)."""
    tokens: list[str] = []
    problems: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            try:
                tokens += shlex.split(value)
            except ValueError as exc:  # unbalanced quotes: Compose would refuse it too
                problems.append(f"{key} cannot be split into words: {exc}")
        elif isinstance(value, list):
            bad = [item for item in value if not isinstance(item, str)]
            if bad:
                problems.append(f"{key} items must be strings, got {bad!r}")
            tokens += [str(item) for item in value]
        else:
            problems.append(f"{key} must be a string or a list of strings")
    return tokens, problems


def find_invocations(tokens: list[str]) -> Iterator[Invocation]:
    """The entry points in a token list; ``sh -c "..."`` scripts are split and searched too."""
    for i, token in enumerate(tokens):
        base = Path(token).name
        if base in {"sh", "bash"} and tokens[i + 1 : i + 2] == ["-c"] and i + 2 < len(tokens):
            for line in re.split(r"[;\n]|&&|\|\|", tokens[i + 2]):
                try:
                    words = shlex.split(line, comments=True)
                except ValueError:
                    continue  # a separator inside quotes cut this line; nothing of ours hides there
                yield from find_invocations(words)
            return
        if base == "uvicorn" or (token == "-m" and tokens[i + 1 : i + 2] == ["uvicorn"]):
            start = i + (2 if token == "-m" else 1)
            spec = next((t for t in tokens[start:] if _APP_SPEC.match(t)), None)
            if spec:
                module, attr = spec.split(":")
                yield Invocation("uvicorn", module, attr, tuple(tokens[start:]))
            return
        if token == "-m" and i + 1 < len(tokens):
            yield Invocation("module", tokens[i + 1], None, tuple(tokens[i + 2 :]))
            return


def package_dir(package: str, repo_root: Path) -> Path | None:
    """Where a top-level package of ours lives in the repo (``None``: not ours, e.g. ``alembic``)."""
    if package == "shared":
        return repo_root / "shared"
    if package in OUR_SERVICES:
        return repo_root / "services" / package / package
    return None


def module_file(module: str, repo_root: Path, *, runnable: bool = False) -> Path | None:
    """The source file of a dotted module of ours (``X/__main__.py`` for a package run with ``-m``)."""
    top, *rest = module.split(".")
    root = package_dir(top, repo_root)
    if root is None:
        return None
    path = root.joinpath(*rest)
    candidates = [path.with_suffix(".py"), path / ("__main__.py" if runnable else "__init__.py")]
    if not rest:
        candidates = [root / ("__main__.py" if runnable else "__init__.py")]
    return next((c for c in candidates if c.is_file()), candidates[0])


def defines_name(tree: ast.Module, name: str) -> bool:
    """A top-level ``def``/``class``, assignment or import binds ``name``."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name.split(".")[0]) == name for alias in node.names
        ):
            return True
    return False


def has_main_guard(tree: ast.Module) -> bool:
    """``if __name__ == "__main__":`` at the top level."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            parts = [node.test.left, *node.test.comparators]
            names = {p.id for p in parts if isinstance(p, ast.Name)}
            consts = {p.value for p in parts if isinstance(p, ast.Constant)}
            if "__name__" in names and "__main__" in consts:
                return True
    return False


def parse_module(path: Path) -> ast.Module | str:
    """The module's AST, or a problem string when it is missing or does not parse."""
    if not path.is_file():
        return f"module file {path} does not exist"
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return f"{path} does not parse: {exc.msg} (line {exc.lineno})"


def check_invocation(inv: Invocation, repo_root: Path) -> list[str]:
    """Problems with one entry point of ours; entry points of third-party modules are not checked."""
    path = module_file(inv.module, repo_root, runnable=inv.kind == "module")
    if path is None:
        return []
    tree = parse_module(path)
    if isinstance(tree, str):
        return [f"'{inv.module}': {tree}"]
    problems: list[str] = []
    if inv.kind == "uvicorn":
        if not defines_name(tree, inv.attr or ""):
            problems.append(f"'{inv.module}' ({path}) does not define '{inv.attr}'")
        return problems
    if not (has_main_guard(tree) or defines_name(tree, "main")):
        problems.append(f"'{inv.module}' ({path}) has neither a __main__ guard nor a main function")
    if inv.module == MIGRATE_MODULE:
        problems += check_migrate_args(inv.args, repo_root)
    return problems


def check_migrate_args(args: tuple[str, ...], repo_root: Path) -> list[str]:
    """``shared.db.migrate <service> ...``: a known service that has an Alembic tree."""
    if not args:
        return [f"'{MIGRATE_MODULE}' needs a service name"]
    target = args[0]
    if target not in OUR_SERVICES:
        return [f"'{MIGRATE_MODULE}' names unknown service '{target}'"]
    env_py = repo_root / "services" / target / "migrations" / "env.py"
    return [] if env_py.is_file() else [f"'{MIGRATE_MODULE} {target}': {env_py} does not exist"]


def check_commands(compose: Compose, repo_root: Path) -> list[str]:
    """Every ``uvicorn``/``python -m`` entry point of ours names a module that exists and can start."""
    problems: list[str] = []
    for name, service in services_of(compose).items():
        tokens, form_problems = command_tokens(service)
        problems += [f"{name}: {p}" for p in form_problems]
        for inv in find_invocations(tokens):
            problems += [f"{name}: {p}" for p in check_invocation(inv, repo_root)]
    return problems


def service_package(name: str, service: Service) -> str | None:
    """Which of our service packages a compose service runs: from its command, else from its name."""
    tokens, _ = command_tokens(service)
    for inv in find_invocations(tokens):
        if inv.module == MIGRATE_MODULE and inv.args and inv.args[0] in OUR_SERVICES:
            return inv.args[0]
        top = inv.module.split(".")[0]
        if top in OUR_SERVICES:
            return top
    base = re.sub(r"-(worker|migrate)$", "", name)
    return base if base in OUR_SERVICES else None


# ------------------------------------------------------------------------------------------- env vars


def environment_of(service: Service) -> dict[str, Any]:
    """``environment`` as a mapping (the list form ``NAME=value`` / ``NAME`` included)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {name: (value if sep else None) for name, sep, value in pairs}
    return dict(raw)


class SettingsUnavailable(LookupError):
    """A service's ``Settings`` class cannot be loaded; the message says why."""


def settings_env_names(package: str) -> set[str]:
    """Env var names the ``Settings`` class of ``<package>.config`` reads.

    A field ``foo`` of service ``x`` is read from ``EXEML_X_FOO`` or ``EXEML_FOO`` (shared/settings.py).
    Raises :class:`SettingsUnavailable` when the class cannot be loaded.
    """
    settings_cls = _load_settings_class(package)
    service = str(getattr(settings_cls, "service_name", package)).upper()
    fields = [f.upper() for f in settings_cls.model_fields]
    return {f"EXEML_{f}" for f in fields} | {f"EXEML_{service}_{f}" for f in fields}


def _load_settings_class(package: str) -> Any:
    """Import ``<package>.config`` and return its ``Settings``, which must subclass ``ServiceSettings``."""
    for path in (REPO_ROOT, REPO_ROOT / "services" / package):
        # Fallback for an interpreter without the editable install; appended so an install wins.
        if str(path) not in sys.path:
            sys.path.append(str(path))
    try:
        base = importlib.import_module("shared.settings").ServiceSettings
        module = importlib.import_module(f"{package}.config")
    except Exception as exc:  # whatever breaks the import is the reason to report
        raise SettingsUnavailable(f"cannot import '{package}.config': {type(exc).__name__}: {exc}") from exc
    settings_cls = getattr(module, "Settings", None)
    if not (isinstance(settings_cls, type) and issubclass(settings_cls, base)):
        raise SettingsUnavailable(f"'{package}.config' has no ServiceSettings subclass named Settings")
    return settings_cls


def check_env_vars(compose: Compose, resolver: EnvResolver = settings_env_names) -> list[str]:
    """Every ``EXEML_*`` variable set on one of our services is read by that service's settings."""
    problems: list[str] = []
    cache: dict[str, set[str] | str | None] = {}
    for name, service in services_of(compose).items():
        package = service_package(name, service)
        if package is None:
            continue  # infrastructure containers: their env is not ours to judge
        names = [n for n in environment_of(service) if n.startswith("EXEML_")]
        if not names:
            continue
        if package not in cache:
            try:
                cache[package] = resolver(package)
            except SettingsUnavailable as exc:
                cache[package] = str(exc)
        accepted = cache[package]
        if not isinstance(accepted, set):
            reason = accepted or f"cannot load Settings from '{package}.config'"
            problems.append(f"{name}: {reason}, so its EXEML_* variables cannot be checked")
            continue
        problems += [
            f"{name}: {var} is not a settings field of '{package}'" for var in names if var not in accepted
        ]
    return problems


# -------------------------------------------------------------------------------------- interpolation


@dataclass(frozen=True)
class Interpolation:
    """One ``${NAME...}``/``$NAME`` reference: ``required`` when it has no default value."""

    name: str
    required: bool
    default: str | None


def scan_interpolations(text: str) -> Iterator[Interpolation]:
    """Compose interpolations in a string: ``$$`` escapes; defaults may nest further interpolations."""
    i = 0
    while i < len(text):
        if text[i] != "$":
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            i += 2
        elif nxt == "{":
            end, depth = i + 2, 1
            while end < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            yield from _parse_braced(text[i + 2 : end - 1])
            i = end
        else:
            match = _VAR_NAME.match(text, i + 1)
            if match:
                yield Interpolation(match.group(), True, None)
                i = match.end()
            else:
                i += 1


def _parse_braced(body: str) -> Iterator[Interpolation]:
    """The inside of ``${...}``: ``NAME``, ``NAME:-default``, ``NAME-default``, ``NAME:?err``, ``NAME:+alt``."""
    match = _VAR_NAME.match(body)
    if not match:
        return
    name, rest = match.group(), body[match.end() :]
    op = rest[:2] if rest[:2] in {":-", ":?", ":+"} else rest[:1]
    arg = rest[len(op) :]
    if op in {":-", "-"}:
        yield Interpolation(name, False, arg)
        yield from scan_interpolations(arg)
    elif op in {":+", "+"}:
        yield Interpolation(name, False, None)  # only substitutes when NAME is set
        yield from scan_interpolations(arg)
    else:
        yield Interpolation(name, True, None)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute interpolations the way Compose would, from ``env`` and then inline defaults."""

    def sub(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$$":
            return "$"
        inner = match.group("braced") or match.group("bare")
        found = next(_parse_braced(inner), None)
        if found is None:
            return whole
        value = env.get(found.name)
        if value:
            return value
        return interpolate(found.default, env) if found.default is not None else ""

    pattern = r"\$\$|\$\{(?P<braced>(?:[^{}]|\{[^{}]*\})*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    return re.sub(pattern, sub, text)


def walk_strings(node: Any) -> Iterator[str]:
    """Every string (keys included) in a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from walk_strings(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


def check_interpolations(compose: Compose, env_example: Mapping[str, str]) -> list[str]:
    """Each interpolation without a default is documented in ``.env.example``; one line per variable.

    Anchored blocks repeat the same reference in many services, so a missing variable is reported once,
    naming the first service that uses it and how many others do.
    """
    users: dict[str, list[str]] = {}
    owners: list[tuple[str, Any]] = list(services_of(compose).items())
    owners += [(key, value) for key, value in compose.items() if key != "services"]
    for owner, tree in owners:
        for text in walk_strings(tree):
            for ref in scan_interpolations(text):
                if (
                    ref.required
                    and ref.name not in env_example
                    and owner not in users.setdefault(ref.name, [])
                ):
                    users[ref.name].append(owner)
    problems = []
    for var, where in sorted(users.items()):
        more = f" (also used by {len(where) - 1} more)" if len(where) > 1 else ""
        problems.append(f"{where[0]}: ${{{var}}} has no default and is not listed in .env.example{more}")
    return problems


# ----------------------------------------------------------------------------------------------- ports


@dataclass(frozen=True)
class HostPort:
    """A published host port: ``ip`` empty for all interfaces."""

    ip: str
    port: str
    protocol: str


def published_ports(entry: Any, env: Mapping[str, str]) -> list[HostPort]:
    """Host ports one ``ports`` entry publishes (none for a container-only port); ranges expanded."""
    if isinstance(entry, Mapping):
        published = entry.get("published")
        if published in (None, ""):
            return []
        ip, host, proto = (
            str(entry.get("host_ip", "")),
            interpolate(str(published), env),
            entry.get("protocol", "tcp"),
        )
    else:
        text = interpolate(str(entry), env)
        text, _, proto = text.partition("/")
        parts = text.rsplit(":", 2)
        if len(parts) == 1:
            return []  # container port only: Docker picks an ephemeral host port
        ip, host = (parts[0], parts[1]) if len(parts) == 3 else ("", parts[0])
        proto = proto or "tcp"
    ip = "" if ip in ("0.0.0.0", "::", "[::]") else ip.strip("[]")
    if not host:
        return []
    low, _, high = host.partition("-")
    if low.isdigit() and high.isdigit():
        return [HostPort(ip, str(p), str(proto)) for p in range(int(low), int(high) + 1)]
    return [HostPort(ip, host, str(proto))]


def check_host_ports(compose: Compose, env: Mapping[str, str]) -> list[str]:
    """No host port is published twice (an all-interfaces binding clashes with any IP's)."""
    taken: list[tuple[HostPort, str]] = []
    problems: list[str] = []
    for name, service in services_of(compose).items():
        for entry in service.get("ports") or []:
            for port in published_ports(entry, env):
                clash = next(
                    (
                        owner
                        for other, owner in taken
                        if (other.port, other.protocol) == (port.port, port.protocol)
                        and (not other.ip or not port.ip or other.ip == port.ip)
                    ),
                    None,
                )
                if clash is not None:
                    problems.append(
                        f"{name}: host port {port.port}/{port.protocol} is already published by '{clash}'"
                    )
                taken.append((port, name))
    return problems


# --------------------------------------------------------------------------------------------- volumes


def named_volume(entry: Any, env: Mapping[str, str]) -> str | None:
    """The named volume a service ``volumes`` entry mounts (``None``: bind mount, anonymous, tmpfs)."""
    if isinstance(entry, Mapping):
        source = entry.get("source")
        if entry.get("type", "volume") != "volume" or not source:
            return None
        return str(source)
    parts = interpolate(str(entry), env).split(":")
    if len(parts) < 2:
        return None  # anonymous volume
    source = parts[0]
    return source if _NAMED_VOLUME.match(source) else None


def check_volumes(compose: Compose, env: Mapping[str, str]) -> list[str]:
    """Every named volume a service mounts is declared under the top-level ``volumes``."""
    declared = set((compose.get("volumes") or {}).keys())
    problems: list[str] = []
    for name, service in services_of(compose).items():
        for entry in service.get("volumes") or []:
            volume = named_volume(entry, env)
            if volume is not None and volume not in declared:
                problems.append(f"{name}: named volume '{volume}' is not declared under top-level 'volumes'")
    return problems


# ------------------------------------------------------------------------------------------------ main


def run_checks(compose_path: Path, resolver: EnvResolver = settings_env_names) -> tuple[list[str], int]:
    """All checks on one compose file: ``(problems, number of services)``.

    The repository root is taken to be the compose file's folder, as for ``docker compose`` itself;
    ``.env.example`` is read from there.
    """
    try:
        compose = load_compose(compose_path)
    except (OSError, ValueError) as exc:
        return [f"compose: {exc}"], 0
    base_dir = compose_path.resolve().parent
    env = load_env_example(base_dir / ".env.example")
    problems = [
        *check_depends_on(compose),
        *check_dependency_cycles(compose),
        *check_build_or_image(compose, base_dir),
        *check_commands(compose, base_dir),
        *check_env_vars(compose, resolver),
        *check_interpolations(compose, env),
        *check_host_ports(compose, env),
        *check_volumes(compose, env),
    ]
    return problems, len(services_of(compose))


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: print one line per problem; exit 1 if there is any."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else REPO_ROOT / "docker-compose.yml"
    problems, count = run_checks(path)
    for problem in problems:
        print(problem)
    if problems:
        print(f"compose-check: {len(problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    print(f"compose-check: {count} services OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
