"""Every module boundary of the services is annotated (issue 27): each public function
and method of a service layer (``handlers/``), a store adapter (``store/``) and the
dependency providers (``dependencies.py``) says what it takes and what it returns, so
that mypy (check_untyped_defs) checks its callers against it. Read from the source (ast):
a new unannotated function fails here with its module, line and what it lacks. Closures
inside a function are not boundaries and are left out; ``self`` and ``cls`` need none."""

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"


def boundary_modules() -> list[Path]:
    """The modules of every handlers/ and store/ package, and every dependencies.py."""
    return sorted(
        path
        for path in SERVICES.rglob("*.py")
        if {"handlers", "store"} & set(path.relative_to(SERVICES).parts[:-1])
        or path.name == "dependencies.py"
    )


def _definitions(body: list[ast.stmt]):
    """The functions of a module and the methods of its classes (nested classes too)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from _definitions(node.body)


def unannotated(source: str) -> list[str]:
    """``line name: what is missing`` for each public function or method of ``source``
    without a return annotation or with a parameter not annotated."""
    found = []
    for node in _definitions(ast.parse(source).body):
        if node.name.startswith("_"):
            continue
        arguments = node.args
        parameters = [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            *([arguments.vararg] if arguments.vararg else []),
            *([arguments.kwarg] if arguments.kwarg else []),
        ]
        missing = [
            p.arg for p in parameters if p.annotation is None and p.arg not in ("self", "cls")
        ]
        if node.returns is None:
            missing.append("return")
        if missing:
            found.append(f"{node.lineno} {node.name}: {', '.join(missing)}")
    return found


def test_the_boundaries_are_found():
    names = {str(path.relative_to(SERVICES)) for path in boundary_modules()}
    for expected in (
        "casework/handlers/__init__.py",
        "casework/store/records.py",
        "notifications/handlers/batch.py",
        "notifications/store/webhooks.py",
        "intake/store/__init__.py",
        "reporting/handlers/projector.py",
        "common/dependencies.py",
        "notifications/dependencies.py",
    ):
        assert expected in names


def test_the_check_sees_what_is_missing():
    source = (
        "def open_case(store, request): ...\n"
        "def half(store: dict, limit) -> int: ...\n"
        "def whole(store: dict, *ids: str, **given: int) -> None: ...\n"
        "def _private(store): ...\n"
        "class Store:\n"
        "    def get(self, case_id: str): ...\n"
        "    def put(self, case: dict) -> None:\n"
        "        def closure(x): ...\n"
    )
    assert unannotated(source) == [
        "1 open_case: store, request, return",
        "2 half: limit",
        "6 get: return",
    ]


@pytest.mark.parametrize(
    "module", boundary_modules(), ids=lambda path: str(path.relative_to(SERVICES))
)
def test_every_public_function_is_annotated(module):
    assert unannotated(module.read_text(encoding="utf-8")) == []
