# Multi-stage build: a static binary on a distroless base, run as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/nomina ./cmd/nomina
# The data directory exists in the image, owned by the user that runs the
# service, so a volume mounted there starts out writable by it (the
# distroless image has no shell to create it).
RUN mkdir -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/nomina /app/nomina
COPY workflows /app/workflows
COPY config /app/config
COPY --from=build --chown=65532:65532 /out/data /app/data
USER 65532:65532
ENV NOMINA_HTTP_ADDR=0.0.0.0:8080 NOMINA_DATA_DIR=/app/data
EXPOSE 8080
ENTRYPOINT ["/app/nomina"]
CMD ["serve"]
