"""Example data of every event type for the generated docs: the story of 29 May 2023."""

import uuid

REQUEST_ID = "7d2b1c9e-5f4a-4e57-9a0b-3c1d2e4f5a6b"
CASE_ID = "case-0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
EVENT_IDS = {
    "shegong.request.received.v1": "3a4c8e51-0d6f-4b2a-9c71-5e8f0a1b2c3d",
    "shegong.case.opened.v1": "b61d2f04-7a3e-4c59-8e12-0f9a8b7c6d5e",
    "shegong.case.assigned.v1": "c82e3a15-8b4f-4d6a-9f23-1a0b9c8d7e6f",
    "shegong.case.accepted.v1": "d93f4b26-9c5a-4e7b-a034-2b1c0d9e8f7a",
    "shegong.case.action_recorded.v1": "e04a5c37-ad6b-4f8c-b145-3c2d1e0f9a8b",
    "shegong.case.resolved.v1": "f15b6d48-be7c-409d-c256-4d3e2f1a0b9c",
    "shegong.message.sent.v1": "0a2c7e59-cf8d-41ae-d367-5e4f3a2b1c0d",
}
EVENT_IDS.update(
    {
        contract_type: str(uuid.uuid5(uuid.NAMESPACE_URL, contract_type))
        for contract_type in (
            "shegong.resident.registry_updated.v1",
            "shegong.case.request_linked.v1",
            "shegong.case.escalated.v1",
            "shegong.case.sla_breached.v1",
            "shegong.case.referred.v1",
            "shegong.case.referral_answered.v1",
            "shegong.case.closed.v1",
            "shegong.case.reopened.v1",
            "shegong.case.cancelled.v1",
            "shegong.program.volunteer_team_formed.v1",
            "shegong.program.volunteer_joined.v1",
            "shegong.program.social_organisation_cultivated.v1",
            "shegong.program.donation_received.v1",
            "shegong.program.aid_distributed.v1",
            "shegong.program.activity_held.v1",
            "shegong.message.delivered.v1",
            "shegong.message.failed.v1",
            "shegong.referral.sent.v1",
            "shegong.referral.answered.v1",
            "shegong.station.roster_published.v1",
            "shegong.case.resident_unreached.v1",
            "shegong.program.record_corrected.v1",
        )
    }
)
HTTP_CORRELATION = "http:5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
WORKER_MESSAGE_ID = f"{EVENT_IDS['shegong.case.assigned.v1']}:worker:case_assigned_worker"
CASE_REF = {"case_id": CASE_ID, "request_id": REQUEST_ID, "station": "daxing"}
REFERRAL_ID = "ref-2b3c4d5e-6f70-4819-a2b3-c4d5e6f70819"
AGENCY_EVENT_ID = "hc-answer-20230529-0001"


def _at(status):
    return {**CASE_REF, "status": status}


