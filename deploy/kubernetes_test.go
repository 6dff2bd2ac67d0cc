package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/streetwatch/streetwatch/config"
)

// No cluster runs here: these tests parse the manifests in kubernetes/ and
// check the fields StreetWatch relies on against the config the pods load.
// Rendering the kustomizations needs kubectl, which no package source here
// provides at a version that knows `patches`: `kubectl kustomize
// deploy/kubernetes/gpu` is a manual check (deploy/README.md).

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
	Spec       struct {
		// Service
		ClusterIP string         `yaml:"clusterIP"`
		Selector  map[string]any `yaml:"selector"` // a Service's labels; a StatefulSet's matchLabels
		Ports     []struct {
			Name       string `yaml:"name"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		// StatefulSet
		ServiceName string `yaml:"serviceName"`
		Replicas    int    `yaml:"replicas"`
		Template    struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []claimTemplate `yaml:"volumeClaimTemplates"`
		// PodMonitor
		PodMetricsEndpoints []struct {
			Port        string       `yaml:"port"`
			Path        string       `yaml:"path"`
			Relabelings []relabeling `yaml:"relabelings"`
		} `yaml:"podMetricsEndpoints"`
	} `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
		FSGroup      *int  `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
}

type claimTemplate struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

type relabeling struct {
	TargetLabel string `yaml:"targetLabel"`
	Replacement string `yaml:"replacement"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env            []envVar `yaml:"env"`
	StartupProbe   probe    `yaml:"startupProbe"`
	LivenessProbe  probe    `yaml:"livenessProbe"`
	ReadinessProbe probe    `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type kustomization struct {
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name     string   `yaml:"name"`
		Behavior string   `yaml:"behavior"`
		Files    []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Images []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
	} `yaml:"images"`
	Patches []struct {
		Target struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"target"`
		Patch string `yaml:"patch"`
	} `yaml:"patches"`
}

// decodeObjects parses a multi-document YAML stream of Kubernetes objects.
func decodeObjects(t *testing.T, name string, data []byte) []k8sObject {
	t.Helper()
	var out []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: an object without apiVersion, kind or metadata.name", name)
		}
		out = append(out, o)
	}
}

func readObjects(t *testing.T, file string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, file, data)
}

func findObject(t *testing.T, objs []k8sObject, kind string) k8sObject {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind {
			return o
		}
	}
	t.Fatalf("no %s", kind)
	return k8sObject{}
}

// streetwatchPod returns the StatefulSet and its streetwatch container.
func streetwatchPod(t *testing.T) (k8sObject, container) {
	t.Helper()
	sts := findObject(t, readObjects(t, "kubernetes/base/statefulset.yaml"), "StatefulSet")
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == "streetwatch" {
			return sts, c
		}
	}
	t.Fatal("statefulset.yaml: no container named streetwatch")
	return sts, container{}
}

func (c container) mountPath(t *testing.T, volume string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	t.Fatalf("container %s does not mount volume %q", c.Name, volume)
	return ""
}

func (c container) port(t *testing.T, name string) int {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return 0
}

var configVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// loadPodConfig loads a kubernetes config file with the environment the pod
// gets from the Secret: every ${VAR} must be an env entry backed by a key of
// the Secret. fill gives each variable its test value.
func loadPodConfig(t *testing.T, file string, fill func(name string) string) (*config.Config, error) {
	t.Helper()
	_, c := streetwatchPod(t)
	secret := findObject(t, readObjects(t, "kubernetes/base/secret.yaml"), "Secret")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range configVarRE.FindAllStringSubmatch(string(data), -1) {
		name := m[1]
		i := slices.IndexFunc(c.Env, func(e envVar) bool {
			return e.Name == name
		})
		if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s uses ${%s}, which the pod's env does not take from a Secret", file, name)
			continue
		}
		ref := c.Env[i].ValueFrom.SecretKeyRef
		if _, ok := secret.StringData[ref.Key]; ref.Name != secret.Metadata.Name || !ok {
			t.Errorf("env %s: secretKeyRef %s/%s is not in secret.yaml", name, ref.Name, ref.Key)
		}
		t.Setenv(name, fill(name))
	}
	return config.Load(file)
}

