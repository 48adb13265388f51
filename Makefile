# The two commands from a fresh clone: `make demo` and `make test`.
# Each creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo demo-daemon demo-web test bench bench-agent bench-prometheus bench-chaos bench-chaos-daemon bench-report \
        bench-province bench-failover clean system-deps bench-deps

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(call install_pdf_deps)
	$(VENV)/bin/rightsizer demo --out demo-out

# make demo, then the simulated month in the web console on http://127.0.0.1:8080/ until Ctrl-C.
demo-web: $(STAMP)
	$(call install_pdf_deps)
	$(VENV)/bin/rightsizer demo --out demo-out --web 127.0.0.1:8080

# A minute of `rightsizer daemon` on a simulated city (200 servers, 8 departments) on a fast schedule:
# its log, the notices going out to the console, then the notices and job runs it recorded.
demo-daemon: $(STAMP)
	$(call install_pdf_deps)
	rm -rf demo-out/daemon
	$(VENV)/bin/rightsizer demo --out demo-out/daemon --servers 200 --daemon 60

# Debian packages the integration tests run for real: prometheus (+ promtool),
# victoria-metrics, systemd (systemd-analyze). Installed only when a binary is missing.
DEBS_FOR_TESTS := prometheus:prometheus promtool:prometheus victoria-metrics:victoria-metrics \
                  systemd-analyze:systemd pdftotext:poppler-utils pdftoppm:poppler-utils \
                  chromium:chromium chromedriver:chromium-driver
DEBS_FOR_BENCH := prometheus-node-exporter:prometheus-node-exporter

# apt-get install the packages in $$missing, if any (the tail of the two checks below)
define apt_install_missing
if [ -n "$$missing" ]; then \
  echo "installing Debian packages:$$missing"; \
  export DEBIAN_FRONTEND=noninteractive; \
  $(SUDO) apt-get install -y -q --no-install-recommends $$missing \
  || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends $$missing; }; fi
endef

define install_debs
	@missing=""; for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null || missing="$$missing $$pkg"; done; \
	$(apt_install_missing)
endef

# The notice PDF (WeasyPrint): CJK fonts and HarfBuzz's subsetter (without it a CJK font subsets 100x slower).
define install_pdf_deps
	@missing=""; fc-list 2>/dev/null | grep -q "Noto Serif CJK" || missing="$$missing fonts-noto-cjk"; \
	ldconfig -p | grep -q libharfbuzz-subset || missing="$$missing libharfbuzz-subset0"; \
	ldconfig -p | grep -q libpangoft2 || missing="$$missing libpango-1.0-0 libpangoft2-1.0-0"; \
	$(apt_install_missing)
endef

# PostgreSQL's server (the tests start a temporary cluster of their own; nothing runs as a service).
define install_postgresql
	@missing=""; ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="postgresql"; \
	$(apt_install_missing)
endef

system-deps:
	$(call install_debs,$(DEBS_FOR_TESTS))
	$(call install_pdf_deps)
	$(call install_postgresql)

bench-deps:
	$(call install_debs,$(DEBS_FOR_TESTS) $(DEBS_FOR_BENCH))
	$(call install_postgresql)

test: $(STAMP) system-deps
	$(PY) -m pytest -q

bench: $(STAMP) bench-deps
	$(PY) bench/bench_evaluate.py

# 10,000 servers x 30 days back-filled into a real Prometheus, then VictoriaMetrics: sharded pushdown vs per-server.
bench-prometheus: $(STAMP) bench-deps
	$(PY) bench/bench_prometheus.py --victoria-metrics

# A province: 100,000 servers (VictoriaMetrics, the fake OpenStack, PostgreSQL) end to end, per stage.
bench-province: $(STAMP) bench-deps
	$(call install_pdf_deps)
	$(PY) bench/bench_province.py

# Two daemons on PostgreSQL; the leader SIGKILLed or its connection cut, rounds alternating.
bench-failover: $(STAMP) bench-deps
	$(call install_pdf_deps)
	$(PY) bench/failover.py --rounds 10

# Ten minutes: the agent beside prometheus-node-exporter.
bench-agent: $(STAMP) bench-deps
	$(PY) bench/bench_agent_overhead.py --seconds 600

# About five minutes: 200 SIGKILLs of deliver, overlapping and stalled relays, evaluate + sweep + deliver at once.
bench-chaos: $(STAMP)
	$(PY) bench/chaos.py

# About six minutes: the daemon SIGKILLed 200 times while it issues and delivers (aiosmtpd + a webhook).
bench-chaos-daemon: $(STAMP)
	$(call install_pdf_deps)
	$(PY) bench/chaos_daemon.py --kills 200

# The monthly report of 10,000 servers with a month of daily evaluations (the month is built once, ~10 min).
bench-report: $(STAMP)
	$(call install_pdf_deps)
	$(PY) bench/bench_report.py

clean:
	rm -rf $(VENV) demo-out bench-out .pytest_cache .hypothesis *.egg-info
