package shim

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, line string
		want       Globals
		cmd        string
		rest       string
	}{
		{"containerd 1.6 create", "--root /run/containerd/runc/k8s.io --log /b/log.json --log-format json --criu /usr/sbin/criu create --bundle /b --pid-file /b/init.pid id",
			Globals{Root: "/run/containerd/runc/k8s.io", Log: "/b/log.json", LogFormat: "json"}, "create", "--bundle /b --pid-file /b/init.pid id"},
		{"containerd 2 systemd", "--root /run/containerd/runc/default --log /b/log.json --log-format json --systemd-cgroup create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s id",
			Globals{Root: "/run/containerd/runc/default", Log: "/b/log.json", LogFormat: "json"}, "create", "--bundle /b --pid-file /b/init.pid --console-socket /tmp/s id"},
		{"go-runc debug rootless", "--debug --rootless=false --root /r --log /l --log-format json state id",
			Globals{Root: "/r", Log: "/l", LogFormat: "json", Debug: true}, "state", "id"},
		{"docker", "--root /var/run/docker/runtime-runc/moby --log /run/x/log.json --log-format json --systemd-cgroup start id",
			Globals{Root: "/var/run/docker/runtime-runc/moby", Log: "/run/x/log.json", LogFormat: "json"}, "start", "id"},
		{"equals forms", "--root=/r --log=/l --log-format=json kill id 9", Globals{Root: "/r", Log: "/l", LogFormat: "json"}, "kill", "id 9"},
		{"single dash", "-root /r -log /l -debug delete --force id", Globals{Root: "/r", Log: "/l", Debug: true}, "delete", "--force id"},
		{"debug=false", "--debug=false state x", Globals{}, "state", "x"},
		{"rootless value", "--rootless true --root /r list", Globals{Root: "/r"}, "list", ""},
		{"unknown boolean", "--frobnicate create id", Globals{}, "create", "id"},
		{"unknown boolean before flag", "--frobnicate --root /r create id", Globals{Root: "/r"}, "create", "id"},
		{"unknown with value", "--frob thing run id", Globals{}, "run", "id"},
		{"unknown inline", "--frob=thing exec id sh", Globals{}, "exec", "id sh"},
		{"crun flags", "--cgroup-manager cgroupfs --log-level debug --root /r create id", Globals{Root: "/r"}, "create", "id"},
		{"features bare", "features", Globals{}, "features", ""},
		{"version", "--version", Globals{Version: true}, "", ""},
		{"short version", "-v", Globals{Version: true}, "", ""},
		{"help", "--help", Globals{Help: true}, "", ""},
		{"double dash", "--root /r -- create id", Globals{Root: "/r"}, "create", "id"},
		{"missing value at end", "--root", Globals{}, "", ""},
		{"nothing", "", Globals{}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			argv := append([]string{"secrun"}, strings.Fields(c.line)...)
			inv := Parse(argv)
			if inv.Globals != c.want {
				t.Errorf("globals = %+v, want %+v", inv.Globals, c.want)
			}
			if inv.Command != c.cmd || strings.Join(inv.Args, " ") != c.rest {
				t.Errorf("command %q args %q, want %q %q", inv.Command, inv.Args, c.cmd, c.rest)
			}
			if !reflect.DeepEqual(inv.Argv, argv) {
				t.Errorf("argv was modified")
			}
		})
	}
}

// TestParseCmd: secrun explain reads --bundle as every runtime would.
func TestParseCmd(t *testing.T) {
	cases := []struct {
		name, cmd, line string
		want            CmdArgs
	}{
		{"containerd create", "create", "--bundle /run/b --pid-file /run/b/init.pid id1",
			CmdArgs{Bundle: "/run/b", Config: "/run/b/config.json", ID: "id1"}},
		{"short bundle", "create", "-b /x id", CmdArgs{Bundle: "/x", Config: "/x/config.json", ID: "id"}},
		{"bundle equals", "create", "--bundle=/x id", CmdArgs{Bundle: "/x", Config: "/x/config.json", ID: "id"}},
		{"relative bundle", "run", "-b rel/dir id", CmdArgs{Bundle: "/cwd/rel/dir", Config: "/cwd/rel/dir/config.json", ID: "id"}},
		{"default cwd", "run", "mybox", CmdArgs{Bundle: "/cwd", Config: "/cwd/config.json", ID: "mybox"}},
		{"no ID (explain)", "create", "--bundle /x", CmdArgs{Bundle: "/x", Config: "/x/config.json"}},
		{"buildkit keep", "run", "--keep --bundle /x id", CmdArgs{Bundle: "/x", Config: "/x/config.json", ID: "id"}},
		{"console socket value looks like flag target", "create", "--console-socket /tmp/-b id", CmdArgs{Bundle: "/cwd", Config: "/cwd/config.json", ID: "id"}},
		{"restore", "restore", "-b /x --image-path /img --lsm-profile apparmor:p --detach id",
			CmdArgs{Bundle: "/x", Config: "/x/config.json", LSM: "apparmor:p", ID: "id"}},
		{"containerd exec", "exec", "--process /tmp/p.json --detach --pid-file /tmp/p.pid id",
			CmdArgs{Bundle: "/cwd", Config: "/cwd/config.json", Process: "/tmp/p.json", ID: "id"}},
		{"exec caps", "exec", "--cap CAP_NET_ADMIN --cap=CAP_SYS_TIME --apparmor prof id sh",
			CmdArgs{Bundle: "/cwd", Config: "/cwd/config.json", Caps: []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}, AppArmor: "prof", ID: "id"}},
		{"exec command flags are not ours", "exec", "-t id sh -c --cap=CAP_SYS_ADMIN --process /etc/x",
			CmdArgs{Bundle: "/cwd", Config: "/cwd/config.json", ID: "id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCmd(c.cmd, strings.Fields(c.line), "/cwd")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got %+v\nwant %+v", *got, c.want)
			}
		})
	}
	// Forms the runtimes read differently are refused.
	for _, line := range []string{"id --bundle", "-b=/x id", "-bundle /x id", "-b/x id", "--bund /x id", "id --bundle /x", "--config c.json id"} {
		if got, err := ParseCmd("create", strings.Fields(line), "/"); err == nil {
			t.Errorf("create %s: accepted as %+v", line, *got)
		}
	}
}
