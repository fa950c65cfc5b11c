# nthlb's container image (docs/install.md, "Container"). Build: docker build -t nthlb .
# Run, with the rules file of the host and the host's network (a VIP is an address of the host):
#   docker run -d --name nthlb --network host --user 0 --cap-drop ALL --cap-add NET_BIND_SERVICE \
#       -v /etc/nthlb/nthlb.rules:/etc/nthlb/nthlb.rules:ro nthlb
# Reload the rules: docker kill -s HUP nthlb. Stop (drains for up to 30 s): docker stop -t 45 nthlb.

# ---- build: the release tarball, from a clean checkout
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -ntp -q dependency:go-offline
COPY . .
RUN mvn -B -ntp -q package -DskipTests && mkdir /out && tar -C /out -xzf target/nthlb-*.tar.gz && mv /out/nthlb-* /out/nthlb

# ---- run: a JRE only, nthlb as an unprivileged user
FROM eclipse-temurin:17-jre
COPY --from=build /out/nthlb /opt/nthlb
# The class-data-sharing archive belongs to this image's JVM: record it now, while /opt/nthlb is writable
# (a short run on loopback), so that every container starts fast.
RUN /opt/nthlb/nthlb --version \
    && useradd --system --no-create-home --shell /usr/sbin/nologin nthlb \
    && mkdir -p /etc/nthlb && cp /opt/nthlb/conf/seed.rules /etc/nthlb/nthlb.rules
USER nthlb
VOLUME ["/etc/nthlb"]
# The ports are the ones the rules DNAT or REDIRECT (80 in the seed's rules); 9180 is the admin endpoint,
# on the container's loopback unless --admin says otherwise.
EXPOSE 80
# /healthz answers 200 while nthlb serves and 503 when a data-plane event loop is stuck; bash's /dev/tcp
# needs no HTTP client in the image.
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9180 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/opt/nthlb/nthlb"]
CMD ["run", "/etc/nthlb/nthlb.rules"]
