#!/bin/sh
# A benchmark history for `make report-check`: AgoraBenchTrack (path in $1) records six runs of
# the fake probe (bench/a at 100 us for three commits, then 130), draws the history into $2/report,
# and prints the machine folder it drew (history.csv and one SVG per benchmark).
set -e
tool=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out" && mkdir -p "$out"
for k in 0 1 2 3 4 5; do
  level=100; [ $k -ge 3 ] && level=130
  printf '#!/bin/sh\nLEVEL_A=%s exec %s/fake_probe.sh "$@"\n' $level "$here" > "$out/probe.sh"
  chmod +x "$out/probe.sh"
  "$tool" record --probe "$out/probe.sh" --store "$out/store" --commit c$k --subject "commit $k" --rounds 4 > /dev/null 2>&1
done
printf 'c0\nc1\nc2\nc3\nc4\nc5\n' > "$out/order"
"$tool" report --store "$out/store" --out "$out/report" --order "$out/order" > "$out/report.log"
ls -d "$out"/report/*/ | head -n 1
