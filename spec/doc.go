// Package spec loads an OCI runtime spec (a bundle's config.json, or the
// process file of `runc exec --process`), lets the policy modify it, and
// saves it atomically.
//
// The data path is Load → Policy.ApplyConfig (or ApplyExec) → Encode →
// Save. Load decodes with a strict JSON library and refuses every document
// that runc (Go's encoding/json: case-insensitive keys, last duplicate wins)
// and crun (yajl: exact keys cut at a NUL, first duplicate wins, C strings)
// could read differently from secrun (see strict.go). Encode writes the
// runtime one canonical spelling of what was decoded: the fields the policy
// owns from the typed spec, every other member (fields this program does not
// know included) with its content unchanged.
package spec
