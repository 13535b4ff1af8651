#!/usr/bin/env bash
# Print the project's mosquitto.conf adapted to run on this machine: a given port and data folder, this machine's
# dynamic-security plugin. Used by .ci/run, tests and benches:
#   MQTT_BACKEND_PASSWORD=secret scripts/mosquitto-conf.sh 18831 var/mosq > var/mosq.conf
# The backend's account is written into DATA/dynamic-security.json (scripts/mosquitto-dynsec-init.py); devices and
# readers already issued in that file are kept. The backend then connects as mqtt://backend:secret@127.0.0.1:PORT.
set -euo pipefail
port=${1:?port}
data=${2:?data folder}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${MQTT_BACKEND_PASSWORD:-}" ]; then
  echo "mosquitto-conf.sh: set MQTT_BACKEND_PASSWORD (the backend's MQTT secret; anonymous clients are refused)" >&2
  exit 2
fi
plugin=""
for candidate in /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so /usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so \
                 /usr/lib/mosquitto_dynamic_security.so /usr/local/lib/mosquitto_dynamic_security.so; do
  if [ -f "$candidate" ]; then plugin=$candidate; break; fi
done
if [ -z "$plugin" ]; then
  echo "mosquitto-conf.sh: mosquitto_dynamic_security.so not found (Debian: apt-get install mosquitto)" >&2
  exit 2
fi
mkdir -p "$data"
data=$(cd "$data" && pwd)
python3 "$root/scripts/mosquitto-dynsec-init.py" "$data/dynamic-security.json" "${MQTT_BACKEND_USERNAME:-backend}"
# Started as root, Mosquitto drops to the `mosquitto` user: that user must be able to write its data folder.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then chown -R mosquitto "$data"; fi
sed -e "s|^listener .*|listener $port 127.0.0.1|" \
    -e "s|^persistence_location .*|persistence_location $data/|" \
    -e "s|^plugin .*|plugin $plugin|" \
    -e "s|^plugin_opt_config_file .*|plugin_opt_config_file $data/dynamic-security.json|" \
    "$root/mosquitto.conf"
echo "pid_file $data/mosquitto.pid"
echo "log_dest file $data/mosquitto.log"
