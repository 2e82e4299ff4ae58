#!/bin/sh
# One pod of the fan-out Job: runs the sources on line JOB_COMPLETION_INDEX (from 0) of the
# partition file (sources.txt; comments and blank lines do not count), without the models, which
# are built once, later, by models-cronjob.yaml.
#
#   run-sources.sh PIPELINE
#
# Kubernetes gives every pod of an Indexed Job the same arguments and only the index differs, so
# this maps the index to `--source` flags. POSIX sh: the image's /bin/sh is dash.
set -eu
# Source names are split on blanks, never globbed.
set -f

pipeline=${1:?usage: run-sources.sh PIPELINE}
index=${JOB_COMPLETION_INDEX:?is not set: run this in an Indexed Job}
list=${SENDLAKE_FANOUT_SOURCES:-/etc/sendlake/fanout/sources.txt}

i=0
sources=
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%%#*}
  # shellcheck disable=SC2086 # split on purpose: it trims the line and counts its names
  set -- $line
  [ $# -eq 0 ] && continue
  if [ "$i" -eq "$index" ]; then
    sources=$*
    break
  fi
  i=$((i + 1))
done <"$list"

if [ -z "$sources" ]; then
  # A configuration error, as sendlake's own exit code 2: retrying cannot help.
  echo "run-sources.sh: $list has no line $index: the Job's completions must equal its number of lines" >&2
  exit 2
fi

set --
for s in $sources; do
  set -- "$@" --source "$s"
done
exec sendlake --log-format json run "$pipeline" --no-models "$@"
