package monitor

import "testing"

func TestArchNames(t *testing.T) {
	cases := []struct {
		arch     uint32
		nr       int64
		oci, sys string
	}{
		{0xc000003e, 250, "SCMP_ARCH_X86_64", "keyctl"},
		{0xc000003e, x32Bit + 250, "SCMP_ARCH_X32", "keyctl"},
		{0x40000003, 288, "SCMP_ARCH_X86", "keyctl"},
		{0xc00000b7, 219, "SCMP_ARCH_AARCH64", "keyctl"},
		{0x40000028, 311, "SCMP_ARCH_ARM", "keyctl"},
		{0x80000016, 280, "SCMP_ARCH_S390X", "keyctl"},
	}
	names := newSyscallTable()
	for _, c := range cases {
		if got := ArchName(c.arch, c.nr); got != c.oci {
			t.Errorf("ArchName(%#x, %d) = %s, want %s", c.arch, c.nr, got, c.oci)
		}
		if got, ok := names.Name(c.arch, c.nr); !ok || got != c.sys {
			t.Errorf("Name(%#x, %d) = %q %v, want %s", c.arch, c.nr, got, ok, c.sys)
		}
	}
	if _, ok := names.Name(0xc000003e, 99999); ok {
		t.Error("syscall 99999 named")
	}
	if got := ArchName(0x1234, 1); got != "audit_arch_0x1234" {
		t.Errorf("unknown arch = %s", got)
	}
}
