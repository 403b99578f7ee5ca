"""Secrets only from the environment: nothing in the repository looks like a real key,
token or password; only services/common/config.py reads the environment; the
development keys of the external systems live in docs and tests only (the registry
keeps their SHA-256), and no secret is ever written to git."""

import json
import math
import re
import subprocess
from collections import Counter
from pathlib import Path

from services.intake.systems import DEFAULT_FILE, key_digest

ROOT = Path(__file__).resolve().parents[2]
DEV_KEYS = (
    "dev-civil-affairs-key",
    "dev-elderly-care-key",
    "dev-petition-office-key",
    "dev-disabled-federation-key",
    "dev-health-commission-key",
)
# what real credentials look like
SHAPES = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "Aliyun AccessKey": re.compile(r"\bLTAI[0-9A-Za-z]{12,30}\b"),
    "Tencent SecretId": re.compile(r"\bAKID[0-9A-Za-z]{28,40}\b"),
    "JSON Web Token": re.compile(
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."
        r"[A-Za-z0-9_-]{16,}"
    ),
    "credentials in a URL": re.compile(r"\b[a-z+]+://(?!guest:guest@)[^\s:/@\"'$]+:[^\s@/\"'$]+@"),
}
ASSIGNED = re.compile(
    r"(?i)(secret|token|passw(or)?d|api_?key|access_?key|private_?key)\w*"
    r"[\"']?\s*[:=]\s*[\"']([^\"'\s$]{16,})[\"']"
)
PLAINLY_FAKE = re.compile(
    r"(?i)test|fake|dev|example|not-the|dummy|placeholder|changeme|"
    r"replace-me|secret|local|sample|<[A-Za-z_-]+>"
)


def tracked_files():
    names = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, names):
        path = ROOT / name
        if path.is_file() and path.stat().st_size < 2_000_000:
            try:
                yield name, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary


def entropy(text):
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def test_nothing_in_the_repository_looks_like_a_real_credential():
    found = []
    for name, text in tracked_files():
        for what, shape in SHAPES.items():
            found += [
                f"{name}: {what}: {m.group(0)[:40]}"
                for m in shape.finditer(text)
                if not (what == "credentials in a URL" and PLAINLY_FAKE.search(m.group(0)))
            ]
        for match in ASSIGNED.finditer(text):
            value = match.group(3)
            # a random string assigned to a secret's name, not a plainly fake one
            if not PLAINLY_FAKE.search(value) and entropy(value) > 3.5:
                found.append(f"{name}: {match.group(0)[:60]}")
    assert found == []


def test_no_key_or_environment_file_is_tracked():
    names = [name for name, _ in tracked_files()]
    assert not [n for n in names if re.search(r"(^|/)(\.env|id_rsa|.*\.pem|.*\.key|.*\.p12)$", n)]
    ignored = (ROOT / ".gitignore").read_text()
    assert "var/" in ignored  # the development token secret and credentials live there


def test_only_the_configuration_module_reads_the_environment():
    readers = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "services").rglob("*.py")
        if re.search(r"os\.environ|getenv", path.read_text(encoding="utf-8"))
    ]
    assert readers == ["services/common/config.py"]


def test_the_development_keys_live_in_docs_and_tests_only():
    for name, text in tracked_files():
        if any(key in text for key in DEV_KEYS):
            assert name.startswith(("docs/", "tests/")) or name == "README.md", name
    registry = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    hashes = {entry["key_sha256"] for entry in registry["systems"]}
    assert hashes == {key_digest(key) for key in DEV_KEYS}  # the registry keeps digests
    assert "development" in registry["_comment"].lower()


def test_the_deployment_takes_every_secret_from_the_environment():
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for line in compose.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and re.search(r"SECRET|TOKEN|PASSWORD|_KEY\b|KEY_", key):
            assert value.strip().strip('"').startswith("${"), line
