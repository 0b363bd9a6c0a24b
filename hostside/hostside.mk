# Host daemon targets. Included from the Makefile by the line
#   -include hostside/hostside.mk
BENCH_TARGETS += bench-hostd

.PHONY: bench-hostd
bench-hostd: ## REST layer overhead per call against the in-memory fake backend (ns/op, allocs/op)
	@echo "== zguest-hostd REST layer on the fake backend (inproc: ServeHTTP; loopback: HTTP over TCP)"
	$(GO) test -run '^$$' -bench BenchmarkREST -benchmem -benchtime 2000x ./hostside/api/
