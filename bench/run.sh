#!/usr/bin/env bash
# bench/run.sh measures gokafkad against franz-go's in-memory kfake with the
# gokafka perf tools, plus the disk's synced write rate, produce latency at a
# steady rate, idle memory and the cost of 1000 partitions. It prints one
# markdown report on stdout (progress on stderr). Every figure is from this
# run on this machine; single runs vary by +-30%.
#
# Environment (defaults in brackets):
#   REPEATS [5]          runs of each throughput case, alternating which server goes first
#   WARMUP [1]           runs of each server before a case's repeats, not reported: the
#                        first run of a case is the first on the previous case's
#                        files and memory, a cost of the bench's sequence of cases
#   SMALL_RECORDS [1000000]  records in the 100 B cases
#   LARGE_RECORDS [300000]  records in the 1000 B cases
#   LAT_RUNS [3]         10 s runs of the latency test against each server, paired
#                        like the throughput runs (the median p99 of each is reported)
#   BENCH_DIR [$TMPDIR or /tmp]  where the data directories and the dd file go
#   SETTLE [2]           seconds to wait after each run (after a sync), so the
#                        next run does not pay for its writeback and freed memory
#   BASE_PORT [29092]    first of the ports used (BASE_PORT .. BASE_PORT+9); below
#                        Linux's ephemeral range, so no client connection holds one
set -euo pipefail

REPEATS=${REPEATS:-5}
WARMUP=${WARMUP:-1}
SMALL_RECORDS=${SMALL_RECORDS:-1000000}
LARGE_RECORDS=${LARGE_RECORDS:-300000}
LAT_RUNS=${LAT_RUNS:-3}
BASE_PORT=${BASE_PORT:-29092}
SETTLE=${SETTLE:-2}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/gokafka-bench.XXXXXX")
BIN=$WORK/bin
GK=$BIN/gokafka

declare -a PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "[$(date +%T)] $*" >&2; }

# jget KEY: the number under "KEY" in the one-line JSON object on stdin.
jget() { awk -v k="\"$1\":" '{ i = index($0, k); if (i) { s = substr($0, i + length(k)); sub(/[,}].*/, "", s); print s } }'; }

# median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# wait_ready ADDR LOG: until the broker answers a metadata request.
wait_ready() {
	local i
	for i in $(seq 1 300); do
		if "$GK" -b "$1" topic list >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	log "broker at $1 did not come up; log:"
	tail -50 "$2" >&2
	exit 1
}

# start_gokafkad NAME PORT: a fresh single node; sets GKD_PID.
start_gokafkad() {
	local name=$1 port=$2
	"$BIN/gokafkad" --data-dir "$WORK/$name" --listen "127.0.0.1:$port" --raft-listen "127.0.0.1:$((port + 1))" \
		--admin-listen '' >"$WORK/$name.log" 2>&1 &
	GKD_PID=$!
	PIDS+=("$GKD_PID")
	wait_ready "127.0.0.1:$port" "$WORK/$name.log"
}

stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# idle_cpu PID SECONDS: percent of one core used over SECONDS.
idle_cpu() {
	local a b
	a=$(cpu_ticks "$1")
	sleep "$2"
	b=$(cpu_ticks "$1")
	awk -v a="$a" -v b="$b" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }'
}

now() { date +%s.%N; }

# cpu_stat: "steal total" jiffies of all CPUs so far (/proc/stat).
cpu_stat() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t }' /proc/stat; }
# steal_pct "STEAL TOTAL" "STEAL TOTAL": the share of CPU time the host took
# from this machine between two cpu_stat readings.
steal_pct() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]; printf "%.1f", (d > 0 ? (y[1] - x[1]) / d * 100 : 0) }'; }

# ---------------------------------------------------------------- build
log "building into $BIN"
mkdir -p "$BIN"
(cd "$ROOT" && go build -o "$BIN/gokafkad" ./cmd/gokafkad && go build -o "$BIN/gokafka" ./cmd/gokafka && go build -o "$BIN/kfake" ./bench/kfake &&
	go build -o "$BIN/disklat" ./bench/disklat)

# ---------------------------------------------------------------- disk
# dd_rate ARGS...: "seconds bytes" of one dd run.
dd_rate() {
	local out
	out=$(dd if=/dev/zero of="$WORK/ddtest" "$@" 2>&1 >/dev/null | tail -1)
	rm -f "$WORK/ddtest"
	# "8192000 bytes (8.2 MB, 7.8 MiB) copied, 2.3 s, 3.5 MB/s"
	awk '{ for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1), $1 }' <<<"$out"
}
log "disk: dd 4 KiB dsync"
read -r dsync_s dsync_bytes < <(dd_rate bs=4k count=2000 oflag=dsync)
# The synced write rate that bounds produce: as much data as a 1000 B case
# writes, then one fdatasync; three runs, the median counts.
DISK_MB=$((LARGE_RECORDS * 1000 / 1048576))
DISKS=() # MB/s of each run
for i in 1 2 3; do
	log "disk: dd 1 MiB x $DISK_MB, fdatasync ($i/3)"
	read -r fdata_s fdata_bytes < <(dd_rate bs=1M count="$DISK_MB" conv=fdatasync)
	DISKS+=("$(awk -v s="$fdata_s" -v b="$fdata_bytes" 'BEGIN { print b / s / 1048576 }')")
