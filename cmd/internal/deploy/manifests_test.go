package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sessionkit/sessionkit/cmd/internal/cli"
)

// manifests are the decoded objects of deploy/kubernetes, by kind.
type manifests struct {
	services     []corev1.Service
	secrets      []corev1.Secret
	namespaces   []corev1.Namespace
	statefulSets []appsv1.StatefulSet
	deployments  []appsv1.Deployment
}

// load decodes every document of every file strictly: an unknown field,
// a misspelt one or a value of the wrong type fails.
func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("../../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var m manifests
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s, document %d: %v", file, i+1, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Service":
				m.services = append(m.services, corev1.Service{})
				obj = &m.services[len(m.services)-1]
			case "v1 Secret":
				m.secrets = append(m.secrets, corev1.Secret{})
				obj = &m.secrets[len(m.secrets)-1]
			case "v1 Namespace":
				m.namespaces = append(m.namespaces, corev1.Namespace{})
				obj = &m.namespaces[len(m.namespaces)-1]
			case "apps/v1 StatefulSet":
				m.statefulSets = append(m.statefulSets, appsv1.StatefulSet{})
				obj = &m.statefulSets[len(m.statefulSets)-1]
			case "apps/v1 Deployment":
				m.deployments = append(m.deployments, appsv1.Deployment{})
				obj = &m.deployments[len(m.deployments)-1]
			default:
				t.Fatalf("%s, document %d: no check for %q %q: add one", file, i+1, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s, document %d (%s): %v", file, i+1, tm.Kind, err)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")
}

// TestManifestsDecode: every manifest is a valid object of its kind, and
// the set is what docs/deploy.md describes.
func TestManifestsDecode(t *testing.T) {
	m := load(t)
	if len(m.statefulSets) != 1 || len(m.deployments) != 1 || len(m.secrets) != 1 || len(m.services) != 2 || len(m.namespaces) != 1 {
		t.Fatalf("want one StatefulSet (nodes), one Deployment (routers), one Secret, two Services and a Namespace; got %d, %d, %d, %d, %d",
			len(m.statefulSets), len(m.deployments), len(m.secrets), len(m.services), len(m.namespaces))
	}
}

// TestManifestsHangTogether: the nodes' Service is headless and is the
// StatefulSet's, its DNS name is the --join seed of nodes and routers,
// the secrets they read exist, each container has its probes on
// /healthz and /readyz, and every flag it passes is one the command
// has.
func TestManifestsHangTogether(t *testing.T) {
	m := load(t)
	sts := m.statefulSets[0]
	i := slices.IndexFunc(m.services, func(s corev1.Service) bool { return s.Name == sts.Spec.ServiceName })
	if i < 0 {
		t.Fatalf("the StatefulSet's serviceName %q names no Service", sts.Spec.ServiceName)
	}
	headless := m.services[i]
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("the nodes' Service %s: clusterIP %q, publishNotReadyAddresses %v; want a headless Service that publishes warming nodes",
			headless.Name, headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	seed := fmt.Sprintf("%s.%s.svc.cluster.local:7946", headless.Name, headless.Namespace)
	secret := m.secrets[0]
	for _, c := range []struct {
		kind string
		spec corev1.PodSpec
	}{{"node", sts.Spec.Template.Spec}, {"router", m.deployments[0].Spec.Template.Spec}} {
		if len(c.spec.Containers) != 1 {
			t.Fatalf("the %s pod has %d containers, want 1", c.kind, len(c.spec.Containers))
		}
		ct := c.spec.Containers[0]
		if len(ct.Args) == 0 || ct.Args[0] != c.kind {
			t.Errorf("the %s container runs %v", c.kind, ct.Args)
			continue
		}
		flags := map[string]string{}
		for _, a := range ct.Args[1:] {
			name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			flags[name] = value
		}
		if flags["join"] != seed {
			t.Errorf("the %s joins through %q, want the headless Service's DNS name %q", c.kind, flags["join"], seed)
		}
		if flags["advertise"] != "$(POD_IP)" || !strings.HasPrefix(flags["gossip"], "0.0.0.0:") && c.kind == "router" {
			t.Errorf("the %s must bind 0.0.0.0 and advertise its pod IP: %v", c.kind, ct.Args)
		}
		if host, _, err := net.SplitHostPort(flags["listen"]); err != nil || host != "0.0.0.0" {
			t.Errorf("the %s listens on %q, want 0.0.0.0:PORT", c.kind, flags["listen"])
		}
		if flags["gossip-profile"] != "lan" {
			t.Errorf("the %s uses gossip profile %q, want lan", c.kind, flags["gossip-profile"])
		}
		var help bytes.Buffer
		cli.Main(context.Background(), []string{c.kind, "--help"}, &help, &help)
		for name := range flags {
			if !strings.Contains(help.String(), "  -"+name+" ") && !strings.Contains(help.String(), "  -"+name+"\n") {
				t.Errorf("the %s passes --%s, which `sessionkit %s --help` does not list", c.kind, name, c.kind)
			}
		}
		for _, e := range ct.Env {
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				if ref.SecretKeyRef.Name != secret.Name || secret.StringData[ref.SecretKeyRef.Key] == "" {
					t.Errorf("the %s reads %s from secret %s key %s, which the Secret does not hold", c.kind, e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
				}
			}
		}
		if p := ct.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
			t.Errorf("the %s's liveness probe is not GET /healthz: %+v", c.kind, p)
		}
		if p := ct.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
			t.Errorf("the %s's readiness probe is not GET /readyz: %+v", c.kind, p)
		}
		if sc := c.spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("the %s pod may run as root", c.kind)
		}
	}
}
