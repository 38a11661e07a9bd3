package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// object is one rendered Kubernetes object, as YAML decodes it.
type object map[string]any

// get walks keys and list indexes ("spec", "template", 0, ...).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }
func list(v any, path ...any) []any { l, _ := get(v, path...).([]any); return l }

func (o object) kind() string { return str(map[string]any(o), "kind") }
func (o object) name() string { return str(map[string]any(o), "metadata", "name") }

// render renders an overlay and decodes its objects.
func render(t *testing.T, overlay string) []object {
	t.Helper()
	out, err := RenderYAML(filepath.Join("k8s", "overlays", overlay))
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o map[string]any // not object: yaml.v3 would decode nested maps as object too
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: rendered YAML does not decode: %v", overlay, err)
		}
		if o != nil {
			objs = append(objs, object(o))
		}
	}
	return objs
}

func byKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// sensitive matches the names of environment variables that hold secrets:
// they must come from a Secret, never a plain value or a ConfigMap.
var sensitive = regexp.MustCompile(`(?i)SECRET|TOKEN|PASSWORD|KEY|DATABASE_URL|REDIS_URL|SMTP_URL`)

// TestManifests renders every overlay offline and checks the objects an
// operator relies on.
func TestManifests(t *testing.T) {
	for _, overlay := range Overlays {
		t.Run(overlay, func(t *testing.T) {
			objs := render(t, overlay)
			for _, kind := range []string{"Deployment", "Service", "Job", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "ConfigMap", "ServiceAccount"} {
				if len(byKind(objs, kind)) == 0 {
					t.Errorf("no %s", kind)
				}
			}

			deployments := byKind(objs, "Deployment")
			for _, d := range deployments {
				spec := get(map[string]any(d), "spec", "template", "spec")
				checkPod(t, "Deployment "+d.name(), spec)
				for _, c := range list(spec, "containers") {
					name := "Deployment " + d.name() + " container " + str(c, "name")
					if p := str(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
						t.Errorf("%s: readiness probe path %q, want /readyz", name, p)
					}
					if p := str(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
						t.Errorf("%s: liveness probe path %q, want /healthz", name, p)
					}
					for _, r := range []string{"cpu", "memory"} {
						if get(c, "resources", "requests", r) == nil {
							t.Errorf("%s: no %s request", name, r)
						}
					}
					if get(c, "resources", "limits", "memory") == nil {
						t.Errorf("%s: no memory limit", name)
					}
				}
			}

			// The migration Job runs `idp migrate` under the same rules.
			var migrate bool
			for _, j := range byKind(objs, "Job") {
				spec := get(map[string]any(j), "spec", "template", "spec")
				checkPod(t, "Job "+j.name(), spec)
				for _, c := range list(spec, "containers") {
					if slices.Contains(list(c, "args"), any("migrate")) {
						migrate = true
					}
				}
			}
			if !migrate {
				t.Error("no Job runs idp migrate")
			}

			// No ConfigMap carries a secret.
			for _, cm := range byKind(objs, "ConfigMap") {
				data, _ := get(map[string]any(cm), "data").(map[string]any)
				for k := range data {
					if sensitive.MatchString(k) {
						t.Errorf("ConfigMap %s holds %s: secrets belong in a Secret", cm.name(), k)
					}
				}
			}

			// What points at a Deployment or Service finds it.
			names := map[string]bool{}
			for _, d := range deployments {
				names[d.name()] = true
			}
			for _, h := range byKind(objs, "HorizontalPodAutoscaler") {
				if ref := str(map[string]any(h), "spec", "scaleTargetRef", "name"); !names[ref] {
					t.Errorf("HPA %s scales %q, which is not a Deployment here", h.name(), ref)
				}
				for _, d := range deployments {
					if d.name() == str(map[string]any(h), "spec", "scaleTargetRef", "name") && get(map[string]any(d), "spec", "replicas") != nil {
						t.Errorf("Deployment %s sets replicas beside HPA %s: every apply would reset the count", d.name(), h.name())
					}
				}
			}
			podLabels := get(map[string]any(deployments[0]), "spec", "template", "metadata", "labels")
			for _, p := range byKind(objs, "PodDisruptionBudget") {
				if !selects(get(map[string]any(p), "spec", "selector", "matchLabels"), podLabels) {
					t.Errorf("PDB %s selects no pod of Deployment %s", p.name(), deployments[0].name())
				}
			}
			for _, n := range byKind(objs, "NetworkPolicy") {
				if !selects(get(map[string]any(n), "spec", "podSelector", "matchLabels"), podLabels) {
					t.Errorf("NetworkPolicy %s selects no pod of Deployment %s", n.name(), deployments[0].name())
				}
				if types := list(map[string]any(n), "spec", "policyTypes"); !slices.Contains(types, any("Ingress")) || !slices.Contains(types, any("Egress")) {
					t.Errorf("NetworkPolicy %s: policyTypes %v, want Ingress and Egress", n.name(), types)
				}
			}
			for _, sm := range byKind(objs, "ServiceMonitor") {
				port := str(map[string]any(sm), "spec", "endpoints", 0, "port")
				var found bool
				for _, s := range byKind(objs, "Service") {
					if !selects(get(map[string]any(sm), "spec", "selector", "matchLabels"), get(map[string]any(s), "metadata", "labels")) {
						continue
					}
					for _, p := range list(map[string]any(s), "spec", "ports") {
						found = found || str(p, "name") == port
					}
				}
				if !found {
					t.Errorf("ServiceMonitor %s: no Service it selects has a port %q", sm.name(), port)
				}
			}

			// Secrets: every secretKeyRef names idp-secrets; prod ships no
			// Secret object (the operator creates it), dev ships one with
			// every key that is referenced.
			secrets := byKind(objs, "Secret")
			refs := secretRefs(objs)
			if len(refs) == 0 {
				t.Error("no env value comes from a Secret")
			}
			switch overlay {
			case "prod":
				if len(secrets) != 0 {
					t.Errorf("prod renders %d Secret objects: applying them would overwrite the operator's values", len(secrets))
				}
			default:
				if len(secrets) != 1 {
					t.Fatalf("%d Secret objects, want 1", len(secrets))
				}
				s := map[string]any(secrets[0])
				for ref := range refs {
					if get(s, "stringData", ref) == nil && get(s, "data", ref) == nil {
						t.Errorf("Secret %s has no key %s that a pod reads", secrets[0].name(), ref)
					}
				}
			}
			for _, want := range []string{"IDP_SECRET_KEY", "IDP_ADMIN_TOKEN"} {
				if !refs[want] {
					t.Errorf("%s is not read from a Secret", want)
				}
			}
		})
	}
}

