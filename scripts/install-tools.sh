#!/usr/bin/env bash
# Installs the external verifiers the suite runs for real: promtool and amtool
# (Prometheus 2.42 and Alertmanager 0.25 in Debian bookworm), and vmalert with
# VictoriaMetrics (1.79 in bookworm) for the vmalert rule files.
set -euo pipefail
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
{ command -v vmalert >/dev/null 2>&1 && command -v victoria-metrics >/dev/null 2>&1; } || missing+=(victoria-metrics)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt=(sudo apt-get)
else
  echo "promtool/amtool/vmalert missing: run 'apt-get install -y ${missing[*]}' as root" >&2
  exit 1
fi
echo "installing ${missing[*]} (promtool, amtool, vmalert) from Debian"
"${apt[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v promtool >/dev/null && command -v amtool >/dev/null && command -v vmalert >/dev/null && command -v victoria-metrics >/dev/null
