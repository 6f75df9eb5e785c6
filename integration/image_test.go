package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// testImage is the name the test image is imported under.
const testImage = "docker.io/library/secrun-test:latest"

// buildImage writes an OCI image layout tar holding busybox-static and the
// probe: no registry is reachable, so tests import it with `ctr image import`.
func buildImage(t *testing.T, path string) {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	now := time.Unix(0, 0)
	dir := func(name string) {
		tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now})
	}
	file := func(name, from string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data)), ModTime: now})
		tw.Write(data)
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/run"} {
		dir(d)
	}
	root := baseRootfs(t)
	file("bin/busybox", root+"/bin/busybox")
	file("bin/probe", root+"/bin/probe")
	for _, a := range []string{"sh", "cat", "sleep", "grep", "true", "echo", "unshare", "ls"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: now})
	}
	passwd := []byte("root:x:0:0:root:/:/bin/sh\n")
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd)), ModTime: now})
	tw.Write(passwd)
	tw.Close()

	writeOCIArchive(t, path, layer.Bytes(), []string{"/bin/probe"}, []string{"sleep", "1000000"},
		map[string]string{"io.containerd.image.name": testImage, "org.opencontainers.image.ref.name": "latest"})
}

// writeOCIArchive writes an OCI image archive (what `ctr images import`
// reads) of one layer: the image's entrypoint and command, named by the
// index annotations.
func writeOCIArchive(t *testing.T, path string, layer []byte, entrypoint, cmd []string, annotations map[string]string) {
	t.Helper()
	epoch := time.Unix(0, 0)
	blobs := map[string][]byte{}
	add := func(data []byte) (string, int) {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
		blobs[d] = data
		return d, len(data)
	}
	layerDigest, layerSize := add(layer)
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": entrypoint, "Cmd": cmd, "Env": []string{"PATH=/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	cfgDigest, cfgSize := add(cfg)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": cfgSize},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layerSize}},
	})
	mDigest, mSize := add(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mDigest, "size": mSize,
			"platform":    map[string]string{"architecture": "amd64", "os": "linux"},
			"annotations": annotations,
		}},
	})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := tar.NewWriter(f)
	put := func(name string, data []byte) {
		out.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: epoch})
		out.Write(data)
	}
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	put("index.json", index)
	for _, d := range slices.Sorted(maps.Keys(blobs)) {
		put("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), blobs[d])
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