// checkPod checks a pod spec: non-root, read-only root file system, no
// privilege escalation, every capability dropped, no secret in a plain env
// value, no service account token.
func checkPod(t reporter, what string, spec any) {
	t.Helper()
	if get(spec, "securityContext", "runAsNonRoot") != true {
		t.Errorf("%s: pod securityContext.runAsNonRoot is not true", what)
	}
	if uid, _ := get(spec, "securityContext", "runAsUser").(int); uid == 0 {
		t.Errorf("%s: pod runAsUser %v, want a non-zero uid", what, get(spec, "securityContext", "runAsUser"))
	}
	if get(spec, "automountServiceAccountToken") != false {
		t.Errorf("%s: the service account token is mounted", what)
	}
	containers := append(list(spec, "containers"), list(spec, "initContainers")...)
	if len(containers) == 0 {
		t.Errorf("%s: no containers", what)
	}
	for _, c := range containers {
		name := what + " container " + str(c, "name")
		sc := get(c, "securityContext")
		if get(sc, "allowPrivilegeEscalation") != false {
			t.Errorf("%s: allowPrivilegeEscalation is not false", name)
		}
		if get(sc, "readOnlyRootFilesystem") != true {
			t.Errorf("%s: readOnlyRootFilesystem is not true", name)
		}
		if get(sc, "privileged") == true {
			t.Errorf("%s: privileged", name)
		}
		if get(sc, "runAsUser") == 0 || get(sc, "runAsNonRoot") == false {
			t.Errorf("%s: overrides the pod's non-root user", name)
		}
		if !slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) || len(list(sc, "capabilities", "add")) > 0 {
			t.Errorf("%s: capabilities %v, want drop ALL and add none", name, get(sc, "capabilities"))
		}
		for _, e := range list(c, "env") {
			n := str(e, "name")
			if !sensitive.MatchString(n) {
				continue
			}
			if get(e, "value") != nil || str(e, "valueFrom", "secretKeyRef", "name") == "" {
				t.Errorf("%s: env %s is not read from a Secret (secretKeyRef)", name, n)
			}
		}
	}
}

// secretRefs lists the keys that pods read from a Secret.
func secretRefs(objs []object) map[string]bool {
	refs := map[string]bool{}
	for _, o := range objs {
		for _, c := range list(map[string]any(o), "spec", "template", "spec", "containers") {
			for _, e := range list(c, "env") {
				if k := str(e, "valueFrom", "secretKeyRef", "key"); k != "" {
					refs[k] = true
				}
			}
		}
	}
	return refs
}

// selects reports whether a non-empty matchLabels is a subset of labels.
func selects(matchLabels, labels any) bool {
	sel, _ := matchLabels.(map[string]any)
	ls, _ := labels.(map[string]any)
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if ls[k] != v {
			return false
		}
	}
	return true
}

// TestChecksCatchBadPod shows that checkPod fails what it must: a pod that
// runs as root with a plain secret and no security context.
func TestChecksCatchBadPod(t *testing.T) {
	var bad any
	if err := yaml.Unmarshal([]byte(`
securityContext: {runAsUser: 0}
containers:
  - name: c
    env:
      - {name: IDP_ADMIN_TOKEN, value: plain}
      - {name: IDP_SECRET_KEY, valueFrom: {configMapKeyRef: {name: x, key: y}}}
      - {name: IDP_LOG_LEVEL, value: info}
    securityContext: {capabilities: {drop: [NET_RAW]}}
`), &bad); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	checkPod(rec, "bad", bad)
	want := []string{"runAsNonRoot", "runAsUser", "service account token", "allowPrivilegeEscalation",
		"readOnlyRootFilesystem", "capabilities", "env IDP_ADMIN_TOKEN", "env IDP_SECRET_KEY"}
	for _, w := range want {
		if !rec.has(w) {
			t.Errorf("no error about %q; got %q", w, rec.msgs)
		}
	}
	if rec.has("IDP_LOG_LEVEL") {
		t.Errorf("a plain IDP_LOG_LEVEL was flagged: %q", rec.msgs)
	}
}

// reporter is what the checks need of a *testing.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// recorder is a reporter that keeps the messages.
type recorder struct{ msgs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) has(sub string) bool {
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}
