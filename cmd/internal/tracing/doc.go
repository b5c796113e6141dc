// Package tracing holds the tests of tracing across processes' parts:
// package otelsession's spans through two cluster store nodes (an owner
// and its backup) and through the router, read from the OpenTelemetry
// SDK's in-memory exporter. It has no code of its own: otelsession's
// module requires neither the cluster store nor the router, and these
// tests need both.
package tracing
