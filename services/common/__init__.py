"""What every service needs and nothing more: configuration, the event envelope and
its contracts, messaging (publish with confirms, retry and dead-letter), the outbox,
MongoDB access, authentication, HTTP plumbing, time and privacy helpers."""
