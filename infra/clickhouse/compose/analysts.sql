-- docker-compose's ClickHouse: the read-only analysts' user the local server has
-- (infra/clickhouse/keeper.py), with the same profile limits. Run once by the image's
-- entrypoint as MS's user (CLICKHOUSE_USER, with access management).
CREATE SETTINGS PROFILE IF NOT EXISTS analysts SETTINGS
    readonly = 2 MIN 1,
    max_memory_usage = 2147483648 MAX 2147483648,
    max_execution_time = 60 MAX 60,
    max_result_rows = 10000000;
CREATE USER IF NOT EXISTS analyst IDENTIFIED WITH sha256_password BY 'analyst'
    SETTINGS PROFILE 'analysts';
GRANT SELECT ON *.* TO analyst;
