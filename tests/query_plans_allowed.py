"""Store command shapes that may scan their collection on the embedded store, each with
the reason (tests/integration/test_query_plans.py fails on any other shape that scans).

A shape is benchmarks/shapes.py's one-line form, as docs/query-plans.md lists it (made
by ``python -m benchmarks.plans``); the comment above each says where it is sent from.
Remove an entry once its shape reads through an index; add one only with a reason its
cost does not grow with the history (e.g. a collection that stays small).
"""

MIGRATION = (
    "a one-time migration at start-up (services/common/migrations.py): runs once "
    "per store, then never again (recorded in its migrations collection)"
)

ALLOWED = {
    # services/casework/store/records.py:_key_every_record
    'find residents {} projection=["id_number","name","phone"]': MIGRATION,
    # services/intake/store/__init__.py:_number_cases
    'find requests {} projection=["case_id","case_seq","repeat_of"]': MIGRATION,
    # services/reporting/store/__init__.py:_roll_up
    "find daily_v1 {}": MIGRATION,
    # services/casework/store/__init__.py:_key_every_case
    'find cases {} projection=["outbox"]': MIGRATION,
    # services/notifications/store/__init__.py:_key_every_message
    'find messages {} projection=["history","outbox"]': MIGRATION,
    # services/casework/store/records.py:_key_every_record (programs)
    'find programs {} projection=["recorded_ms","station"]': MIGRATION,
    # services/notifications/store/webhooks.py:_key_all
    'find webhook_deliveries {} projection=["created_at","station"]': MIGRATION,
}
