#!/bin/sh
# The association's own certificate authority and the broker's certificate, for MQTT over
# TLS (Mosquitto's listener 8883). The meters carry citizenwatt-ca.crt (the workshop
# installs it) and check the broker's name against it.
#
#   make-broker-certs.sh DIR NAME [NAME...]
#     DIR   where the files go (created 0700)
#     NAME  the names the meters use for the broker: DNS names (mqtt.example.org) or IP
#           addresses (192.0.2.10); the first one is the certificate's common name.
#
# Writes, in DIR:
#   citizenwatt-ca.key      the CA's private key: keep it OFFLINE (USB key in a drawer);
#                           it is only needed to make the next broker certificate
#   citizenwatt-ca.crt      the CA certificate: on the broker (cafile) and on every meter
#   citizenwatt-broker.key  the broker's private key (root:mosquitto 0640 on the server)
#   citizenwatt-broker.crt  the broker's certificate, signed by the CA
# An existing CA is reused, so a new broker certificate (new name, renewal) needs no
# change on the meters. Keys are EC P-256: short handshakes the ESP32 handles well.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 DIR NAME [NAME...]   (NAME: the broker's DNS name or IP address)" >&2
  exit 2
fi
dir=$1; shift
cn=$1
ca_days=7300      # 20 years: the meters cannot be given a new CA without a workshop
broker_days=1825  # 5 years; run again before then (the CA stays, the meters need nothing)

umask 077
mkdir -p "$dir"
cd "$dir"

san=""
for name in "$@"; do
  case $name in
    *[!0-9.]*) kind=DNS ;;  # anything but digits and dots: a DNS name (IPv6 below)
    *) kind=IP ;;
  esac
  case $name in *:*) kind=IP ;; esac
  san="${san:+$san,}$kind:$name"
done

if [ ! -f citizenwatt-ca.key ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout citizenwatt-ca.key -out citizenwatt-ca.crt -days "$ca_days" -sha256 \
    -subj "/O=Citizen Watt/CN=Citizen Watt broker CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
fi

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout citizenwatt-broker.key -out citizenwatt-broker.csr \
  -subj "/O=Citizen Watt/CN=$cn"
cat > citizenwatt-broker.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -in citizenwatt-broker.csr -CA citizenwatt-ca.crt -CAkey citizenwatt-ca.key \
  -CAcreateserial -out citizenwatt-broker.crt -days "$broker_days" -sha256 \
  -extfile citizenwatt-broker.ext
rm -f citizenwatt-broker.csr citizenwatt-broker.ext
chmod 0644 citizenwatt-ca.crt citizenwatt-broker.crt
openssl verify -CAfile citizenwatt-ca.crt citizenwatt-broker.crt
