"""The ClickHouse sink service: raw topics → batches → ClickHouse → commit."""
