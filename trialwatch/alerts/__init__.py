"""Alerts: watches decide who hears about a change; the outbox delivers it, once."""
