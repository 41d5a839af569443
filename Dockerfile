# openfront's container image: a static binary on distroless, as a non-root
# user, data in the /data volume.
#
#   docker build -t openfront .
#   docker run --rm -p 4747:4747 -p 4748:4748 -v openfront-data:/data \
#       -v "$PWD/examples/openfront.yaml:/etc/openfront.yaml:ro" \
#       openfront serve --config /etc/openfront.yaml \
#       --api-addr 0.0.0.0:4747 --edge-addr 0.0.0.0:4748 --data-dir /data
#
# The build context keeps .git, so `go build` stamps the revision that
# `openfront version` reports; --build-arg VERSION=v1.2.3 sets the version.

FROM golang:1.26-bookworm AS build
# go.mod names the Go release it needs: fetch it if the image is older.
ENV GOTOOLCHAIN=auto
ARG VERSION=""
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The checkout may belong to another user than the build's: let git read
# it for the VCS stamp.
RUN git config --global --add safe.directory /src
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=auto \
        -ldflags "-s -w ${VERSION:+-X main.version=$VERSION}" \
        -o /out/openfront ./cmd/openfront \
    && /out/openfront version \
    && mkdir -p /out/data

# distroless/static: CA certificates (https origins), /etc/passwd with the
# nonroot user (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/openfront /openfront
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
# 4747: the CloudFront API; 4748: the edge (viewers); 9090: /metrics when
# started with --metrics-addr 0.0.0.0:9090.
EXPOSE 4747 4748 9090
ENTRYPOINT ["/openfront"]
CMD ["serve", "--api-addr", "0.0.0.0:4747", "--edge-addr", "0.0.0.0:4748", "--data-dir", "/data"]
