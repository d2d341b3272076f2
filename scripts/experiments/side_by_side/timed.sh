# Sourced by the side-by-side scripts (wlm_side_by_side.sh, shakespeare_race.sh).
# timed NAME COMMAND...: run COMMAND with its output and its wall time ("wall_s 12.34", the
# last line) in $OUT/NAME.log, echoing the command and the log's last lines.
timed() {
  local name=$1 start
  shift
  echo "== $name: $*" | tee "$OUT/$name.log"
  start=$EPOCHREALTIME
  "$@" >>"$OUT/$name.log" 2>&1
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "wall_s %.2f\n", b - a }' >>"$OUT/$name.log"
  tail -n 3 "$OUT/$name.log"
}