done
disk_mbs=$(printf '%s\n' "${DISKS[@]}" | median)

# ---------------------------------------------------------------- throughput
GKD_PORT=$BASE_PORT
KF_PORT=$((BASE_PORT + 2))
start_gokafkad main "$GKD_PORT"
MAIN_PID=$GKD_PID
"$BIN/kfake" --port "$KF_PORT" >"$WORK/kfake.log" 2>&1 &
KF_PID=$!
PIDS+=("$KF_PID")
wait_ready "127.0.0.1:$KF_PORT" "$WORK/kfake.log"

RESULTS=$WORK/results.txt # server case repeat prod_rps prod_mbs cons_rps cons_mbs
: >"$RESULTS"

# one_run SERVER ADDR CASE PARTS SIZE N REPEAT
one_run() {
	local server=$1 addr=$2 case=$3 parts=$4 size=$5 n=$6 rep=$7
	local topic="bench-${case}-r${rep}" p c
	p=$("$GK" -b "$addr" perf produce --topic "$topic" --partitions "$parts" --num-records "$n" \
		--record-size "$size" --acks all --json 2>"$WORK/last.err") || {
		log "perf produce against $server failed:"; cat "$WORK/last.err" >&2; exit 1
	}
	c=$("$GK" -b "$addr" perf consume --topic "$topic" --messages "$n" --timeout 30s --json 2>"$WORK/last.err") || {
		log "perf consume against $server failed:"; cat "$WORK/last.err" >&2; exit 1
	}
	# Free the disk (gokafkad) and the memory (kfake) before the next run.
	"$GK" -b "$addr" topic delete "$topic" >/dev/null 2>&1 || log "warning: delete $topic on $server failed"
	# Let the run's writeback and freed memory settle, so the next run,
	# whichever server it is, does not pay for this one.
	sync
	sleep "$SETTLE"
	if [[ $rep == w* ]]; then
		log "$server $case warm-up $rep: produce $(jget records_per_sec <<<"$p") rec/s, consume $(jget records_per_sec <<<"$c") rec/s (not reported)"
		return
	fi
	echo "$server $case $rep $(jget records_per_sec <<<"$p") $(jget mb_per_sec <<<"$p") $(jget records_per_sec <<<"$c") $(jget mb_per_sec <<<"$c")" >>"$RESULTS"
	log "$server $case r$rep: produce $(jget records_per_sec <<<"$p") rec/s, consume $(jget records_per_sec <<<"$c") rec/s"
}

CASES=("1 100 $SMALL_RECORDS" "6 100 $SMALL_RECORDS" "1 1000 $LARGE_RECORDS" "6 1000 $LARGE_RECORDS")
steal0=$(cpu_stat)
for spec in "${CASES[@]}"; do
	read -r parts size n <<<"$spec"
	case="${parts}p-${size}B"
	for w in $(seq 1 "$WARMUP"); do
		one_run gokafkad "127.0.0.1:$GKD_PORT" "$case" "$parts" "$size" "$n" "w$w"
		one_run kfake "127.0.0.1:$KF_PORT" "$case" "$parts" "$size" "$n" "w$w"
	done
	for rep in $(seq 1 "$REPEATS"); do
		if ((rep % 2)); then
			one_run gokafkad "127.0.0.1:$GKD_PORT" "$case" "$parts" "$size" "$n" "$rep"
			one_run kfake "127.0.0.1:$KF_PORT" "$case" "$parts" "$size" "$n" "$rep"
		else
			one_run kfake "127.0.0.1:$KF_PORT" "$case" "$parts" "$size" "$n" "$rep"
			one_run gokafkad "127.0.0.1:$GKD_PORT" "$case" "$parts" "$size" "$n" "$rep"
		fi
	done
done
steal_tput=$(steal_pct "$steal0" "$(cpu_stat)")

