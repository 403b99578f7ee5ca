"""Store command shapes that may scan their collection on the embedded store, each with
the reason (tests/integration/test_query_plans.py fails on any other shape that scans).

A shape is benchmarks/shapes.py's one-line form, as docs/query-plans.md lists it (made
by ``python -m benchmarks.plans``); the comment above each says where it is sent from.
Remove an entry once its shape reads through an index; add one only with a reason its
cost does not grow with the history (e.g. a collection that stays small).
"""
# ruff: noqa: E501 - a shape is one line, as the test prints it

TODAY = "scans today; issue 23"
MIGRATION = ("a one-time migration at start-up (services/common/migrations.py): runs once "
             "per store, then never again (recorded in its migrations collection)")

ALLOWED = {
    # services/casework/store/__init__.py:page
    'find cases {"assignee.id":"str","station":"str","status":{"$in":["str"]}} sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/__init__.py:page
    'find cases {"assignee.id":"str"} sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/__init__.py:page
    'find cases {"priority":{"$in":["str"]},"station":"str"} sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/__init__.py:referred
    'find cases {"referral.referred_at":{"$gt":"str"},"station":"str"} sort=[["referral.referred_at",-1]] limit=true': TODAY,
    # services/casework/store/__init__.py:cases_of_resident
    'find cases {"resident_ref":{"$in":["str"]}} sort=[["opened_at",-1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/__init__.py:page
    'find cases {"station":"str","status":{"$in":["str"]}} sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/__init__.py:page
    'find cases {"station":"str"} sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/__init__.py:page
    'find cases {"status":{"$in":["str"]}} sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/records.py:page
    'find programs {"station":"str"} sort=[["recorded_ms",-1],["_id",-1]] projection=["outbox"] limit=true': TODAY,
    # services/casework/store/records.py:search
    'find residents {"name":{"$regex":"str"}} sort=[["_id",1]] limit=true': TODAY,
    # services/notifications/store/__init__.py:page
    'find messages {"channel":"str","read_at":{"$exists":"bool"},"recipient_id":{"$in":["str"]}} sort=[["created_ms",-1],["_id",-1]] projection=["outbox"] limit=true': TODAY,
    # services/notifications/store/__init__.py:page
    'find messages {"channel":"str","recipient_id":{"$in":["str"]}} sort=[["created_ms",-1],["_id",-1]] projection=["outbox"] limit=true': TODAY,
    # services/notifications/store/__init__.py:page
    'find messages {"channel":"str","recipient_role":"str"} sort=[["created_ms",-1],["_id",-1]] projection=["outbox"] limit=true': TODAY,
    # services/notifications/store/__init__.py:page
    'find messages {"status":"str"} sort=[["created_ms",-1],["_id",-1]] projection=["outbox"] limit=true': TODAY,
    # services/notifications/store/webhooks.py:find
    'find webhook_deliveries {} sort=[["created_at",-1]] limit=true': TODAY,
    # services/casework/store/records.py:_key_every_record
    'find residents {} projection=["id_number","phone"]': MIGRATION,
    # services/intake/store.py:_number_cases
    'find requests {} projection=["case_id","case_seq","repeat_of"]': MIGRATION,
    # services/reporting/store.py:_key_days
    'find daily_v1 {} projection=["day","station"]': MIGRATION,
}