# type -> (data, subject, causation id, sequence, time)
EXAMPLES = {
    "shegong.request.received.v1": (
        {
            "request_id": REQUEST_ID,
            "channel": "phone",
            "station": "daxing",
            "resident": {
                "name": "邹书兰",
                "phone": "13700000001",
                "categories": ["elderly", "living_alone", "key_concern"],
            },
            "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
            "need": {"type": "medicine_purchase", "description": "药吃完了，下雨两天出不了门"},
            "received_at": "2023-05-29T08:00:00+08:00",
            "repeat_of": None,
            "source": None,
        },
        REQUEST_ID,
        None,
        1,
        "2023-05-29T08:02:10+08:00",
    ),
    "shegong.case.opened.v1": (
        {
            **_at("received"),
            "priority": "urgent",
            "priority_reason": "重点关注对象且独居",
            "need_type": "medicine_purchase",
            "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
            "categories": ["elderly", "living_alone", "key_concern"],
            "request_received_at": "2023-05-29T08:00:00+08:00",
            "opened_at": "2023-05-29T08:02:11+08:00",
        },
        CASE_ID,
        EVENT_IDS["shegong.request.received.v1"],
        1,
        "2023-05-29T08:02:11+08:00",
    ),
    "shegong.case.assigned.v1": (
        {
            **_at("assigned"),
            "priority": "urgent",
            "need_type": "medicine_purchase",
            "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
            "resident": {"name": "邹**", "phone": "137****0001"},
            "reason": "initial",
            "origin": None,
            "assigned_at": "2023-05-29T08:02:11+08:00",
        },
        CASE_ID,
        EVENT_IDS["shegong.request.received.v1"],
        2,
        "2023-05-29T08:02:11+08:00",
    ),
    "shegong.case.accepted.v1": (
        {
            **_at("accepted"),
            "accepted_by": "dx-01",
            "assignee_name": "王晨光",
            "accepted_at": "2023-05-29T08:05:30+08:00",
        },
        CASE_ID,
        HTTP_CORRELATION,
        3,
        "2023-05-29T08:05:30+08:00",
    ),
    "shegong.case.action_recorded.v1": (
        {
            **_at("in_progress"),
            "action_type": "purchase",
            "recorded_by": "dx-01",
            "recorded_at": "2023-05-29T09:05:00+08:00",
        },
        CASE_ID,
        HTTP_CORRELATION,
        5,
        "2023-05-29T09:05:00+08:00",
    ),
    "shegong.case.resolved.v1": (
        {
            **_at("resolved"),
            "priority": "urgent",
            "resolved_by": "dx-01",
            "assignee_name": "王晨光",
            "resolved_at": "2023-05-29T09:40:00+08:00",
        },
        CASE_ID,
        HTTP_CORRELATION,
        7,
        "2023-05-29T09:40:00+08:00",
    ),
    "shegong.message.sent.v1": (
        {
            "message_id": WORKER_MESSAGE_ID,
            "case_id": CASE_ID,
            "station": "daxing",
            "recipient_role": "worker",
            "channel": "sms",
            "template": "case_assigned_worker",
            "status": "sent",
            "provider": "aliyun",
            "request_id": REQUEST_ID,
            "sent_at": "2023-05-29T08:02:12+08:00",
        },
        WORKER_MESSAGE_ID,
        EVENT_IDS["shegong.case.assigned.v1"],
        1,
        "2023-05-29T08:02:12+08:00",
    ),
}

