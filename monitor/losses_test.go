package monitor

import (
	"testing"
	"time"
)

func TestParseLoss(t *testing.T) {
	cases := []struct {
		msg  string
		ok   bool
		want Loss
	}{
		{"kauditd_printk_skb: 4990 callbacks suppressed", true, Loss{Reason: LostPrintk, Count: 4990, Function: "kauditd_printk_skb"}},
		{"audit_log_lost: 12 callbacks suppressed", true, Loss{Reason: LostPrintk, Count: 12, Function: "audit_log_lost"}},
		{"audit: audit_lost=7 audit_rate_limit=0 audit_backlog_limit=64", true, Loss{Reason: LostAudit, Count: 7, Cumulative: true}},
		{"net_ratelimit: 3 callbacks suppressed", false, Loss{}},
		{"audit: backlog limit exceeded", false, Loss{}},
	}
	for _, c := range cases {
		got, ok := ParseLoss(c.msg)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseLoss(%q) = %+v %v, want %+v %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}

func TestSerialTracker(t *testing.T) {
	g := serialTracker{missing: map[uint64]time.Time{}}
	t0 := time.Now()
	for _, s := range []uint64{100, 101, 101, 104, 103} { // 102 missing, 103 late
		g.see(s, t0)
	}
	g.expire(t0.Add(time.Second), 2*time.Second)
	if g.lost != 0 || len(g.missing) != 1 {
		t.Errorf("before the grace period: lost %d, missing %v", g.lost, g.missing)
	}
	g.expire(t0.Add(3*time.Second), 2*time.Second)
	if g.lost != 1 {
		t.Errorf("lost = %d, want 1 (serial 102)", g.lost)
	}
	g.see(104+maxTrackedGap+11, t0) // a large gap counts at once
	if g.lost != 1+maxTrackedGap+10 || len(g.missing) != 0 {
		t.Errorf("large gap: lost %d", g.lost)
	}
	g.last = 1<<32 - 2
	g.see(5, t0) // the 32-bit counter wrapped
	g.see(6, t0)
	if g.lost != 1+maxTrackedGap+10 || g.last != 6 {
		t.Errorf("restart: lost %d last %d", g.lost, g.last)
	}
}
