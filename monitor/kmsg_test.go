package monitor

import "testing"

func TestParseKmsg(t *testing.T) {
	// A record with dictionary lines and escapes, as read() returns it.
	k, err := ParseKmsg("6,191,191442,-,caller=T1;acpi PNP0A08:00: tab\\x09here \\x5c done\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n")
	if err != nil {
		t.Fatal(err)
	}
	if k.Seq != 191 || k.TsUsec != 191442 || k.Priority != 6 || k.Message != "acpi PNP0A08:00: tab\there \\ done" {
		t.Errorf("got %+v", k)
	}
	for _, bad := range []string{"no header", "6,1;short", "x,1,2,-;msg"} {
		if _, err := ParseKmsg(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