// testValue is a plausible secret: a bcrypt hash for password hashes.
func testValue(t *testing.T) func(string) string {
	return func(name string) string {
		if strings.HasSuffix(name, "_HASH") {
			hash, err := bcrypt.GenerateFromPassword([]byte("a long test password"), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			return string(hash)
		}
		return "test-value-0123456789abcdef"
	}
}

func TestKubernetesConfigLoadsAndMatchesThePod(t *testing.T) {
	sts, c := streetwatchPod(t)
	for _, file := range []string{"kubernetes/base/streetwatch.yaml", "kubernetes/gpu/streetwatch.yaml"} {
		cfg, err := loadPodConfig(t, file, testValue(t))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.StateDir != c.mountPath(t, "state") {
			t.Errorf("%s: state_dir %q, but the state volume is mounted at %q", file, cfg.StateDir, c.mountPath(t, "state"))
		}
		_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
		if err != nil {
			t.Fatalf("%s: http.listen %q: %v", file, cfg.HTTP.Listen, err)
		}
		if host, _, _ := net.SplitHostPort(cfg.HTTP.Listen); host != "0.0.0.0" && host != "" {
			t.Errorf("%s: http.listen %q is not reachable from the kubelet", file, cfg.HTTP.Listen)
		}
		for what, p := range map[string]probe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
			if p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: want httpGet /healthz (the only path served without credentials)", what)
				continue
			}
			if got := strconv.Itoa(c.port(t, p.HTTPGet.Port)); got != port {
				t.Errorf("%s: port %s is %s, http.listen in %s is %s", what, p.HTTPGet.Port, got, file, cfg.HTTP.Listen)
			}
		}
		ann := sts.Spec.Template.Metadata.Annotations
		if ann["prometheus.io/scrape"] == "true" {
			if ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" {
				t.Errorf("scrape annotations %v: want port %s, path /metrics", ann, port)
			}
			if !cfg.Review.PublicMetrics {
				t.Errorf("%s: annotation scraping has no password, so review.public_metrics must be true", file)
			}
		}
		// Several nodes share tickets and evidence: PostgreSQL and S3.
		if !config.IsPostgresURL(cfg.Dispatch.Database) || cfg.Evidence.S3.Endpoint == "" {
			t.Errorf("%s: want a postgres:// dispatch.database and evidence.s3 (several pods share them)", file)
		}
	}
	// The args name the file the ConfigMap puts into the config volume.
	var k kustomization
	readYAML(t, "kubernetes/base/kustomization.yaml", &k)
	if len(k.ConfigMapGenerator) != 1 || !slices.Equal(k.ConfigMapGenerator[0].Files, []string{"streetwatch.yaml"}) {
		t.Fatalf("kustomization.yaml: want one configMapGenerator from streetwatch.yaml, got %+v", k.ConfigMapGenerator)
	}
	want := []string{"run", "--config", path.Join(c.mountPath(t, "config"), "streetwatch.yaml")}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args %v, want %v", c.Args, want)
	}
	i := slices.IndexFunc(sts.Spec.Template.Spec.Volumes, func(v volume) bool {
		return v.Name == "config"
	})
	if i < 0 || sts.Spec.Template.Spec.Volumes[i].ConfigMap == nil ||
		sts.Spec.Template.Spec.Volumes[i].ConfigMap.Name != k.ConfigMapGenerator[0].Name {
		t.Errorf("volume config must be the ConfigMap %s", k.ConfigMapGenerator[0].Name)
	}
	if slices.Contains(k.Resources, "secret.yaml") {
		t.Error("kustomization.yaml lists secret.yaml: every apply would overwrite the real Secret with placeholders")
	}
}

func TestKubernetesSecretHoldsOnlyPlaceholders(t *testing.T) {
	secret := findObject(t, readObjects(t, "kubernetes/base/secret.yaml"), "Secret")
	if len(secret.Data) > 0 {
		t.Error("secret.yaml: use stringData with placeholders, not data")
	}
	if len(secret.StringData) == 0 {
		t.Fatal("secret.yaml: no stringData")
	}
	for k, v := range secret.StringData {
		if v != "CHANGE_ME" {
			t.Errorf("secret.yaml: %s = %q; only the placeholder CHANGE_ME belongs in git", k, v)
		}
	}
	// And StreetWatch refuses to start with the placeholders.
	_, err := loadPodConfig(t, "kubernetes/base/streetwatch.yaml", func(string) string { return "CHANGE_ME" })
	if err == nil || !strings.Contains(err.Error(), "password_hash") {
		t.Errorf("the config loaded with the placeholder secrets (err %v); it must not start like that", err)
	}
}

