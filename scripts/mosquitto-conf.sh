#!/usr/bin/env bash
# Print the project's mosquitto.conf adapted to run on this machine: a given port and data folder, the ACL file
# from the checkout. Used by .ci/run, tests and benches: `scripts/mosquitto-conf.sh 18831 var/mosq > x.conf`.
set -euo pipefail
port=${1:?port}
data=${2:?data folder}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$data"
# Started as root, Mosquitto drops to the `mosquitto` user: that user must be able to write its data folder.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then chown mosquitto "$data"; fi
sed -e "s|^listener .*|listener $port 127.0.0.1|" \
    -e "s|^persistence_location .*|persistence_location $data/|" \
    -e "s|^acl_file .*|acl_file $root/mosquitto.acl|" \
    "$root/mosquitto.conf"
echo "pid_file $data/mosquitto.pid"
echo "log_dest file $data/mosquitto.log"
