module github.com/secrun/secrun

go 1.26

require (
	github.com/aymanbagabas/go-udiff v0.4.1
	github.com/elastic/go-libaudit/v2 v2.6.2
	github.com/go-json-experiment/json v1.27.2
	github.com/moby/profiles/seccomp v0.3.0
	github.com/moby/sys/capability v0.5.0
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/pelletier/go-toml/v2 v2.2.4
	github.com/seccomp/libseccomp-golang v0.12.0
	golang.org/x/sys v0.46.0
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.2 // indirect
