#!/usr/bin/env bash
# Install (idempotent) and start a real Request Tracker 5 on 127.0.0.1 for the sink tests.
# Prints RT_URL, RT_USER, RT_PASSWORD; the server's PID is in $STATE/rt.pid.
# Recipe measured on Debian 12: ../shared/notes/service-desks-in-ci.md
set -euo pipefail
STATE=${1:-/tmp/sitewatch-rt}
PORT=${RT_PORT:-8380}
mkdir -p "$STATE"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg-query -W -f='${Status}' request-tracker5 2>/dev/null | grep -q "ok installed"; then
  cat > "$STATE/preseed.txt" <<PRESEED
request-tracker5 request-tracker5/rtname string sitewatch.test
request-tracker5 request-tracker5/organization string sitewatch.test
request-tracker5 request-tracker5/correspondaddress string rt@sitewatch.test
request-tracker5 request-tracker5/commentaddress string rt-comment@sitewatch.test
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1:$PORT
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/install-cronjobs boolean false
nullmailer shared/mailname string sitewatch.test
nullmailer nullmailer/relayhost string 127.0.0.1
PRESEED
  debconf-set-selections "$STATE/preseed.txt"
  apt-get update -qq   # only when installing: package lists may be stale on a new machine
  apt-get install -y -qq --no-install-recommends request-tracker5 rt5-db-sqlite rt5-standalone nullmailer >/dev/null
fi
printf 'sitewatch123\nsitewatch123\n' | /usr/sbin/rt-passwd-5 root >/dev/null 2>&1 || true  # exits 1 even on success
# The custom field holding the incident key, applied globally (values are dropped silently otherwise).
cat > "$STATE/cf.pl" <<'PERL'
use strict; use warnings; use lib '/usr/share/request-tracker5/lib';
use RT; RT::LoadConfig(); RT::Init();
my $cf = RT::CustomField->new(RT->SystemUser);
$cf->LoadByName(Name => 'sitewatch_incident_key', LookupType => 'RT::Queue-RT::Ticket');
unless ($cf->id) {
  my ($ok, $msg) = $cf->Create(Name => 'sitewatch_incident_key', Type => 'Freeform', MaxValues => 1,
                               LookupType => 'RT::Queue-RT::Ticket');
  die "cannot create custom field: $msg" unless $ok;
}
$cf->AddToObject(RT::Queue->new(RT->SystemUser));
print "RT_CF_ID=", $cf->id, "\n";
PERL
perl "$STATE/cf.pl" > "$STATE/cf.out"
/usr/share/request-tracker5/libexec/rt-server --host 127.0.0.1 --port "$PORT" --webpath /rt --max-workers 2 \
  > "$STATE/server.log" 2>&1 &
echo $! > "$STATE/rt.pid"
for _ in $(seq 1 120); do
  if curl -fs -o /dev/null -u root:sitewatch123 "http://127.0.0.1:$PORT/rt/REST/2.0/queues/all"; then break; fi
  sleep 0.5
done
curl -fs -o /dev/null -u root:sitewatch123 "http://127.0.0.1:$PORT/rt/REST/2.0/queues/all" \
  || { echo "RT did not start; see $STATE/server.log" >&2; exit 1; }
echo "RT_URL=http://127.0.0.1:$PORT/rt"
echo "RT_USER=root"
echo "RT_PASSWORD=sitewatch123"
cat "$STATE/cf.out"
