package config

import (
	"os"
	"testing"

	"sigs.k8s.io/yaml"
)

// The Kubernetes manifests must say what the README and docs/kubernetes.md say they say.
func TestKubernetesManifests(t *testing.T) {
	var rc struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name string }
		Handler    string
		Scheduling struct {
			NodeSelector map[string]string `json:"nodeSelector"`
		}
	}
	data, err := os.ReadFile("../deploy/kubernetes/runtimeclass.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &rc); err != nil {
		t.Fatal(err)
	}
	if rc.APIVersion != "node.k8s.io/v1" || rc.Kind != "RuntimeClass" || rc.Handler != "secrun" || rc.Scheduling.NodeSelector["secrun.io/enabled"] != "true" {
		t.Errorf("runtimeclass.yaml: %+v", rc)
	}
	var pod struct {
		Metadata struct{ Annotations map[string]string }
		Spec     struct {
			RuntimeClassName string `json:"runtimeClassName"`
		}
	}
	data, _ = os.ReadFile("../deploy/kubernetes/example-pod.yaml")
	if err := yaml.Unmarshal(data, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.RuntimeClassName != rc.Metadata.Name {
		t.Errorf("example pod uses runtimeClassName %q", pod.Spec.RuntimeClassName)
	}
	if err := ValidateName(AnnSeccompProfile, pod.Metadata.Annotations[AnnSeccompProfile]); err != nil {
		t.Error(err)
	}
}
