package profiles

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"text/template"

	"github.com/opencontainers/runc/libcontainer/apparmor"
)

//go:embed apparmor/secrun-default.tmpl
var apparmorTemplate string

// DefaultAppArmor is the name of the embedded AppArmor profile, and
// DefaultAppArmorComplain the same profile loaded in complain mode.
const (
	DefaultAppArmor         = "secrun-default"
	DefaultAppArmorComplain = "secrun-default-complain"
)

// Parsed on first use: the create path of hosts without AppArmor never
// needs it.
var apparmorTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("apparmor").Parse(apparmorTemplate))
})

// AppArmorDefault renders the embedded profile under name.
func AppArmorDefault(name string, complain bool) string {
	var b bytes.Buffer
	apparmorTmpl().Execute(&b, struct {
		Name     string
		Complain bool
	}{name, complain})
	return b.String()
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
