"""meterstream query API and dashboard."""
