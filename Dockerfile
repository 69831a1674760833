# Multi-stage build: a static binary on a distroless base, run as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/nomina ./cmd/nomina

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/nomina /app/nomina
COPY workflows /app/workflows
COPY config /app/config
USER nonroot:nonroot
ENV NOMINA_HTTP_ADDR=0.0.0.0:8080 NOMINA_DATA_DIR=/app/data
EXPOSE 8080
ENTRYPOINT ["/app/nomina"]
CMD ["serve"]
