#!/usr/bin/env bash
# Install (idempotent) and start a real Redmine on 127.0.0.1 for the sink tests.
# Prints REDMINE_URL, REDMINE_API_KEY and REDMINE_CF_ID lines; the server's PID is in $STATE/redmine.pid.
# Recipe measured on Debian 12: ../shared/notes/service-desks-in-ci.md
set -euo pipefail
STATE=${1:-/tmp/sitewatch-redmine}
PORT=${REDMINE_PORT:-3300}
mkdir -p "$STATE"
chmod 755 "$STATE"   # www-data runs the setup script from here
export DEBIAN_FRONTEND=noninteractive
if ! dpkg-query -W -f='${Status}' redmine 2>/dev/null | grep -q "ok installed"; then
  cat > "$STATE/preseed.txt" <<'PRESEED'
redmine redmine/current-instances string default
redmine redmine/instances/default/dbconfig-install boolean true
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/default-language select en
PRESEED
  debconf-set-selections "$STATE/preseed.txt"
  apt-get update -qq   # only when installing: package lists may be stale on a new machine
  apt-get install -y -qq --no-install-recommends redmine redmine-sqlite >/dev/null
fi
# No app server ships in the bundle: add webrick once.
if ! grep -qs webrick /usr/share/redmine/Gemfile.local; then
  echo 'gem "webrick"' > /usr/share/redmine/Gemfile.local
  ( cd /usr/share/redmine && rm -f /var/lib/redmine/Gemfile.lock && bundle install --local --quiet )
  chown www-data:www-data /var/lib/redmine/Gemfile.lock
fi
cat > "$STATE/setup.rb" <<'RUBY'
Setting.rest_api_enabled = '1'
admin = User.find_by_login('admin'); admin.must_change_passwd = false; admin.save!
cf = IssueCustomField.find_by_name('sitewatch_incident_key') || IssueCustomField.create!(
  name: 'sitewatch_incident_key', field_format: 'string', is_filter: true, searchable: true,
  is_for_all: true, visible: true, tracker_ids: Tracker.pluck(:id))
# Two projects: the clients test routes one client to each (tests/test_clients_redmine.py).
[['Sitewatch', 'sitewatch'], ['Sitewatch B', 'sitewatch-b']].each do |name, identifier|
  next if Project.find_by_identifier(identifier)
  p = Project.create!(name: name, identifier: identifier, is_public: false)
  p.trackers = Tracker.all; p.enabled_module_names = ['issue_tracking']; p.save!
end
puts "REDMINE_CF_ID=#{cf.id}"; puts "REDMINE_API_KEY=#{admin.api_key}"
RUBY
chmod 644 "$STATE/setup.rb"
su www-data -s /bin/sh -c "cd /usr/share/redmine && REDMINE_INSTANCE=default RAILS_ENV=production bundle exec rails runner $STATE/setup.rb" > "$STATE/setup.out"
env -C /usr/share/redmine HOME=/var/lib/redmine REDMINE_INSTANCE=default RAILS_ENV=production \
  setpriv --reuid=www-data --regid=www-data --init-groups \
  bundle exec rackup -s webrick -o 127.0.0.1 -p "$PORT" -E production config.ru > "$STATE/server.log" 2>&1 &
echo $! > "$STATE/redmine.pid"
for _ in $(seq 1 120); do
  if curl -fs -o /dev/null "http://127.0.0.1:$PORT/"; then break; fi
  sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" || { echo "redmine did not start; see $STATE/server.log" >&2; exit 1; }
echo "REDMINE_URL=http://127.0.0.1:$PORT"
cat "$STATE/setup.out"