# ---------------------------------------------------------------- latency
# LAT_RUNS runs of 10 s against each server, each on its own topic, in
# pairs that alternate which goes first as the throughput runs do; the
# report takes, for each server, the run with the median p99 and lists
# every run's p99. kfake, with no disk, shows what the machine and the
# client allow under the same load.
LATS=$WORK/latency.txt       # gokafkad: p99 json
KF_LATS=$WORK/latency-kf.txt # kfake: p99 json
: >"$LATS"
: >"$KF_LATS"
# lat_run SERVER ADDR TOPIC OUT: one 10 s run, its p99 and json appended to OUT.
lat_run() {
	local l
	l=$("$GK" -b "$2" perf produce --topic "$3" --partitions 1 --num-records 100000 \
		--record-size 100 --acks all --throughput 10000 --json 2>"$WORK/last.err") || {
		log "latency run against $1 failed:"; cat "$WORK/last.err" >&2; exit 1
	}
	echo "$(jget p99_ms <<<"$l") $l" >>"$4"
}
# The disk's own synced-append latency under the same load, just before:
# produce latency cannot beat it.
log "disk: synced 2200 B appends every 2 ms for 10 s"
steal0=$(cpu_stat)
disklat=$("$BIN/disklat" -file "$WORK/disklat.tmp" -duration 10s)
for i in $(seq 1 "$LAT_RUNS"); do
	log "latency $i/$LAT_RUNS: 10000 records/s for 10 s, gokafkad and kfake"
	if ((i % 2)); then
		lat_run gokafkad "127.0.0.1:$GKD_PORT" "latency-$i" "$LATS"
		lat_run kfake "127.0.0.1:$KF_PORT" "latency-$i" "$KF_LATS"
	else
		lat_run kfake "127.0.0.1:$KF_PORT" "latency-$i" "$KF_LATS"
		lat_run gokafkad "127.0.0.1:$GKD_PORT" "latency-$i" "$LATS"
	fi
done
steal_lat=$(steal_pct "$steal0" "$(cpu_stat)")
# median_run FILE: the json of the run with the median p99.
median_run() { sort -g "$1" | awk -v n="$LAT_RUNS" 'NR == int((n + 1) / 2) { $1 = ""; print substr($0, 2) }'; }
# p99s FILE: every run's p99, in order.
p99s() { awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }' "$1"; }
lat=$(median_run "$LATS")
lat_p99s=$(p99s "$LATS")
kf_lat=$(median_run "$KF_LATS")
kf_lat_p99s=$(p99s "$KF_LATS")
stop_pid "$KF_PID"
stop_pid "$MAIN_PID"

# ---------------------------------------------------------------- idle, 5 topics
log "idle gokafkad with 5 topics"
start_gokafkad idle5 $((BASE_PORT + 4))
for i in 1 2 3 4 5; do "$GK" -b "127.0.0.1:$((BASE_PORT + 4))" topic create "idle$i" --partitions 1 >/dev/null; done
sleep 5
idle5_rss=$(rss_kb "$GKD_PID")
idle5_cpu=$(idle_cpu "$GKD_PID" 10)
stop_pid "$GKD_PID"

# ---------------------------------------------------------------- 1000 partitions
log "gokafkad with 10 topics x 100 partitions"
start_gokafkad many $((BASE_PORT + 6))
t0=$(now)
for i in $(seq 1 10); do
	"$GK" -b "127.0.0.1:$((BASE_PORT + 6))" topic create "many$i" --partitions 100 >/dev/null
done
t1=$(now)
create_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
many_cpu=$(idle_cpu "$GKD_PID" 10)
many_rss=$(rss_kb "$GKD_PID")
many_parts=$("$GK" -b "127.0.0.1:$((BASE_PORT + 6))" topic describe 2>/dev/null | grep -c $'^\tTopic:' || true)
stop_pid "$GKD_PID"

# ---------------------------------------------------------------- report
fig() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; }
# med SERVER CASE COLUMN: the median of a result column.
med() { awk -v s="$1" -v c="$2" -v k="$3" '$1 == s && $2 == c { print $k }' "$RESULTS" | median; }
# ratio CASE COLUMN: median over repeats of gokafkad/kfake in the same repeat.
ratio() {
	awk -v c="$1" -v k="$2" '$2 == c { v[$1, $3] = $k; r[$3] = 1 }
		END { for (i in r) if (v["kfake", i] > 0) print v["gokafkad", i] / v["kfake", i] }' "$RESULTS" | median
}
# barratio CASE: median over repeats of gokafkad's produce MB/s over the bar:
# kfake's produce MB/s in the same repeat, or the disk's synced write rate
# where that is lower.
barratio() {
	awk -v c="$1" -v d="$disk_mbs" '$2 == c { v[$1, $3] = $5; r[$3] = 1 }
		END { for (i in r) { b = v["kfake", i]; if (d < b) b = d; if (b > 0) print v["gokafkad", i] / b } }' "$RESULTS" | median
}

cat <<EOF
## Results $(date -u +%Y-%m-%d) (REPEATS=$REPEATS)

Machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr), $(go version | awk '{ print $3 }'), data on $(df -T "$WORK" | awk 'NR == 2 { print $2 " " $1 }'); gokafka $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- 2>/dev/null || echo "+uncommitted").

Disk, synced writes (dd, MB = 2^20 bytes):

| dd | ops/s | MB/s |
|---|---|---|
| bs=4k count=2000 oflag=dsync | $(fig "$(awk -v s="$dsync_s" 'BEGIN { print 2000 / s }')" 0) | $(fig "$(awk -v s="$dsync_s" -v b="$dsync_bytes" 'BEGIN { print b / s / 1048576 }')" 2) |
| bs=1M count=$DISK_MB conv=fdatasync, median of 3 ($(printf '%.0f ' "${DISKS[@]}")MB/s) | - | $(fig "$disk_mbs" 1) |

Throughput, \`gokafka perf produce --acks all\` then \`perf consume\` of the same topic; medians of $REPEATS runs, after $WARMUP unreported warm-up run(s) of each server per case; ratio is the median of the per-run gokafkad/kfake ratios. The produce bar of a run is kfake's produce MB/s, or the disk's synced write rate above where that is lower; "vs bar" is the median of gokafkad's produce MB/s over it. The host took $steal_tput% of this machine's CPU time (steal, /proc/stat) during these runs:

| case (partitions-record size, records) | gokafkad produce rec/s | MB/s | kfake produce rec/s | MB/s | produce ratio | produce vs bar | gokafkad consume rec/s | MB/s | kfake consume rec/s | MB/s | consume ratio |
|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
for spec in "${CASES[@]}"; do
	read -r parts size n <<<"$spec"
	case="${parts}p-${size}B"
	echo "| $case, $n | $(fig "$(med gokafkad "$case" 4)" 0) | $(fig "$(med gokafkad "$case" 5)" 1) | $(fig "$(med kfake "$case" 4)" 0) | $(fig "$(med kfake "$case" 5)" 1) | $(fig "$(ratio "$case" 4)" 2) | $(fig "$(barratio "$case")" 2) | $(fig "$(med gokafkad "$case" 6)" 0) | $(fig "$(med gokafkad "$case" 7)" 1) | $(fig "$(med kfake "$case" 6)" 0) | $(fig "$(med kfake "$case" 7)" 1) | $(fig "$(ratio "$case" 6)" 2) |"
done
cat <<EOF

gokafkad, other figures:

| measure | value |
|---|---|
| produce latency at 10,000 rec/s for 10 s (100 B, 1 partition, acks=all), the run with the median p99 of $LAT_RUNS: achieved rate | $(fig "$(jget records_per_sec <<<"$lat")" 0) rec/s |
| ... p50 / p99 / p99.9 / max | $(fig "$(jget p50_ms <<<"$lat")" 2) / $(fig "$(jget p99_ms <<<"$lat")" 2) / $(fig "$(jget p999_ms <<<"$lat")" 2) / $(fig "$(jget max_latency_ms <<<"$lat")" 2) ms |
| ... p99 of each run, in order | $lat_p99s ms |
| kfake (in memory, no disk) under the same load, paired with those runs: p50 / p99 / p99.9 / max | $(fig "$(jget p50_ms <<<"$kf_lat")" 2) / $(fig "$(jget p99_ms <<<"$kf_lat")" 2) / $(fig "$(jget p999_ms <<<"$kf_lat")" 2) / $(fig "$(jget max_latency_ms <<<"$kf_lat")" 2) ms |
| ... kfake's p99 of each run, in order | $kf_lat_p99s ms |
| ... CPU time the host took (steal) over the disk and latency runs | $steal_lat % |
| the disk alone, just before (\`bench/disklat\`: a 2200 B append and fdatasync every 2 ms for 10 s): p50 / p99 / p99.9 / max | $(fig "$(jget p50_ms <<<"$disklat")" 2) / $(fig "$(jget p99_ms <<<"$disklat")" 2) / $(fig "$(jget p999_ms <<<"$disklat")" 2) / $(fig "$(jget max_ms <<<"$disklat")" 2) ms |
| idle, 5 topics x 1 partition: RSS after 5 s | $(fig "$(awk -v k="$idle5_rss" 'BEGIN { print k / 1024 }')" 1) MiB |
| idle, 5 topics: CPU over 10 s | $idle5_cpu % of a core |
| 10 topics x 100 partitions: time to create (10 sequential CreateTopics) | $create_s s |
| ... partitions described afterwards | $many_parts |
| ... idle CPU over the 10 s after creation | $many_cpu % of a core |
| ... RSS | $(fig "$(awk -v k="$many_rss" 'BEGIN { print k / 1024 }')" 1) MiB |
EOF
log "done"
