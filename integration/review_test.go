package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Findings of an adversarial review: documents and command lines that a
// runtime ran with less confinement than the config.json (or process file)
// secrun wrote says. Each test asserts the secure outcome on every runtime.

// writtenCaps reads the capability sets of the config.json secrun wrote.
func writtenCaps(t *testing.T, b *Bundle) (eff, bnd []string, present bool) {
	t.Helper()
	var s struct {
		Process struct {
			Capabilities *struct{ Bounding, Effective []string } `json:"capabilities"`
		} `json:"process"`
	}
	data, _ := os.ReadFile(b.ConfigPath())
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("secrun's config.json: %v", err)
	}
	if c := s.Process.Capabilities; c != nil {
		return c.Effective, c.Bounding, true
	}
	return nil, nil, false
}

// Finding 1: without process.capabilities (absent or null) secrun writes no
// capabilities, and the Pod Security capabilities check sees none. runc 1.1
// and crun then drop every capability, but runc >= 1.2 leaves the process
// with runc's own (CapEff 000001ff...: CAP_SYS_ADMIN, CAP_NET_RAW,
// CAP_SYS_PTRACE...), so the container runs as full root under a seccomp
// profile resolved for no capabilities.
func TestReviewCapabilitiesAbsent(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for _, variant := range []string{"absent", "null"} {
				b := newBundle(t, "sh", "-c", "probe status; probe sys socket-raw")
				proc := b.Spec["process"].(map[string]any)
				if variant == "absent" {
					delete(proc, "capabilities")
				} else {
					proc["capabilities"] = nil
				}
				b.Save(t)
				out, err := e.Run(t, b, fmt.Sprintf("rv-caps-%s-%s", variant, rt.Name))
				if err != nil {
					continue // refused: as safe as it gets
				}
				got := fields(out)
				eff, bnd, present := writtenCaps(t, b)
				if got["CapEff"] != capMask(t, eff) || got["CapBnd"] != capMask(t, bnd) {
					t.Errorf("capabilities %s (written: present=%v, effective %v): inside CapEff %s CapBnd %s",
						variant, present, eff, got["CapEff"], got["CapBnd"])
				}
				if got["socket-raw"] == "ok" {
					t.Errorf("capabilities %s: a raw socket opened (CAP_NET_RAW) though the written spec grants no capability", variant)
				}
			}
		})
	}
}

// Finding 2: linux.netDevices (runtime-spec 1.3) moves a host network
// interface into the container; runc >= 1.3 honours it. secrun passes it
// through and no check looks at it: the container gets a host NIC (direct
// access to the host's network, outside CNI) and the host loses it (a veth
// is destroyed with the container's network namespace).
func TestReviewNetDevices(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			dev := "srv" + strings.ReplaceAll(strings.TrimPrefix(rt.Name, "runc-"), ".", "")
			if out, err := exec.Command("ip", "link", "add", dev, "type", "veth", "peer", "name", dev+"p").CombinedOutput(); err != nil {
				t.Fatalf("ip link add: %v %s", err, out)
			}
			defer exec.Command("ip", "link", "del", dev).Run()
			b := newBundle(t, "cat", "/proc/net/dev")
			b.Spec["linux"].(map[string]any)["netDevices"] = map[string]any{dev: map[string]any{}}
			b.Save(t)
			out, err := e.Run(t, b, "rv-netdev-"+rt.Name)
			if err == nil {
				t.Errorf("linux.netDevices naming the host's %s was accepted", dev)
				if strings.Contains(out, dev+":") {
					t.Errorf("the host's %s is inside the container:\n%s", dev, out)
				}
			}
			if exec.Command("ip", "link", "show", dev).Run() != nil {
				t.Errorf("the host lost its interface %s", dev)
			}
		})
	}
}

