"""What every service needs and nothing more: configuration, the event envelope and
its contracts, messaging (publish with confirms, retry and dead-letter), the outbox,
MongoDB access, authentication, HTTP plumbing, time and privacy helpers."""

import warnings

# eventlet (nameko's concurrency) announces on import that it is in bugfix-only mode;
# that is known (docs/architecture.md) and would open every process's log.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
