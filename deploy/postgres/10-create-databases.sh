#!/usr/bin/env bash
# Creates one database per Sila service on the first start of an empty data
# directory (the postgres image runs /docker-entrypoint-initdb.d/* only then).
# Each service owns its schema; none reads another's database.
set -eo pipefail  # no -u: the image sources, rather than runs, a script that lost its exec bit

databases="${SILA_DATABASES:-sila_identity sila_tickets sila_billing sila_loyalty sila_notify}"

for database in ${databases}; do
    echo "creating database ${database}"
    psql --set ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres <<SQL
CREATE DATABASE ${database} OWNER "${POSTGRES_USER}" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE ${database} FROM PUBLIC;
SQL
done