// Finding 3: process.scheduler and process.ioPriority (runtime-spec 1.2)
// are applied by runc >= 1.2 as root, before the capabilities are dropped:
// nice -20 (CAP_SYS_NICE) and the realtime I/O class (CAP_SYS_ADMIN) for a
// container the policy gave neither. secrun passes both through unchecked.
func TestReviewSchedulerPrivileges(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "sh", "-c", "echo nice $(cut -d' ' -f19 /proc/self/stat); ionice -p $$")
			proc := b.Spec["process"].(map[string]any)
			proc["scheduler"] = map[string]any{"policy": "SCHED_OTHER", "nice": -20}
			proc["ioPriority"] = map[string]any{"class": "IOPRIO_CLASS_RT", "priority": 0}
			b.Save(t)
			os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "cut"))
			os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "ionice"))
			out, err := e.Run(t, b, "rv-sched-"+rt.Name)
			if err != nil {
				return // refused
			}
			if got := fields(out); got["nice"] != "0" {
				t.Errorf("nice %s inside (needs CAP_SYS_NICE, which the policy did not give)", got["nice"])
			}
			if strings.Contains(out, "realtime") {
				t.Errorf("realtime I/O class inside (needs CAP_SYS_ADMIN):\n%s", out)
			}
		})
	}
}

// Finding 4 (command line, not JSON): an exec without --process is not
// given no-new-privileges on crun (crun does not take it from the
// container), and runc's `exec --no-new-privs=false` turns it off; secrun
// lets both through although the container's config.json says
// noNewPrivileges: true.
func TestReviewExecNoNewPrivs(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "rv-nnp-" + strings.ReplaceAll(rt.Name, ".", "")
			e.Started(t, b, id)
			forms := [][]string{{"exec", id, "probe", "status"}}
			if strings.HasPrefix(rt.Name, "runc") {
				forms = append(forms, []string{"exec", "--no-new-privs=false", id, "probe", "status"})
			}
			for _, args := range forms {
				out, err := e.Cmd(b.Dir, args...).Output()
				if err != nil {
					continue // refused
				}
				if got := fields(string(out))["NoNewPrivs"]; got != "1" {
					t.Errorf("%s: NoNewPrivs %s inside; the container's config.json says noNewPrivileges: true", strings.Join(args, " "), got)
				}
			}
		})
	}
}

// Finding 5 (policy, not parsing): linux.devices creates a node for the
// host's block device and a cgroup rule with an exact major:minor lets the
// container open it; broadDevice only flags wildcard majors. The node here
// is the disk behind the host's / (raw read-write access to the host's
// filesystem: an escape). secrun should refuse it.
func TestReviewHostBlockDevice(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	major, minor := int64(unix.Major(st.Dev)), int64(unix.Minor(st.Dev))
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "status")
			linux := b.Spec["linux"].(map[string]any)
			linux["devices"] = []any{map[string]any{"path": "/dev/hostroot", "type": "b", "major": major, "minor": minor, "fileMode": 0o600, "uid": 0, "gid": 0}}
			res, _ := linux["resources"].(map[string]any)
			if res == nil {
				res = map[string]any{}
				linux["resources"] = res
			}
			rules, _ := res["devices"].([]any)
			res["devices"] = append(rules, map[string]any{"allow": true, "type": "b", "major": major, "minor": minor, "access": "rw"})
			b.Save(t)
			if _, err := e.Run(t, b, "rv-blk-"+rt.Name); err == nil {
				t.Errorf("a spec giving the container the host's root block device %d:%d read-write was accepted", major, minor)
			}
		})
	}
}

