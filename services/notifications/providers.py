"""SMS providers behind one interface: ``send(message) -> provider_message_id``.

Only the development sink exists so far: it plays the carrier by appending each SMS
to a JSON-lines file (``var/sms.jsonl``), with the number masked.
"""
import json
import threading
import uuid
from pathlib import Path

from services.common.privacy import mask_phone


class DevFileProvider:
    name = "dev_file"

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message):
        provider_id = f"dev-{uuid.uuid4().hex[:16]}"
        line = {"provider_id": provider_id, "message_id": message["_id"],
                "to": mask_phone(message["phone"]), "template_code": message["provider_code"],
                "sign_name": message["signature"], "text": message["body"],
                "recipient_role": message["recipient_role"], "case_id": message.get("case_id")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as sink:
            sink.write(json.dumps(line, ensure_ascii=False) + "\n")
        return provider_id


def provider_from(settings):
    if settings.sms_provider == "dev_file":
        return DevFileProvider(settings.sms_file)
    raise ValueError(f"unknown SMS provider {settings.sms_provider!r}")
