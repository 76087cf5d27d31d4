#!/bin/sh
# A stand-in benchmark probe for `make report-check`: it answers AgoraBenchTrack's protocol
# (--list, --serve, or one JSON object) with two benchmarks, bench/a at LEVEL_A microseconds
# (environment, default 100) and bench/b at 200, plus a small deterministic jitter. A history
# recorded from it at two levels has one step for the report to show.
ctx='{"cpu_model":"Fake CPU","num_cpus":2,"caches":["L1-Data:32K"],"openblas_config":"fake","openblas_corename":"Haswell","threads":2,"size":"small"}'
level=${LEVEL_A:-100}
block() {
  j=$(( ($2 * 7) % 5 )); l=200; [ "$1" = bench/a ] && l=$level
  printf '{"name":"%s","inner":10,"samples_us":[%d.5,%d.0,%d.0],"digest":[1,2]}\n' "$1" $((l + j + 1)) $((l + j)) $((l + j + 2))
}
case " $* " in *" --list "*) echo bench/a; echo bench/b; exit 0;; esac
case " $* " in *" --serve "*) echo "$ctx"; k=0; while read name; do k=$((k + 1)); block "$name" $k; done; exit 0;; esac
echo "{\"context\":$ctx,\"benchmarks\":[$(block bench/a 1),$(block bench/b 1)]}"
