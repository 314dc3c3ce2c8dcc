# Stand-ins for the postgres and redis images, built from Debian's own packages (postgresql-15, redis-server) for
# machines that reach no image registry; the stack test runs them. They take what the official images take:
# POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD(_FILE), data in /var/lib/postgresql/data; redis data in /data.
#   docker/build-images.sh postgres redis
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS postgres
# No "main" cluster at install time: the entrypoint makes the one cluster, in the volume.
RUN mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf \
    && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       -o Dpkg::Options::=--force-confold postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql && chmod 700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
HEALTHCHECK --interval=10s --timeout=5s --retries=5 CMD pg_isready -q -h 127.0.0.1 -p "${PGPORT:-5432}"
ENTRYPOINT ["sh", "/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]

FROM ${BASE_IMAGE} AS redis
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
HEALTHCHECK --interval=10s --timeout=5s --retries=5 CMD redis-cli ping | grep -q PONG
CMD ["redis-server", "--dir", "/data"]
