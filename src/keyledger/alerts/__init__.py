"""Alerts: rules that watch the ledger, and the channels that carry what they see."""
