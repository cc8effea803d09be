"""Read-only SQL for analysts, scoped to the caller's project.

The statement is parsed (sqlglot, ClickHouse dialect) and must be one SELECT
over the catalogue's tables; every table reference becomes a subquery of
that table's rows of the caller's project (collapsed with FINAL), so no
join, subquery or CTE can reach another project. Table functions, other
databases, SETTINGS/FORMAT clauses and functions that reach outside the
store are refused. Parameters are bound by ClickHouse (`{name:Type}`); the
statement runs with readonly=1 and limits on time, rows read and rows returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from meterstream_query.errors import InvalidQuery
from meterstream_warehouse import TABLES, Warehouse

SCOPE_PARAM: Final = "ms_scope_project"
QUERYABLE_TABLES: Final = frozenset(
    {spec.name for spec in TABLES.values()}
    | {"metric_rollups_1m", "metric_rollups_1h", "metric_rollups_1d"}
)
VIEWS: Final = frozenset({"metric_points"})
FORBIDDEN_FUNCTIONS: Final = frozenset(
    {
        "file", "url", "s3", "s3cluster", "remote", "remotesecure", "cluster",
        "clusterallreplicas", "executable", "mysql", "postgresql", "hdfs", "input", "jdbc",
        "odbc", "mongodb", "redis", "sqlite", "azureblobstorage", "gcs", "merge", "view",
        "dictget", "dictgetordefault", "joinget", "getsetting", "filesystemavailable",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SqlLimits:
    max_execution_s: float = 10.0
    max_result_rows: int = 10_000
    max_rows_to_read: int = 200_000_000


def scope_sql(sql: str) -> tuple[str, set[str]]:
    """The statement rewritten to read only `{ms_scope_project:String}`'s rows, and the names
    of the parameters it uses. Raises `InvalidQuery` naming `sql` for anything refused."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="clickhouse") if s is not None]
    except SqlglotError as error:  # ParseError, TokenError (an unclosed quote, say)
        raise InvalidQuery("sql", f"does not parse: {error}") from None
    if len(statements) != 1:
        raise InvalidQuery("sql", "give exactly one statement")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise InvalidQuery("sql", f"only SELECT is allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, exp.Query) and (node.args.get("settings") or node.args.get("format")):
            raise InvalidQuery("sql", "SETTINGS and FORMAT clauses are not allowed")
        if isinstance(node, exp.Func) and _function_name(node) in FORBIDDEN_FUNCTIONS:
            raise InvalidQuery("sql", f"function {_function_name(node)}() is not allowed")
    parameters = {node.name for node in tree.find_all(exp.Placeholder) if node.name}
    if SCOPE_PARAM in parameters:
        raise InvalidQuery("params", f"{SCOPE_PARAM} is reserved")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        _scope_table(table, ctes)
    rewritten = tree.sql(dialect="clickhouse")
    return rewritten, parameters


def _function_name(node: exp.Func) -> str:
    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return name.lower()


def _scope_table(table: exp.Table, ctes: set[str]) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise InvalidQuery("sql", "table functions are not allowed")
    name = table.name
    if not table.db and name in ctes:
        return
    if table.db or table.catalog:
        raise InvalidQuery("sql", f"only this project's tables can be read, not {table.sql()}")
    if name not in QUERYABLE_TABLES | VIEWS:
        raise InvalidQuery(
            "sql",
            f"unknown table {name!r}; queryable: {', '.join(sorted(QUERYABLE_TABLES | VIEWS))}",
        )
    final = "" if name in VIEWS else " FINAL"
    scoped = sqlglot.parse_one(
        f"(SELECT * FROM {name}{final} WHERE project = {{{SCOPE_PARAM}:String}})",
        read="clickhouse",
    )
    subquery = exp.Subquery(
        this=scoped.unnest(), alias=exp.TableAlias(this=exp.to_identifier(table.alias or name))
    )
    target: exp.Expression = table.parent if isinstance(table.parent, exp.Final) else table
    target.replace(subquery)


def run_analyst_sql(
    warehouse: Warehouse,
    *,
    project: str,
    sql: str,
    params: Mapping[str, Any] | None = None,
    limits: SqlLimits = SqlLimits(),
) -> dict[str, Any]:
    """Rows of the caller's read-only query over its own project."""
    scoped, names = scope_sql(sql)
    given = dict(params or {})
    if missing := names - given.keys():
        raise InvalidQuery("params", f"no value for {', '.join(sorted(missing))}")
    if extra := given.keys() - names:
        raise InvalidQuery("params", f"{', '.join(sorted(extra))} not used by the query")
    settings = (
        f" SETTINGS readonly = 1, max_execution_time = {float(limits.max_execution_s)!r},"
        f" max_result_rows = {int(limits.max_result_rows)}, result_overflow_mode = 'throw',"
        f" max_rows_to_read = {int(limits.max_rows_to_read)}, read_overflow_mode = 'throw'"
    )
    rows = warehouse.query_rows(scoped + settings, params={**given, SCOPE_PARAM: project})
    return {"columns": list(rows[0]) if rows else [], "rows": rows}