// Finding 6: device cgroup rules read one way by secrun, another by the
// runtimes. broadDevice judges a rule by its major, minor and access, but
// runc and crun read type "a" as "every device, rwm" whatever the rest says,
// and crun reads only the first character of the type ("all" is "a"; on
// cgroup v2 "bx" is "b"). Either rule lets the container mknod the host's
// disk (CAP_MKNOD is a stock capability) and open it.
func TestReviewDeviceRuleType(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	// The disk behind the host's /, and zram0 where it exists (a sandbox
	// may deny even the host's root the disk; zram shows the rule's effect).
	node := fmt.Sprintf("mknod /dev/hd b %d %d && (head -c 512 /dev/hd >/dev/null && echo rootdisk opened || echo rootdisk EPERM)", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := syscall.Stat("/dev/zram0", &st); err == nil {
		node += fmt.Sprintf("; mknod /dev/z b %d %d && (head -c 512 /dev/z >/dev/null && echo zram0 opened || echo zram0 EPERM)", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	rules := map[string]map[string]any{
		"a 5:1 m":   {"allow": true, "type": "a", "major": 5, "minor": 1, "access": "m"},
		"all 5:1 m": {"allow": true, "type": "all", "major": 5, "minor": 1, "access": "m"},
	}
	os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "mknod"))
	os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "head"))
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			for name, rule := range rules {
				b := newBundle(t, "sh", "-c", node)
				linux := b.Spec["linux"].(map[string]any)
				res, _ := linux["resources"].(map[string]any)
				if res == nil {
					res = map[string]any{}
					linux["resources"] = res
				}
				old, _ := res["devices"].([]any)
				res["devices"] = append(old, rule)
				b.Save(t)
				out, err := e.Run(t, b, fmt.Sprintf("rv-devtype-%d-%s", len(name), rt.Name))
				if err != nil {
					continue // refused by secrun or the runtime
				}
				t.Errorf("device rule %q accepted; inside: %s", name, strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
			}
		})
	}
}

// Finding 7 (command line): crun's global --cgroup-manager=disabled runs the
// container without cgroups, so no device cgroup either: with the stock
// CAP_MKNOD it makes a node for any host block device and opens it. secrun
// forwards the flag unread (the threat model counts the runtime's argv as
// untrusted input).
func TestReviewCrunCgroupManagerDisabled(t *testing.T) {
	rt := runtimes()[2]
	e := newEnv(t, rt)
	if _, err := os.Stat("/dev/zram0"); err != nil {
		t.Skip("needs a host block device the host's root may open (/dev/zram0 here)")
	}
	var st syscall.Stat_t
	syscall.Stat("/dev/zram0", &st)
	os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "mknod"))
	os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "head"))
	b := newBundle(t, "sh", "-c", fmt.Sprintf("mknod /dev/z b %d %d && head -c 512 /dev/z >/dev/null && echo opened", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	cmd := exec.Command(secrun, "--root", e.Root, "--cgroup-manager=disabled", "run", "--bundle", b.Dir, "rv-cgdis")
	cmd.Env = e.environ()
	out, err := cmd.CombinedOutput()
	if err == nil && strings.Contains(string(out), "opened") {
		t.Errorf("crun --cgroup-manager=disabled: the container opened the host's zram0 (no device cgroup):\n%s", out)
	}
}

// Finding 8 (command line): `update --resources` is forwarded unread, and
// crun applies the device rules it is given to the running container: one
// rule {"allow": true, "access": "rwm"} opens every device, and an exec
// then opens the host's block device. (runc's update leaves devices alone.)
func TestReviewUpdateDevices(t *testing.T) {
	if _, err := os.Stat("/dev/zram0"); err != nil {
		t.Skip("needs a host block device the host's root may open (/dev/zram0 here)")
	}
	var st syscall.Stat_t
	syscall.Stat("/dev/zram0", &st)
	os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "mknod"))
	os.Symlink("busybox", filepath.Join(baseRootfs(t), "bin", "head"))
	open := fmt.Sprintf("mknod /dev/z b %d %d; head -c 512 /dev/z >/dev/null && echo opened || echo denied", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "rv-upd-" + strings.ReplaceAll(rt.Name, ".", "")
			e.Started(t, b, id)
			upd := e.Cmd(b.Dir, "update", "--resources=-", id)
			upd.Stdin = strings.NewReader(`{"devices":[{"allow":true,"access":"rwm"}]}`)
			if upd.Run() != nil {
				return // refused
			}
			out, _ := e.Cmd(b.Dir, "exec", id, "sh", "-c", open).CombinedOutput()
			if strings.Contains(string(out), "opened") {
				t.Errorf("after update --resources with an allow-all device rule, an exec opened the host's zram0:\n%s", out)
			}
		})
	}
}

