# The two habits: `make test` and `make lint`. `make demo` runs the pipeline.
UV ?= uv
RUN := $(UV) run --frozen

.PHONY: install dashboard demo test test-fast reliability lint fmt bench schemas broker-start broker-stop clickhouse-start clickhouse-stop compose-up clean

install:
	$(UV) sync --frozen

# The dashboard's charting library, from npm (locked), copied into the API package.
DASHBOARD_VENDOR := services/api/src/meterstream_api/static/vendor
dashboard: $(DASHBOARD_VENDOR)/uPlot.iife.min.js

$(DASHBOARD_VENDOR)/uPlot.iife.min.js: services/api/dashboard/package-lock.json
	cd services/api/dashboard && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(DASHBOARD_VENDOR)
	cp services/api/dashboard/node_modules/uplot/dist/uPlot.iife.min.js \
	   services/api/dashboard/node_modules/uplot/dist/uPlot.min.css $(DASHBOARD_VENDOR)/

demo: install dashboard
	$(RUN) meterstream demo

test: install dashboard
	$(RUN) pytest

# The whole fault-injection suite (tests/reliability): the broker and ClickHouse paused 30 s, and the
# tests marked reliability_full that `make test` skips.
reliability: install dashboard
	MS_RELIABILITY=full MS_BROKER_PAUSE_S=30 MS_CLICKHOUSE_PAUSE_S=30 $(RUN) pytest tests/reliability

test-fast: install
	$(RUN) pytest -m "not kafka and not clickhouse"

lint: install
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy libs services tests benchmarks

fmt: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: install dashboard
	$(RUN) python -m benchmarks.bench_codec
	$(RUN) python -m benchmarks.bench_sink
	$(RUN) python -m benchmarks.bench_producers
	$(RUN) python -m benchmarks.bench_otlp
	$(RUN) python -m benchmarks.bench_workers
	$(RUN) python -m benchmarks.bench_pricing
	$(RUN) python -m benchmarks.bench_alerts
	$(RUN) python -m benchmarks.bench_queries
	$(RUN) python -m benchmarks.bench_dashboard
	$(RUN) python -m benchmarks.bench_e2e

schemas: install
	$(RUN) meterstream schemas export --out schemas

broker-start:
	bash infra/kafka/broker.sh start

broker-stop:
	bash infra/kafka/broker.sh stop

clickhouse-start: install
	bash infra/clickhouse/clickhouse.sh start

clickhouse-stop:
	bash infra/clickhouse/clickhouse.sh stop

compose-up:
	docker compose up --build

clean:
	bash infra/kafka/broker.sh reset
	bash infra/clickhouse/clickhouse.sh reset
	rm -rf .meterstream
