#!/bin/bash
set -euo pipefail
cd /etc/pki/corp
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/CN=Corp Internal Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=api.corp.internal"
cat > server.ext <<'EXT'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:api.corp.internal, DNS:api, IP:127.0.0.1
EXT
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 397 -extfile server.ext
cat server.crt ca.crt > fullchain.pem
chmod 0600 ca.key server.key
chmod 0644 ca.crt server.crt fullchain.pem
rm -f server.csr server.ext
openssl verify -CAfile ca.crt server.crt
