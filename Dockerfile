# syntax=docker/dockerfile:1
#
# StreetWatch image. Two variants, chosen at build time:
#
#   docker build -t streetwatch .                        # GPU: CUDA 12 + cuDNN 9, onnxruntime-gpu
#   docker build --build-arg VARIANT=cpu -t streetwatch:cpu .
#
# Build and runtime stages are both Ubuntu 24.04, so the libav* (FFmpeg 6.1) and
# OpenCV 4.6 sonames the binary is linked against are the ones installed at run
# time; the runtime stage installs exactly the packages the build found in `ldd`.
# deploy/README.md shows how to run it; deploy/dockerfile_test.go checks this file.

ARG VARIANT=gpu
ARG GO_VERSION=1.26
ARG ORT_VERSION=1.24.1
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

FROM golang:${GO_VERSION} AS go

# ---- build: cgo against Ubuntu 24.04's FFmpeg and OpenCV ----
FROM ubuntu:24.04 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates git gcc g++ pkg-config \
      libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libopencv-dev \
 && rm -rf /var/lib/apt/lists/*
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH CGO_ENABLED=1 GOTOOLCHAIN=local
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-X main.version=${VERSION}" -o /out/streetwatch ./cmd/streetwatch
# The Debian packages owning every shared library the binary links, for the runtime stage.
RUN set -e; for f in $(ldd /out/streetwatch | awk '/=> \// {print $3}'); do \
      r=$(readlink -f "$f"); \
      dpkg -S "$f" 2>/dev/null || dpkg -S "$r" 2>/dev/null || dpkg -S "${r#/usr}" 2>/dev/null \
        || { echo "no package owns $f" >&2; exit 1; }; \
    done | cut -d: -f1 | sort -u > /out/runtime-packages.txt \
 && cat /out/runtime-packages.txt

# ---- ONNX Runtime release tarballs (the library is loaded at run time) ----
FROM ubuntu:24.04 AS ort-fetch
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

FROM ort-fetch AS ort-gpu
ARG ORT_VERSION
# The CUDA 12 build; check the asset name on the release page when changing ORT_VERSION.
ARG ORT_ASSET=onnxruntime-linux-x64-gpu-${ORT_VERSION}.tgz
RUN mkdir -p /opt/onnxruntime \
 && curl -fsSL "https://github.com/microsoft/onnxruntime/releases/download/v${ORT_VERSION}/${ORT_ASSET}" \
    | tar -xz --strip-components=1 -C /opt/onnxruntime \
 && test -e /opt/onnxruntime/lib/libonnxruntime.so \
 && test -e /opt/onnxruntime/lib/libonnxruntime_providers_cuda.so

FROM ort-fetch AS ort-cpu
ARG ORT_VERSION
ARG ORT_ASSET=onnxruntime-linux-x64-${ORT_VERSION}.tgz
RUN mkdir -p /opt/onnxruntime \
 && curl -fsSL "https://github.com/microsoft/onnxruntime/releases/download/v${ORT_VERSION}/${ORT_ASSET}" \
    | tar -xz --strip-components=1 -C /opt/onnxruntime \
 && test -e /opt/onnxruntime/lib/libonnxruntime.so

FROM ort-${VARIANT} AS ort

# ---- runtime bases ----
FROM ${CUDA_IMAGE} AS runtime-gpu
FROM ubuntu:24.04 AS runtime-cpu

# ---- runtime ----
FROM runtime-${VARIANT}
ARG VARIANT
ARG VERSION=dev
LABEL org.opencontainers.image.title="StreetWatch" \
      org.opencontainers.image.description="City camera streams to confirmed violations, evidence and dispatch tickets (${VARIANT})" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/streetwatch/streetwatch"
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl tzdata $(cat /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=ort /opt/onnxruntime/lib/ /opt/onnxruntime/lib/
COPY --from=build /out/streetwatch /usr/local/bin/streetwatch
COPY models/streetwatch-demo.onnx models/streetwatch-demo.yaml /usr/share/streetwatch/models/
COPY streetwatch.example.yaml /usr/share/streetwatch/streetwatch.example.yaml
# Fail the build, not the first start, when a library is missing.
RUN echo /opt/onnxruntime/lib > /etc/ld.so.conf.d/onnxruntime.conf && ldconfig \
 && ! ldd /usr/local/bin/streetwatch | grep 'not found' \
 && ! ldd /opt/onnxruntime/lib/libonnxruntime.so | grep 'not found' \
 && if [ "$VARIANT" = gpu ]; then ! ldd /opt/onnxruntime/lib/libonnxruntime_providers_cuda.so | grep 'not found'; fi \
 && groupadd --system streetwatch \
 && useradd --system --gid streetwatch --home-dir /var/lib/streetwatch --shell /usr/sbin/nologin streetwatch \
 && mkdir -p /etc/streetwatch /var/lib/streetwatch \
 && chown streetwatch:streetwatch /var/lib/streetwatch
ENV STREETWATCH_ORT_LIB=/opt/onnxruntime/lib/libonnxruntime.so
USER streetwatch
WORKDIR /var/lib/streetwatch
VOLUME ["/etc/streetwatch", "/var/lib/streetwatch"]
EXPOSE 8080
# /healthz answers 200 while the process runs (no sign-in needed); the config's
# http.listen must be 0.0.0.0:8080 (or another address reachable inside the container).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["streetwatch"]
CMD ["run", "--config", "/etc/streetwatch/streetwatch.yaml"]
