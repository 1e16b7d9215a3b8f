"""Alerting: the pure state machine, routing, silences, the durable outbox and one module
per provider (Slack, Alertmanager, webhook).  Empty until the alerts issue lands."""
