"""The container deployment files, checked without Docker: docker-compose.yml, interpolated as
compose does, against the Compose Specification schema (deploy/schemas/compose-spec.json), then
for what the schema cannot know (real modules, one worker and one API per service on its port,
secrets from the environment, scalable workers); and the Dockerfile's essentials."""

import ast
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from services.common.config import DEFAULT_PORTS, SERVICES
from services.common.service_classes import WSGI_APPS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())
SECRETS = ("SHEGONG_TOKEN_SECRET", "SHEGONG_PSEUDONYM_KEY")
TEST_ENV = {name: f"test-{name.lower()}" for name in SECRETS + ("RABBITMQ_PASSWORD",)}

# $$ | ${NAME} ${NAME:-x} ${NAME-x} ${NAME:?x} ${NAME?x} ${NAME:+x} ${NAME+x} | $NAME
_VARIABLE = re.compile(r"\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_]\w*))")


def interpolate(value, env):
    """Substitute variables in every string value, with compose's semantics."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match):
        dollar, name, operator, argument, bare = match.groups()
        if dollar:
            return "$"
        name = name or bare
        present = name in env and (env[name] != "" or not (operator or "").startswith(":"))
        if operator in ("-", ":-"):
            return env[name] if present else argument
        if operator in ("?", ":?"):
            if not present:
                raise ValueError(f"required variable {name} is missing: {argument}")
            return env[name]
        if operator in ("+", ":+"):
            return argument if present else ""
        return env.get(name, "")

    return _VARIABLE.sub(substitute, value)


# the schema says "https://json-schema.org/draft-07/schema", which jsonschema does not recognise
_DRAFT = (
    jsonschema.Draft7Validator
    if "draft-07" in SCHEMA["$schema"]
    else jsonschema.validators.validator_for(SCHEMA)
)
_DRAFT.check_schema(SCHEMA)
VALIDATOR = _DRAFT(SCHEMA)


def load_raw():
    """The file as parsed YAML (anchors merged); a JSON round trip un-shares aliased nodes."""
    return json.loads(json.dumps(yaml.safe_load(COMPOSE_FILE.read_text())))


def argv(command):
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def commands(args):
    """What a container runs: its argv, or each `&&` step of an `sh -c` script."""
    if args[:2] == ["sh", "-c"] and len(args) == 3:
        return [shlex.split(step) for step in args[2].split("&&")]
    return [args]


def module_file(dotted, run=False):
    """The file `import dotted` loads (a package's __init__.py), or with run the one
    `python -m dotted` runs (a package's __main__.py); else the module dotted.py."""
    base = ROOT.joinpath(*dotted.split("."))
    package = base / ("__main__.py" if run else "__init__.py")
    return next((p for p in (package, base.with_suffix(".py")) if p.is_file()), None)


def command_problems(args):
    if args[:2] == ["python", "-m"] and len(args) >= 3:
        path = module_file(args[2], run=True)
        if path is None:
            return [f"no module {args[2]} in the repository"]
        guard = re.search(r"__name__ == ['\"]__main__['\"]", path.read_text())
        return [] if guard or path.name == "__main__.py" else [f"{args[2]} has no __main__ guard"]
    if args[:1] == ["gunicorn"] and len(args) >= 2:
        module, _, call = args[1].partition(":")
        path, function = module_file(module), call.removesuffix("()")
        if path is None:
            return [f"no module {module} in the repository"]
        tree = ast.parse(path.read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        return [] if function in defined else [f"{module} defines no {function}()"]
    return [f"unrecognised command {args!r}"]


def environment(service):
    env = service.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.partition("=")[::2] for item in env)


def problems(raw, env=TEST_ENV):
    """Everything wrong with a parsed compose file (empty when it is right)."""
    doc = interpolate(raw, env)
    found = [
        f"schema: /{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in VALIDATOR.iter_errors(doc)
    ]
    services = doc.get("services") or {}
    one_shot, roles = set(), {"worker": {}, "api": {}}
    for name, service in services.items():
        depends = service.get("depends_on") or []
        for target in depends:
            if target not in services:
                found.append(f"{name}: depends_on unknown service {target!r}")
            elif (
                isinstance(depends, dict)
                and depends[target].get("condition") == "service_completed_successfully"
            ):
                one_shot.add(target)
        if "build" not in service:  # only containers of the project image run our code
            continue
        args = argv(service.get("command"))
        found += [
            f"{name}: {problem}"
            for step in commands(args)
            for problem in (
                command_problems(step) if step else ["no command (the default prints usage)"]
            )
        ]
        if args[:3] == ["python", "-m", "services.common.runner"]:
            roles["worker"].setdefault(" ".join(args[3:]), []).append(name)
        elif args[:1] == ["gunicorn"]:
            runs = [s for s, app in WSGI_APPS.items() if args[1:2] == [app]]
            roles["api"].setdefault(runs[0] if runs else args[1], []).append(name)
        raw_env = environment(raw["services"][name])
        for secret in SECRETS:
            if not re.fullmatch(rf"\$\{{{secret}:\?[^}}]*\}}", str(raw_env.get(secret, ""))):
                found.append(f"{name}: {secret} must be a required ${{{secret}:?...}} variable")
    for role, by_service in roles.items():
        for other in set(by_service) - set(SERVICES):
            found.append(f"{by_service[other]}: {role} of no known service ({other})")
        for service_name in SERVICES:
            if by_service.get(service_name, []) != [f"{service_name}-{role}"]:
                found.append(
                    f"{service_name}: want exactly one {role} container "
                    f"{service_name}-{role}, found {by_service.get(service_name, [])}"
                )
    for name in sum(roles["worker"].values(), []):
        found += [
            f"{name}: a scalable worker must not set {key}"
            for key in ("container_name", "ports")
            if key in services[name]
        ]
    for service_name in SERVICES:
        port = DEFAULT_PORTS[service_name]
        for name in roles["api"].get(service_name, []):
            found += api_problems(name, services[name], port)
    for name, service in services.items():
        if name not in one_shot and service.get("restart") != "unless-stopped":
            found.append(f"{name}: a long-running service needs restart: unless-stopped")
    return found


def api_problems(name, service, port):
    healthcheck = " ".join(argv((service.get("healthcheck") or {}).get("test")))
    return [
        f"{name}: {problem}"
        for ok, problem in (
            (f"0.0.0.0:{port}" in argv(service["command"]), f"gunicorn must bind 0.0.0.0:{port}"),
            (f"{port}:{port}" in map(str, service.get("ports", [])), f"must publish {port}:{port}"),
            (
                f"http://127.0.0.1:{port}/healthz" in healthcheck,
                f"needs a /healthz check on {port}",
            ),
        )
        if not ok
    ]


def test_compose_file_is_valid_and_consistent():
    assert problems(load_raw()) == []


def test_required_secrets_fail_interpolation_when_unset():
    with pytest.raises(ValueError, match="SHEGONG_TOKEN_SECRET"):
        interpolate(load_raw(), {"SHEGONG_PSEUDONYM_KEY": "k", "RABBITMQ_PASSWORD": "p"})
    with pytest.raises(ValueError, match="RABBITMQ_PASSWORD"):
        interpolate(load_raw(), {"SHEGONG_PSEUDONYM_KEY": "k", "SHEGONG_TOKEN_SECRET": "s"})


@pytest.mark.parametrize(
    "text, env, expected",
    [
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+r}", {"A": "x"}, "r"),
        ("${A+r}", {"A": ""}, "r"),
        ("$$A $A/${B}", {"A": "1"}, "$A 1/"),
    ],
)
def test_interpolation_follows_compose(text, env, expected):
    assert interpolate(text, env) == expected


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda s: s["casework-worker"].update(retsart="always"),
            "schema: /services/casework-worker",
        ),
        (lambda s: s["mongo"].update(ports=[{"taget": 27017}]), "schema: /services/mongo/ports/0"),
        (
            lambda s: s["init"]["depends_on"].update(redis={"condition": "service_healthy"}),
            "depends_on unknown service 'redis'",
        ),
        (
            lambda s: s["init"].update(command="python -m services.casework.seeds"),
            "no module services.casework.seeds",
        ),
        (
            lambda s: s["intake-worker"].update(command="python -m services.common.config"),
            "no __main__ guard",
        ),
        (
            lambda s: s["reporting-api"].update(
                command="gunicorn services.reporting.domain:create_app()"
            ),
            "reporting-api: services.reporting.domain defines no create_app()",
        ),
        (
            lambda s: s.update({"casework-worker-2": dict(s["casework-worker"])}),
            "casework: want exactly one worker container",
        ),
        (
            lambda s: s["notifications-worker"].update(container_name="nw", ports=["9000:9000"]),
            "notifications-worker: a scalable worker must not set container_name",
        ),
        (
            lambda s: s["casework-api"]["environment"].update(SHEGONG_TOKEN_SECRET="hunter2"),
            "casework-api: SHEGONG_TOKEN_SECRET must be a required",
        ),
        (
            lambda s: s["intake-api"]["command"].__setitem__(3, "0.0.0.0:9001"),
            "intake-api: gunicorn must bind 0.0.0.0:8001",
        ),
        (lambda s: s["casework-api"].pop("healthcheck"), "casework-api: needs a /healthz check"),
        (lambda s: s["rabbitmq"].pop("restart"), "rabbitmq: a long-running service needs restart"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_validator_catches_broken_files(change, expected):
    raw = load_raw()
    change(raw["services"])
    found = problems(raw)
    assert any(expected in problem for problem in found), found


def test_dockerfile_and_dockerignore():
    steps = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    text = "\n".join(steps)
    assert steps[0] == "FROM python:3.11-slim"
    assert [s for s in steps if s.startswith("USER ")][-1] not in ("USER root", "USER 0")
    order = [
        "COPY requirements.txt",
        "pip install --no-cache-dir -r requirements.txt",
        "COPY services/",
        "COPY deploy/",
    ]
    assert [text.index(step) for step in order] == sorted(text.index(step) for step in order)
    assert all(s in text for s in ("WORKDIR /app", "PYTHONPATH=/app", "PYTHONUNBUFFERED=1"))
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", ".env", "test-artifacts"} <= ignored