func TestKubernetesStatefulSetServiceAndSecurity(t *testing.T) {
	sts, c := streetwatchPod(t)
	labels := sts.Spec.Template.Metadata.Labels
	headless := false
	for _, svc := range readObjects(t, "kubernetes/base/service.yaml") {
		for k, v := range svc.Spec.Selector {
			if labels[k] != v.(string) {
				t.Errorf("service %s selects %s=%s, which the pods do not carry", svc.Metadata.Name, k, v)
			}
		}
		for _, p := range svc.Spec.Ports {
			c.port(t, p.TargetPort)
		}
		if svc.Metadata.Name == sts.Spec.ServiceName && svc.Spec.ClusterIP == "None" {
			headless = true
		}
	}
	if !headless {
		t.Errorf("serviceName %q: no headless Service of that name in service.yaml", sts.Spec.ServiceName)
	}
	if sts.Spec.Replicas != 1 {
		t.Errorf("replicas %d: keep 1 until the cluster section assigns cameras to nodes", sts.Spec.Replicas)
	}
	node := slices.IndexFunc(c.Env, func(e envVar) bool {
		return e.Name == "STREETWATCH_NODE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.name"
	})
	if node < 0 {
		t.Error("env STREETWATCH_NODE must be the pod name (fieldRef metadata.name)")
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("resources.requests %v: want cpu and memory", c.Resources.Requests)
	}
	sc := sts.Spec.Template.Spec.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.FSGroup == nil {
		// A numeric uid: the image's USER is a name, which runAsNonRoot cannot verify.
		t.Error("pod securityContext: want runAsNonRoot, a numeric non-zero runAsUser and an fsGroup for the state volume")
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("container securityContext: want readOnlyRootFilesystem and no privilege escalation")
	}
	if c.mountPath(t, "tmp") != "/tmp" {
		t.Error("a read-only root needs a writable /tmp")
	}
	if !slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(v claimTemplate) bool {
		return v.Metadata.Name == "state"
	}) {
		t.Error("the state volume must be a volumeClaimTemplate (one per pod)")
	}
	for _, m := range c.VolumeMounts {
		if m.Name == "config" && !m.ReadOnly {
			t.Error("the config volume must be mounted read-only")
		}
	}
}

func TestKubernetesPodMonitorScrapesThePods(t *testing.T) {
	sts, c := streetwatchPod(t)
	pm := findObject(t, readObjects(t, "kubernetes/base/podmonitor.yaml"), "PodMonitor")
	if pm.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("apiVersion %s", pm.APIVersion)
	}
	var sel struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	readYAML(t, "kubernetes/base/podmonitor.yaml", &sel)
	if len(sel.Spec.Selector.MatchLabels) == 0 {
		t.Error("podmonitor.yaml: empty selector")
	}
	for k, v := range sel.Spec.Selector.MatchLabels {
		if sts.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("podmonitor.yaml selects %s=%s, which the pods do not carry", k, v)
		}
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatal("podmonitor.yaml: want one endpoint")
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	c.port(t, ep.Port)
	if ep.Path != "/metrics" {
		t.Errorf("path %q", ep.Path)
	}
	// The dashboard's process panels select job="streetwatch".
	if !slices.ContainsFunc(ep.Relabelings, func(r relabeling) bool {
		return r.TargetLabel == "job" && r.Replacement == "streetwatch"
	}) {
		t.Error(`podmonitor.yaml: relabel job to "streetwatch" for the dashboard`)
	}
}

func TestKubernetesGPUOverlayDiffersOnlyInTheGPU(t *testing.T) {
	var k kustomization
	readYAML(t, "kubernetes/gpu/kustomization.yaml", &k)
	if !slices.Equal(k.Resources, []string{"../base"}) {
		t.Errorf("resources %v, want [../base]", k.Resources)
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Name != "streetwatch-config" || k.ConfigMapGenerator[0].Behavior != "replace" {
		t.Errorf("configMapGenerator %+v: want streetwatch-config, behavior replace", k.ConfigMapGenerator)
	}
	if len(k.Patches) != 1 || k.Patches[0].Target.Kind != "StatefulSet" ||
		!regexp.MustCompile(`path: /spec/template/spec/containers/0/resources/limits/nvidia\.com~1gpu\s+value: 1\b`).MatchString(k.Patches[0].Patch) {
		t.Errorf("patches: want a limit nvidia.com/gpu: 1 on the StatefulSet's container")
	}
	if len(k.Images) != 1 || k.Images[0].NewName != "streetwatch" {
		t.Errorf("images %+v: want the GPU image streetwatch", k.Images)
	}
	// The configs: the same but for the provider line (and the header).
	body := func(file, providerLine string) string {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		s = s[strings.Index(s, "\nhttp:"):]
		if !strings.Contains(s, "\n"+providerLine+"\n") {
			t.Fatalf("%s: no line %q", file, providerLine)
		}
		return strings.Replace(s, providerLine, "PROVIDER", 1)
	}
	base := body("kubernetes/base/streetwatch.yaml", "    provider: cpu")
	gpu := body("kubernetes/gpu/streetwatch.yaml", "    provider: cuda                # the pod has nvidia.com/gpu: 1 (gpu/kustomization.yaml)")
	if base != gpu {
		t.Error("kubernetes/gpu/streetwatch.yaml differs from base/streetwatch.yaml in more than detectors.runtime.provider")
	}
}
