# The container image: the static tandem binary alone, FROM scratch. The time zone database and
# Mozilla's CA roots are compiled into the binary (cmd/tandem/main.go), so the image needs no
# other file. Multi-platform with buildx, cross-compiled on the build machine:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v1.0.0 --build-arg COMMIT=$(git rev-parse HEAD) -t tandem:v1.0.0 .
#
#   docker run -p 8080:8080 -v tandem-data:/data -v "$PWD:/project:ro" \
#     tandem:v1.0.0 serve --config /project/tandem.yaml --addr :8080 --data /data
#
# (from the project's folder: flows: and knowledge sources are relative to tandem.yaml's folder)

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.Version=$VERSION -X main.Commit=$COMMIT" -o /out/tandem ./cmd/tandem \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /out/tandem /tandem
# The data folder (SQLite), owned by the unprivileged user the server runs as.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/tandem"]
CMD ["serve", "--addr", ":8080", "--data", "/data"]
