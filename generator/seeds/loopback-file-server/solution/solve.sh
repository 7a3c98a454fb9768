#!/bin/bash
set -euo pipefail
cat > /etc/pubserve/pubserve.ini <<'INI'
[server]
bind = 127.0.0.1
port = 8731
root = /srv/pub/public
INI
python3 - <<'PY'
from pathlib import Path
p = Path("/opt/pubserve/pubserve.py")
s = p.read_text()
s = s.replace('directory=server["docroot"]', 'directory=server["root"]')
s = s.replace('(server["bind"], server["port"])', '(server["bind"], server.getint("port"))')
s = s.replace('''        if self.path.startswith("/."):''', '''        path = urllib.parse.unquote(self.path.split("?", 1)[0].split("#", 1)[0])
        if any(part.startswith(".") for part in path.split("/") if part):''')
s = s.replace("import http.server\n", "import http.server\nimport urllib.parse\n")
p.write_text(s)
PY
setsid nohup python3 /opt/pubserve/pubserve.py > /var/log/pubserve.log 2>&1 < /dev/null &
echo $! > /run/pubserve.pid
for i in $(seq 50); do
  curl -fsS -o /dev/null http://127.0.0.1:8731/ && break
  sleep 0.1
done
