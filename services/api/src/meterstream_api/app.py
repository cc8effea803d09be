"""The query API and the dashboard page, over one `Warehouse`."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from meterstream_alerting.config_registry import UnknownItem
from meterstream_alerting.rules import InvalidRules
from meterstream_api.alert_routes import router as alert_router
from meterstream_api.batch_routes import router as batch_router
from meterstream_api.config import ApiConfig
from meterstream_api.health_routes import router as health_router
from meterstream_api.routes import router
from meterstream_contracts.api_keys import ApiKeyStore
from meterstream_kafka import KafkaConfig
from meterstream_query import InvalidQuery, NotFound, SqlLimits
from meterstream_warehouse import RetriableWarehouseError, Warehouse, WarehouseError

STATIC: Final = Path(__file__).parent / "static"
CHART_LIBRARY: Final = STATIC / "vendor" / "uPlot.iife.min.js"


class DashboardNotBuilt(RuntimeError):
    """The charting library was not copied in from npm (`make dashboard`)."""


def create_app(
    config: ApiConfig, warehouse: Warehouse, kafka: KafkaConfig | None = None
) -> FastAPI:
    if not CHART_LIBRARY.exists():
        raise DashboardNotBuilt(f"{CHART_LIBRARY} is missing: run `make dashboard` (npm ci)")
    app = FastAPI(title="meterstream query API", version="1")
    app.state.warehouse = warehouse
    app.state.kafka = kafka or KafkaConfig()
    app.state.lag_groups = config.lag_group_names()
    app.state.keys = ApiKeyStore.from_settings(config.api_keys, config.api_keys_file)
    app.state.sql_limits = SqlLimits(
        config.sql_max_execution_s, config.sql_max_result_rows, config.sql_max_rows_to_read
    )
    app.include_router(router)
    app.include_router(alert_router)
    app.include_router(health_router)
    app.include_router(batch_router)

    @app.exception_handler(InvalidQuery)
    async def invalid(_: Request, error: InvalidQuery) -> JSONResponse:
        return JSONResponse({"detail": error.message, "field": error.field}, status_code=400)

    @app.exception_handler(InvalidRules)
    async def invalid_rule(_: Request, error: InvalidRules) -> JSONResponse:
        field = error.fields[0] if error.fields else "rule"
        return JSONResponse({"detail": str(error), "field": field}, status_code=400)

    @app.exception_handler(NotFound)
    @app.exception_handler(UnknownItem)
    async def not_found(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(RetriableWarehouseError)
    async def store_unavailable(_: Request, error: RetriableWarehouseError) -> JSONResponse:
        # The server is down, paused or overloaded: say so and when to ask again.
        first = str(error).splitlines()[0][:300] if str(error) else "no answer"
        return JSONResponse(
            {"detail": f"the store is unavailable, try again shortly ({first})"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(WarehouseError)
    async def refused(_: Request, error: WarehouseError) -> JSONResponse:
        # Limits (time, rows) and analysts' SQL errors come back from ClickHouse.
        return JSONResponse({"detail": str(error).split("Stack trace")[0]}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "backend": warehouse.backend}

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
