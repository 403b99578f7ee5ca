"""Revoked tokens: a per-subject "not before" in ``SHEGONG_TOKEN_REVOCATIONS_FILE``; the
tokens of that subject issued before it are refused (auth.verify_token). ``revoke`` is
what ``python -m services.common.credentials revoke <subject>`` writes."""

import json
import logging
import os
import threading
import time

log = logging.getLogger(__name__)


class Revocations:
    """Per-subject "not before" times (epoch seconds) in a JSON file
    ``{"not_before": {"<subject>": <epoch s>}}``, re-read when the file changes. A file
    that exists but cannot be read refuses every token (fail closed)."""

    def __init__(self, path):
        self.path = str(path) if path else ""
        self._lock = threading.Lock()
        self._stamp, self._table = None, {}

    def not_before(self, subject):
        return self._current().get(subject, 0)

    def _current(self):
        try:
            stat = os.stat(self.path) if self.path else None
        except FileNotFoundError:
            stat = None
        stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
        with self._lock:
            if stamp != self._stamp:
                self._table = self._read() if stat else {}
                self._stamp = stamp
            return self._table

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                table = json.load(handle)["not_before"]
            return {str(subject): float(at) for subject, at in table.items()}
        except Exception as exc:  # noqa: BLE001 - unreadable: refuse rather than let in
            log.error(
                "token revocation file %s unreadable (%s); refusing every token",
                self.path,
                type(exc).__name__,
            )
            return _RefuseAll()


class _RefuseAll(dict):
    def get(self, key, default=None):
        return float("inf")


def revoke(path, subject, now=None):
    """Refuse every token of ``subject`` issued up to now; new ones are accepted."""
    table = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            table = json.load(handle).get("not_before", {})
    table[subject] = int(now if now is not None else time.time()) + 1
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"not_before": table}, handle, ensure_ascii=False, indent=2)
    os.replace(temporary, path)  # readers see the old file or the new one, never half
    return table[subject]
