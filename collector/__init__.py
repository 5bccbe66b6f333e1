"""Collector: MQTT subscriber that validates readings with the wire contract and stores them."""
