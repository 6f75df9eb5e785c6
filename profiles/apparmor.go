package profiles

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strings"
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
	// KernelEnabled replaces KernelSupports' look at the kernel in tests.
	KernelEnabled func() bool
}

// KernelSupports is the kernel side of the check runc and containerd make:
// securityfs shows AppArmor and the module parameter says it is on. Written
// here rather than imported from runc's libcontainer, which would bring
// logrus and more into the wrapper's start-up.
func (h *AppArmorHost) KernelSupports() bool {
	if h.KernelEnabled != nil {
		return h.KernelEnabled()
	}
	if _, err := os.Stat(h.path("/sys/kernel/security/apparmor")); err != nil {
		return false
	}
	b, err := os.ReadFile(h.path("/sys/module/apparmor/parameters/enabled"))
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// Supported is containerd's test: the kernel has AppArmor enabled, the parser
// exists, and we are not inside a container (where profiles cannot be loaded).
func (h *AppArmorHost) Supported() bool {
	if !h.KernelSupports() {
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
