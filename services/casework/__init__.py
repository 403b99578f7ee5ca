"""casework: the system of record for cases (triage, assignment, the life of a case)."""
