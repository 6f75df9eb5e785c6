package profiles

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/opencontainers/runc/libcontainer/apparmor"
)

// The template's placeholders: @@NAME@@ (the profile name), @@FLAGS@@
// (",complain" in complain mode) and @@DENY@@. In complain mode the kernel
// lets a quiet (plain) deny rule through without a log record, so every
// deny rule becomes "audit deny" there: the log then shows what enforce
// mode would block. Plain replacement, not text/template: the wrapper
// links this package, and text/template's dependencies cost every runtime
// call start-up time.
//
//go:embed apparmor/secrun-default.tmpl
var apparmorTemplate string

// DefaultAppArmor is the name of the embedded AppArmor profile, and
// DefaultAppArmorComplain the same profile loaded in complain mode.
const (
	DefaultAppArmor         = "secrun-default"
	DefaultAppArmorComplain = "secrun-default-complain"
)

// AppArmorDefault renders the embedded profile under name.
func AppArmorDefault(name string, complain bool) string {
	flags, deny := "", "deny"
	if complain {
		flags, deny = ",complain", "audit deny"
	}
	return strings.NewReplacer("@@NAME@@", name, "@@FLAGS@@", flags, "@@DENY@@", deny).Replace(apparmorTemplate)
}

// AppArmorHost finds out whether the host can confine with AppArmor and loads
// profiles. Root is "/" except in tests.
type AppArmorHost struct {
	Root   string
	Parser string // apparmor_parser; looked up in PATH when empty
	// KernelEnabled checks the kernel side; runc's check when nil.
	KernelEnabled func() bool
}

// Supported is containerd's test: the kernel has AppArmor enabled, the parser
// exists, and we are not inside a container (where profiles cannot be loaded).
func (h *AppArmorHost) Supported() bool {
	enabled := apparmor.IsEnabled
	if h.KernelEnabled != nil {
		enabled = h.KernelEnabled
	}
	if !enabled() {
		return false
	}
	if _, err := h.parser(); err != nil {
		return false
	}
	_, dockerenv := os.Stat(h.path("/.dockerenv"))
	_, containerenv := os.Stat(h.path("/run/.containerenv"))
	return dockerenv != nil && containerenv != nil
}

func (h *AppArmorHost) path(p string) string { return strings.TrimSuffix(h.Root, "/") + p }

func (h *AppArmorHost) parser() (string, error) {
	if h.Parser != "" {
		return h.Parser, nil
	}
	return exec.LookPath("apparmor_parser")
}

// Loaded reports whether the kernel has a profile of that name loaded.
func (h *AppArmorHost) Loaded(name string) (bool, error) {
	data, err := os.ReadFile(h.path("/sys/kernel/security/apparmor/profiles"))
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		// Lines read "name (enforce)".
		if n, _, ok := strings.Cut(line, " ("); ok && n == name {
			return true, nil
		}
	}
	return false, nil
}

// Load loads (or replaces) profile text with apparmor_parser -Kr.
func (h *AppArmorHost) Load(text string) error {
	parser, err := h.parser()
	if err != nil {
		return fmt.Errorf("apparmor_parser not found: %w", err)
	}
	cmd := exec.Command(parser, "-Kr")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apparmor_parser -Kr: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Ensure loads name if it is not loaded: the embedded default under its own
// name, or the file of that name in dir.
func (h *AppArmorHost) Ensure(name, dir string) error {
	if ok, err := h.Loaded(name); err == nil && ok {
		return nil
	}
	if name == DefaultAppArmor || name == DefaultAppArmorComplain {
		return h.Load(AppArmorDefault(name, name == DefaultAppArmorComplain))
	}
	text, err := os.ReadFile(dir + "/" + name)
	if err != nil {
		return fmt.Errorf("AppArmor profile %q is not loaded and %s/%s cannot be read: %w", name, dir, name, err)
	}
	return h.Load(string(text))
}
