package tool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
)

// DefaultProfilesDir is where show looks for NAME.json (the node config's
// default profiles_dir).
const DefaultProfilesDir = "/etc/secrun/profiles"

func show(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("show", stderr)
	var caps capsFlag
	fs.Var(&caps, "caps", "bounding `LIST` to resolve for (default: a level's own allowlist; the 14 stock capabilities for files)")
	dir := fs.String("profiles-dir", DefaultProfilesDir, "`DIR` holding NAME.json profiles")
	names, err := ParseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if len(names) != 1 {
		return usageError(stderr, "show", "give one name: a level (%s), a profile in the profiles dir, or a path", strings.Join(profiles.LevelNames(), ", "))
	}
	p, what, err := resolveShow(names[0], *dir, &caps)
	if err != nil {
		fmt.Fprintf(stderr, "secrun profile show: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(marshalProfile(p)); err != nil {
		fmt.Fprintf(stderr, "secrun profile show: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "%s: %s: %s\n", names[0], what, describe(p))
	return 0
}

// resolveShow finds name the way the node config's seccomp.profile does: a
// built-in level, a path, or NAME.json in dir.
func resolveShow(name, dir string, caps *capsFlag) (*specs.LinuxSeccomp, string, error) {
	if lvl, ok := profiles.LookupLevel(name); ok {
		bounding := caps.or(lvl.Caps)
		p, err := lvl.Seccomp(bounding)
		if err != nil {
			return nil, "", err
		}
		return p, fmt.Sprintf("built-in level resolved for %d capabilities (%s), libseccomp %s",
			len(bounding), capsText(bounding), libseccompVersion()), nil
	}
	path := name
	if !strings.Contains(name, "/") {
		path = filepath.Join(dir, strings.TrimSuffix(name, ".json")+".json")
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !strings.Contains(name, "/") {
		return nil, "", fmt.Errorf("%q is neither a built-in level (%s) nor a profile: %s does not exist (use --profiles-dir, or give a path)",
			name, strings.Join(profiles.LevelNames(), ", "), path)
	}
	p, err := loadFile(path, loadOptions{Caps: caps.or(profiles.StockCaps())})
	if err != nil {
		return nil, "", err
	}
	what := fmt.Sprintf("%s profile %s", p.Format, path)
	for _, n := range p.Notes {
		what += " (warning: " + n + ")"
	}
	if p.Format == FormatDocker {
		bounding := caps.or(profiles.StockCaps())
		what += fmt.Sprintf(" resolved for %d capabilities (%s)", len(bounding), capsText(bounding))
	}
	return p.Seccomp, what, nil
}

func capsText(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	if len(caps) > 4 {
		return strings.Join(caps[:4], " ") + fmt.Sprintf(" ... %d more", len(caps)-4)
	}
	return strings.Join(caps, " ")
}
