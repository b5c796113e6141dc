// Package deploy holds the test that keeps the Kubernetes manifests of
// the repository's deploy/ folder true: each decodes strictly into the
// Kubernetes API's types, every flag they pass is one the command has,
// and they hang together (the seed, the secrets, the probes).
package deploy
