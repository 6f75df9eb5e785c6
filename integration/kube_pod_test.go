package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// kubePod is a pod the tests send through the API server. It names the
// node itself (there is no scheduler) and runs the test image, which is
// imported on the node (imagePullPolicy Never: no registry here).
type kubePod struct {
	Name, Namespace string
	RuntimeClass    string
	Annotations     map[string]string
	HostPID         bool
	HostNetwork     bool
	Privileged      bool
	AddCaps         []string
	Container       string         // default "app"
	Security        map[string]any // the container's securityContext (replaces the fields above)
	PodSecurity     map[string]any // the pod's securityContext
}

func (p kubePod) ns() string {
	if p.Namespace == "" {
		return "default"
	}
	return p.Namespace
}

func (p kubePod) manifest() string {
	sc := p.Security
	if sc == nil {
		sc = map[string]any{}
		if p.Privileged {
			sc["privileged"] = true
		}
		if len(p.AddCaps) > 0 {
			sc["capabilities"] = map[string]any{"add": p.AddCaps}
		}
	}
	name := p.Container
	if name == "" {
		name = "app"
	}
	spec := map[string]any{
		"nodeName":                      kubeNodeName,
		"automountServiceAccountToken":  false,
		"terminationGracePeriodSeconds": 1,
		"hostPID":                       p.HostPID,
		"hostNetwork":                   p.HostNetwork,
		"containers": []any{map[string]any{
			"name": name, "image": testImage, "imagePullPolicy": "Never",
			"command":         []string{"/bin/probe", "sleep", "100000"},
			"securityContext": sc,
		}},
	}
	if p.RuntimeClass != "" {
		spec["runtimeClassName"] = p.RuntimeClass
	}
	if p.PodSecurity != nil {
		spec["securityContext"] = p.PodSecurity
	}
	data, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": p.Name, "namespace": p.ns(), "annotations": p.Annotations},
		"spec":     spec,
	})
	return string(data)
}

// Create sends the pod to the API server; the error is the admission's
// refusal as kubectl prints it. The pod is deleted when the test ends,
// without waiting (kubelet stops pods in parallel; the cluster's stop waits
// for them all).
func (k *KubeCluster) Create(t *testing.T, p kubePod) error {
	t.Helper()
	out, err := k.KubectlIn(p.manifest(), "create", "-f", "-")
	if err != nil {
		return fmt.Errorf("%s", strings.TrimSpace(out))
	}
	t.Cleanup(func() {
		k.Kubectl("delete", "pod", "-n", p.ns(), p.Name, "--ignore-not-found", "--grace-period=1", "--wait=false")
	})
	return nil
}

// DeletePod deletes a pod and waits until kubelet has stopped it.
func (k *KubeCluster) DeletePod(ns, name string) {
	k.Kubectl("delete", "pod", "-n", ns, name, "--ignore-not-found", "--grace-period=1", "--wait=true", "--timeout=60s")
}

// RunPod creates a pod and waits until it is Ready.
func (k *KubeCluster) RunPod(t *testing.T, p kubePod) {
	t.Helper()
	if err := k.Create(t, p); err != nil {
		t.Fatalf("pod %s/%s refused by the API server: %v", p.ns(), p.Name, err)
	}
	k.WaitReady(t, p.ns(), p.Name)
}

func (k *KubeCluster) WaitReady(t *testing.T, ns, name string) {
	t.Helper()
	if out, err := k.Kubectl("wait", "-n", ns, "--for=condition=Ready", "pod/"+name, "--timeout=120s"); err != nil {
		desc, _ := k.Kubectl("describe", "pod", "-n", ns, name)
		t.Fatalf("pod %s/%s not ready: %s\n%s", ns, name, out, desc)
	}
}

// Exec runs a command in the pod's container with kubectl exec.
func (k *KubeCluster) Exec(t *testing.T, ns, name string, cmd ...string) string {
	t.Helper()
	out, err := k.TryExec(ns, name, cmd...)
	if err != nil {
		t.Fatalf("kubectl exec -n %s %s -- %s: %v\n%s", ns, name, strings.Join(cmd, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// TryExec is kubectl exec. After a containerd restart kubelet's CRI client
// reconnects with back-off; until then kubelet answers Unavailable, which
// is retried for a while, as is the streaming error kubelet gives while
// the connection is re-established.
func (k *KubeCluster) TryExec(ns, name string, cmd ...string) (string, error) {
	return k.TryExecIn(ns, name, "", cmd...)
}

// TryExecIn is TryExec in a named container ("": the first).
func (k *KubeCluster) TryExecIn(ns, name, container string, cmd ...string) (string, error) {
	args := []string{"exec", "-n", ns, name}
	if container != "" {
		args = append(args, "-c", container)
	}
	args = append(append(args, "--"), cmd...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := k.Kubectl(args...)
		transient := strings.Contains(out, "code = Unavailable") || strings.Contains(out, "error stream protocol error")
		if err == nil || !transient || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Events is what `kubectl get events` shows for a pod: "Reason: message" lines.
func (k *KubeCluster) Events(ns, name string) string {
	out, _ := k.Kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name="+name,
		"-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
	return out
}

// WaitEvent waits for an event of the pod whose message contains want, and
// returns it.
func (k *KubeCluster) WaitEvent(t *testing.T, ns, name, want string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		for _, line := range strings.Split(k.Events(ns, name), "\n") {
			if strings.Contains(line, want) {
				return line
			}
		}
		if time.Now().After(deadline) {
			desc, _ := k.Kubectl("describe", "pod", "-n", ns, name)
			t.Fatalf("pod %s/%s: no event with %q:\n%s", ns, name, want, desc)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Namespace creates a namespace with Pod Security Admission's enforce
// label at level (privileged, baseline or restricted).
func (k *KubeCluster) Namespace(t *testing.T, name, level string) {
	t.Helper()
	k.mustKubectl(t, "create", "namespace", name)
	k.mustKubectl(t, "label", "namespace", name, "pod-security.kubernetes.io/enforce="+level)
	// Not deleted: that is the controller manager's work, and the cluster
	// goes with the test.
}