// Finding 9 (command line): crun takes attached short values (-bDIR,
// -pFILE) and unique prefixes of long options (--bund=DIR); secrun's
// ParseCmd reads "-bDIR" as an unknown flag "bDIR" and keeps the bundle at
// its working directory. So secrun confines one config.json and crun runs
// another, unconfined; the same for an exec process file.
func TestReviewCrunAttachedFlags(t *testing.T) {
	rt := runtimes()[2]
	e := newEnv(t, rt)
	admin := []string{"CAP_SYS_ADMIN", "CAP_NET_RAW"}
	benign := newBundle(t, "probe", "status")
	evil := newBundle(t, "probe", "status")
	evil.Spec["process"].(map[string]any)["capabilities"] = map[string]any{"bounding": admin, "effective": admin, "permitted": admin}
	evil.Save(t)
	check := func(what string, out []byte, err error) {
		t.Helper()
		if err != nil {
			return // refused
		}
		got := fields(string(out))
		if got["CapEff"] == capMask(t, admin) || got["NoNewPrivs"] != "1" {
			t.Errorf("%s: crun ran the unconfined spec: CapEff %s NoNewPrivs %s Seccomp %s", what, got["CapEff"], got["NoNewPrivs"], got["Seccomp"])
		}
	}
	for i, form := range [][]string{{"-b" + evil.Dir}, {"--bund=" + evil.Dir}, {"--bundl", evil.Dir}} {
		cmd := exec.Command(secrun, append(append([]string{"--root", e.Root, "run"}, form...), fmt.Sprintf("rv-attached-%d", i))...)
		cmd.Dir, cmd.Env = benign.Dir, e.environ()
		out, err := cmd.Output()
		check("run "+strings.Join(form, " "), out, err)
	}

	b := newBundle(t, "probe", "sleep", "60")
	id := "rv-attached-exec"
	e.Started(t, b, id)
	procFile := filepath.Join(t.TempDir(), "process.json")
	p := map[string]any{"args": []string{"probe", "status"}, "cwd": "/", "env": []string{"PATH=/bin"}, "user": map[string]int{"uid": 0, "gid": 0},
		"capabilities": map[string]any{"bounding": admin, "effective": admin, "permitted": admin}}
	data, _ := json.Marshal(p)
	os.WriteFile(procFile, data, 0o600)
	out, err := e.Cmd(b.Dir, "exec", "-p"+procFile, id).Output()
	check("exec -pFILE", out, err)
}

// update --resources is read by secrun in every spelling; an ordinary
// update (what containerd sends: limits, no devices) still reaches the
// runtime, its standard input handed on unchanged.
func TestUpdateResourcesChecked(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			b := newBundle(t, "probe", "sleep", "60")
			id := "upd-" + strings.ReplaceAll(rt.Name, ".", "")
			if _, err := e.Create(t, b, id); err != nil {
				t.Fatal(err)
			}
			defer e.Cmd(b.Dir, "delete", "--force", id).Run()
			upd := e.Cmd(b.Dir, "update", "--resources", "-", id)
			upd.Stdin = strings.NewReader(`{"pids":{"limit":123}}`)
			if out, err := upd.CombinedOutput(); err != nil {
				t.Fatalf("ordinary update: %v %s", err, out)
			}
			state, _ := e.Cmd(b.Dir, "state", id).Output()
			var st struct{ Pid int }
			json.Unmarshal(state, &st)
			cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
			for _, line := range strings.Split(string(cg), "\n") {
				if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "pids" {
					max, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", parts[2], "pids.max"))
					if strings.TrimSpace(string(max)) != "123" {
						t.Errorf("pids.max = %q after update through secrun, want 123", max)
					}
				}
			}
			file := filepath.Join(t.TempDir(), "res.json")
			os.WriteFile(file, []byte(`{"devices":[{"allow":true,"type":"b","access":"rw"}]}`), 0o600)
			for _, args := range [][]string{{"-r" + file}, {"--res=" + file}, {"--resources", file}} {
				cmd := e.Cmd(b.Dir, append(append([]string{"update"}, args...), id)...)
				if out, err := cmd.CombinedOutput(); err == nil {
					t.Errorf("update %v with a device rule ran: %s", args, out)
				} else if msg := lastError(t, filepath.Join(b.Dir, "log.json")); !strings.Contains(msg, "devices[0]") {
					t.Errorf("update %v: log.json error %q", args, msg)
				}
			}
		})
	}
}
