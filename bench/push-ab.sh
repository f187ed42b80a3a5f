#!/bin/bash
# A/B of `mtrack push` to a directory remote: two builds of mtrack on the same repository and store,
# alternating, so load elsewhere on the machine hits both alike. Prints wall/user+sys seconds per push of
# 100,000 × 1 KiB files (a fresh remote), a no-op push, and the 1 GiB file (the data of bench/data.ts).
#   BASE=/path/to/other/checkout NEW=. N=3 bash bench/push-ab.sh
# (both checkouts built; bench/remotes.ts or bench/versioning.ts generate the data once).
set -e
HERE=$(cd "$(dirname "$0")/.." && pwd)
BASE_CLI="node ${BASE:?set BASE to a built checkout}/bin/run.js"
NEW_CLI="node ${NEW:-$HERE}/bin/run.js"
DATA=${DATA:-$HERE/bench/work/data/full}
W=${WORK:-$HERE/bench/work/tmp/push-ab}
rm -rf "$W"; mkdir -p "$W/repo"; cd "$W/repo"
export NODE_NO_WARNINGS=1 HOME=$W GIT_CONFIG_NOSYSTEM=1
git init -q -b main; git config user.email a@b; git config user.name a
$NEW_CLI init >/dev/null
cp -r "$DATA/many" many
cp "$DATA/big.bin" big.bin
$NEW_CLI add many big.bin >/dev/null
t() { /usr/bin/time -f "%e/%U+%S" -o "$W/t" "$@" >/dev/null; tail -1 "$W/t"; }
for i in $(seq 1 "${N:-3}"); do
  for v in BASE NEW; do
    cli_var="${v}_CLI"; CLI=${!cli_var}; R=$W/remote-$v-$i; mkdir -p "$R"
    $CLI remote add "r$v$i" "$R" >/dev/null
    sync; sleep 2
    a=$(t $CLI push -r "r$v$i" many); b=$(t $CLI push -r "r$v$i" many); c=$(t $CLI push -r "r$v$i" big.bin)
    echo "$v round $i: push100k $a noop $b push1GiB $c load $(cut -d' ' -f1 /proc/loadavg)"
    rm -rf "$R"
  done
done
rm -rf "$W"