HEAD = {"id": "dx-06", "name": "孙海燕", "phone": "13900000106"}
MESSAGE = {
    "message_id": WORKER_MESSAGE_ID,
    "case_id": CASE_ID,
    "request_id": REQUEST_ID,
    "station": "daxing",
    "recipient_role": "worker",
    "channel": "sms",
    "template": "case_assigned_worker",
    "provider": "aliyun",
}
PROGRAM = {"station": "daxing", "recorded_by": "dx-06", "on": "2023-05-20"}
LATER = "2023-05-29T10:00:00+08:00"
EXAMPLES.update(
    {
        "shegong.resident.registry_updated.v1": (
            {
                "change": "added",
                "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
                "person": {
                    "id_number": "11010519491231002X",
                    "name": "邹书兰",
                    "phone": "13700000001",
                    "station": "daxing",
                    "categories": ["elderly", "living_alone", "key_concern"],
                    "emergency_contacts": [
                        {"name": "李梅", "relation": "女儿", "phone": "13700000002"}
                    ],
                },
                "source": {
                    "system": "civil_affairs",
                    "kind": "key_person_update",
                    "event_id": "mz-2023-0529-0001",
                },
                "updated_at": "2023-05-28T17:00:00+08:00",
            },
            "p_5e0c1b9a7d3f2e4c6a8b0d1f",
            None,
            None,
            "2023-05-28T17:00:01+08:00",
        ),
        "shegong.case.request_linked.v1": (
            {
                **_at("accepted"),
                "linked_request_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                "linked_at": "2023-05-29T08:20:00+08:00",
            },
            CASE_ID,
            None,
            4,
            "2023-05-29T08:20:00+08:00",
        ),
        "shegong.case.escalated.v1": (
            {
                **_at("assigned"),
                "reason": "sla_breach",
                "priority": "urgent",
                "station_head": HEAD,
                "escalated_at": "2023-05-29T08:32:11+08:00",
            },
            CASE_ID,
            None,
            3,
            "2023-05-29T08:32:11+08:00",
        ),
        "shegong.case.sla_breached.v1": (
            {
                **_at("assigned"),
                "kind": "acceptance",
                "priority": "urgent",
                "due_at": "2023-05-29T08:32:11+08:00",
                "breached_at": "2023-05-29T08:32:11+08:00",
            },
            CASE_ID,
            None,
            3,
            "2023-05-29T08:32:11+08:00",
        ),
        "shegong.case.referred.v1": (
            {
                **_at("referred"),
                "agency": "health-commission",
                "referred_by": "dx-01",
                "referred_at": LATER,
                "referral_id": REFERRAL_ID,
            },
            CASE_ID,
            HTTP_CORRELATION,
            6,
            LATER,
        ),
        "shegong.referral.sent.v1": (
            {
                "referral_id": REFERRAL_ID,
                "case_id": CASE_ID,
                "agency": "health-commission",
                "station": "daxing",
                "need_type": "medicine_purchase",
                "priority": "urgent",
                "purpose": "家庭医生上门诊疗",
                "resident": {"name": "邹书兰", "phone": "13812345678"},
                "need_description": "药吃完了，下雨出不了门",
                "note": None,
                "referred_by": "dx-01",
                "referred_at": LATER,
                "answer_with": "gov.suyu.agency.referral_answered.v1 on POST /v1/events (intake) "
                "or "
                "the exchange shegong.inbound",
            },
            CASE_ID,
            HTTP_CORRELATION,
            7,
            LATER,
        ),
        "shegong.referral.answered.v1": (
            {
                "referral_id": REFERRAL_ID,
                "case_id": CASE_ID,
                "station": "daxing",
                "agency": "health-commission",
                "answer": "rejected",
                "reason": "该地址不在签约服务范围",
                "answered_at": LATER,
                "source": {
                    "system": "health-commission",
                    "kind": "referral_answer",
                    "event_id": AGENCY_EVENT_ID,
                },
            },
            CASE_ID,
            AGENCY_EVENT_ID,
            1,
            LATER,
        ),
        "shegong.case.referral_answered.v1": (
            {
                **_at("in_progress"),
                "agency": "health-commission",
                "accepted": False,
                "answered_at": LATER,
                "referral_id": REFERRAL_ID,
                "answer": "rejected",
                "reason": "该地址不在签约服务范围",
            },
            CASE_ID,
            EVENT_IDS["shegong.referral.answered.v1"],
            8,
            LATER,
        ),
        "shegong.case.closed.v1": (
            {**_at("closed"), "closed_by": "dx-06", "closed_at": "2023-06-01T10:00:00+08:00"},
            CASE_ID,
            HTTP_CORRELATION,
            8,
            "2023-06-01T10:00:00+08:00",
        ),
        "shegong.case.reopened.v1": (
            {
                **_at("assigned"),
                "reopened_by": "dx-06",
                "reason": "药品不对",
                "reopened_at": "2023-05-30T09:00:00+08:00",
            },
            CASE_ID,
            HTTP_CORRELATION,
            8,
            "2023-05-30T09:00:00+08:00",
        ),
        "shegong.case.cancelled.v1": (
            {
                **_at("cancelled"),
                "reason": "withdrawn",
                "cancelled_by": "dx-01",
                "cancelled_at": LATER,
            },
            CASE_ID,
            HTTP_CORRELATION,
            3,
            LATER,
        ),
        "shegong.program.volunteer_team_formed.v1": (
            {**PROGRAM, "team_id": "team-dx-1", "name": "大兴镇助老志愿服务队"},
            "team-dx-1",
            HTTP_CORRELATION,
            None,
            "2023-05-20T10:00:00+08:00",
        ),
        "shegong.program.volunteer_joined.v1": (
            {**PROGRAM, "team_id": "team-dx-1", "member_ref": "p_0a1b2c3d4e5f6a7b8c9d0e1f"},
            "team-dx-1",
            HTTP_CORRELATION,
            None,
            "2023-05-20T10:05:00+08:00",
        ),
        "shegong.program.social_organisation_cultivated.v1": (
            {**PROGRAM, "organisation_id": "org-dx-1", "name": "大兴镇邻里互助会"},
            "org-dx-1",
            HTTP_CORRELATION,
            None,
            "2023-05-20T11:00:00+08:00",
        ),
        "shegong.program.donation_received.v1": (
            {
                **PROGRAM,
                "donation_id": "don-dx-1",
                "kind": "money",
                "amount_fen": 500000,
                "goods": "",
                "quantity": 0,
            },
            "don-dx-1",
            HTTP_CORRELATION,
            None,
            "2023-05-20T14:00:00+08:00",
        ),
        "shegong.program.aid_distributed.v1": (
            {
                **PROGRAM,
                "aid_id": "aid-dx-1",
                "household_ref": "p_1f2e3d4c5b6a7980a1b2c3d4",
                "items": "米面油慰问包",
                "value_fen": 20000,
            },
            "aid-dx-1",
            HTTP_CORRELATION,
            None,
            "2023-05-20T15:00:00+08:00",
        ),
        "shegong.program.activity_held.v1": (
            {
                **PROGRAM,
                "activity_id": "act-dx-1",
                "activity_type": "policy_publicity",
                "title": "养老服务政策宣传",
                "participants": 40,
            },
            "act-dx-1",
            HTTP_CORRELATION,
            None,
            "2023-05-20T09:00:00+08:00",
        ),
        "shegong.program.record_corrected.v1": (
            {
                **PROGRAM,
                "recorded_by": "dx-02",
                "record_id": "act-dx-1~r1",
                "corrects": "act-dx-1",
                "kind": "activity",
                "revision": 1,
                "void": False,
                "reason": "参与人数录入有误",
                "original": {
                    **PROGRAM,
                    "activity_id": "act-dx-1",
                    "activity_type": "policy_publicity",
                    "title": "养老服务政策宣传",
                    "participants": 40,
                },
                "corrected": {
                    **PROGRAM,
                    "activity_id": "act-dx-1",
                    "activity_type": "policy_publicity",
                    "title": "养老服务政策宣传",
                    "participants": 30,
                },
            },
            "act-dx-1~r1",
            "act-dx-1",
            1,
            "2023-05-21T10:00:00+08:00",
        ),
        "shegong.station.roster_published.v1": (
            {
                "station": "daxing",
                "published_at": "2023-05-01T09:00:00+08:00",
                "staff": [
                    {"id": "dx-01", "role": "worker", "duty_days": [1, 2, 3, 4, 5, 6, 7]},
                    {"id": "dx-02", "role": "station_head", "duty_days": [1, 2, 3, 4, 5]},
                    {"id": "dx-03", "role": "worker", "duty_days": [1, 3, 5, 6]},
                ],
            },
            "daxing",
            None,
            1,
            "2023-05-01T09:00:00+08:00",
        ),
        "shegong.message.delivered.v1": (
            {**MESSAGE, "status": "delivered", "delivered_at": "2023-05-29T08:02:15+08:00"},
            WORKER_MESSAGE_ID,
            None,
            None,
            "2023-05-29T08:02:15+08:00",
        ),
        "shegong.message.failed.v1": (
            {
                **MESSAGE,
                "status": "technical_failure",
                "reason": "all providers unavailable",
                "failed_at": "2023-05-29T08:40:00+08:00",
            },
            WORKER_MESSAGE_ID,
            None,
            None,
            "2023-05-29T08:40:00+08:00",
        ),
        "shegong.case.resident_unreached.v1": (
            {
                **_at("accepted"),
                "message_id": f"{EVENT_IDS['shegong.case.accepted.v1']}"
                ":resident:case_accepted_resident",
                "template": "case_accepted_resident",
                "reason": "isv.MOBILE_NUMBER_ILLEGAL",
                "failed_at": "2023-05-29T08:21:00+08:00",
                "priority": "urgent",
                "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
            },
            CASE_ID,
            EVENT_IDS["shegong.message.failed.v1"],
            5,
            "2023-05-29T08:21:00+08:00",
        ),
    }
)
