"""The development SMS sink reads only what was appended since its last send, yet still
recognises a message sent by another process (idempotent, as the gateway protocol asks)."""

from services.notifications.providers import DevFileProvider


def message(message_id):
    return {
        "_id": message_id,
        "phone": "13812345678",
        "signature": "宿豫社工",
        "provider_code": "SMS_SHEGONG_001",
        "body": "【宿豫社工】测试",
        "recipient_role": "worker",
        "case_id": "case-1",
    }


def test_a_message_sent_by_another_process_is_not_written_again(tmp_path):
    sink = tmp_path / "sms.jsonl"
    first, second = DevFileProvider(sink), DevFileProvider(sink)
    sent = first.send(message("e-1:worker:case_assigned_worker"))
    assert second.send(message("e-2:worker:case_assigned_worker")) != sent
    assert second.send(message("e-1:worker:case_assigned_worker")) == sent
    assert first.send(message("e-2:worker:case_assigned_worker")) == second.send(
        message("e-2:worker:case_assigned_worker")
    )
    assert len(sink.read_text(encoding="utf-8").splitlines()) == 2


def test_a_replaced_or_removed_file_is_read_again_from_its_start(tmp_path):
    sink = tmp_path / "sms.jsonl"
    provider = DevFileProvider(sink)
    provider.send(message("e-1:worker:t"))
    provider.send(message("e-2:worker:t"))
    sink.unlink()
    provider.send(message("e-3:worker:t"))  # a fresh file
    assert provider.send(message("e-3:worker:t"))
    provider.send(message("e-1:worker:t"))  # no longer in the file: written again
    lines = sink.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "e-1:worker:t" in lines[1]
