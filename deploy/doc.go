// Package deploy holds what runs StreetWatch in production rather than the
// program itself: the Grafana dashboard, the Prometheus alert rules with their
// promtool unit tests, a docker-compose example, Kubernetes manifests
// (kubernetes/) and (at the repository root) the Dockerfile. It has no Go code to import; its tests keep those files
// valid and in step with the metrics the Go source defines, so renaming a
// metric without updating a dashboard or an alert fails `go test ./...`.
package deploy
