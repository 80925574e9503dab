"""Notification channels (email, SMS, web push, webhooks, in-app), each with a fake beside
it, the message composer and templates, and the delivery worker that drains the outbox."""
