"""reporting: projections built only from events, and the district's figures."""
