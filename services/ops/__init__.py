"""The operator's commands: declaring the topology, the system's status, dead letters,
make run's virtual host, the RabbitMQ definitions file, staff credentials, partner
agencies' RabbitMQ users. Run as ``python -m services.ops.<command>``; no service
imports them."""
