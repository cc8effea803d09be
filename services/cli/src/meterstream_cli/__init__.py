"""The `meterstream` command line."""
