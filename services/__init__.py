"""shegong: the event-driven backend of the district's township social work stations."""
