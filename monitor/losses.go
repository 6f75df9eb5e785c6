package monitor

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Nothing is lost silently: what the kernel says it dropped, what the
// monitor could not read or keep, and the audit serials that never arrived
// become "lost" lines and stats counts.

// Loss is what a kernel log line says about audit records that never
// reached the log.
type Loss struct {
	// Reason is "printk_ratelimit" (printk dropped records: "F: N callbacks
	// suppressed") or "audit_lost" (the audit subsystem's own lost counter,
	// cumulative since boot: "audit: audit_lost=N ...").
	Reason string
	Count  uint64
	// Cumulative is true when Count is a running total since boot.
	Cumulative bool
	Function   string
}

var (
	suppressedRe = regexp.MustCompile(`^([A-Za-z0-9_.]+): (\d+) callbacks suppressed`)
	auditLostRe  = regexp.MustCompile(`^audit: audit_lost=(\d+) `)
)

// ParseLoss recognises the kernel lines that report dropped audit records.
// Suppression lines of functions unrelated to audit are not losses of
// seccomp records and are not reported.
func ParseLoss(msg string) (Loss, bool) {
	if m := suppressedRe.FindStringSubmatch(msg); m != nil {
		fn := m[1]
		if !strings.Contains(fn, "audit") {
			return Loss{}, false
		}
		n, _ := strconv.ParseUint(m[2], 10, 64)
		return Loss{Reason: LostPrintk, Count: n, Function: fn}, true
	}
	if m := auditLostRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		return Loss{Reason: LostAudit, Count: n, Cumulative: true}, true
	}
	return Loss{}, false
}

func (m *monitor) handleLoss(l Loss, k KmsgRecord) {
	switch l.Reason {
	case LostPrintk:
		m.reportLost(l.Count, LostPrintk, k.TsUsec, fmt.Sprintf("%s: %d callbacks suppressed", l.Function, l.Count))
	case LostAudit:
		if !m.auditLostKnown {
			// The count at start is unknown: all of it may be ours.
			m.auditLostKnown = true
			m.reportLost(l.Count, LostAudit, k.TsUsec, fmt.Sprintf("audit_lost=%d since boot (the count at start was unknown)", l.Count))
			m.auditLost = l.Count
			return
		}
		if l.Count > m.auditLost {
			m.reportLost(l.Count-m.auditLost, LostAudit, k.TsUsec, fmt.Sprintf("audit_lost=%d", l.Count))
			m.auditLost = l.Count
		}
	}
}

// startAuditLost reads the audit subsystem's lost counter at start; when
// it cannot be read, it is not polled again.
func (m *monitor) startAuditLost() {
	if n, err := m.auditLostPoll(); err == nil {
		m.auditLost, m.auditLostKnown = uint64(n), true
	} else {
		m.auditLostPoll = nil
	}
}

func (m *monitor) pollAuditLost() {
	if m.auditLostPoll == nil {
		return
	}
	n, err := m.auditLostPoll()
	if err != nil {
		return
	}
	if c := uint64(n); c > m.auditLost {
		m.lost[LostAudit] += c - m.auditLost
		m.emit(Lost{Type: "lost", Time: now(), Count: c - m.auditLost, Reason: LostAudit, Detail: fmt.Sprintf("audit_lost=%d", c)})
		m.auditLost = c
	}
}

func (m *monitor) reportLost(n uint64, reason string, usec uint64, detail string) {
	if n == 0 {
		return
	}
	m.lost[reason] += n
	m.emit(Lost{Type: "lost", Time: m.kmsgTime(usec), Count: n, Reason: reason, Detail: detail})
}

// flushLosses reports what the reader counted since the last call, and
// serials missing for a while.
func (m *monitor) flushLosses() {
	m.serials.expire(time.Now(), 2*time.Second)
	if m.reportGaps {
		m.flushCounter(m.serials.lost, &m.reportedGap, LostSerial, "audit events whose records never arrived (the netlink socket buffer overflowed)")
	}
	m.flushCounter(m.kmsgLost.Load(), &m.reportedKmsg, LostKmsg, "kernel log records (of any kind) overwritten before the monitor read them")
	m.flushCounter(m.queueDropped.Load(), &m.reportedQueue, LostQueue, "audit records read but dropped: the monitor's queue was full")
}

// flushCounter reports the growth of a loss counter since *reported.
func (m *monitor) flushCounter(n uint64, reported *uint64, reason, detail string) {
	if n <= *reported {
		return
	}
	d := n - *reported
	*reported = n
	m.lost[reason] += d
	m.emit(Lost{Type: "lost", Time: now(), Count: d, Reason: reason, Detail: detail})
}

// serialTracker finds audit event serials that never arrived. Records can
// arrive slightly out of order, so a missing serial counts as lost only
// when it is still missing a while later.
type serialTracker struct {
	last    uint64
	missing map[uint64]time.Time
	lost    uint64 // confirmed missing
}

// maxTrackedGap: larger gaps are counted at once, not serial by serial.
const maxTrackedGap = 4096

func (g *serialTracker) see(serial uint64, now time.Time) {
	switch {
	case g.last == 0 || serial+1<<31 < g.last:
		// The first record, or the kernel's counter started over.
		g.last = serial
	case serial > g.last:
		gap := serial - g.last - 1
		if gap > maxTrackedGap || len(g.missing)+int(gap) > 4*maxTrackedGap {
			g.lost += gap
		} else {
			for s := g.last + 1; s < serial; s++ {
				g.missing[s] = now
			}
		}
		g.last = serial
	case serial < g.last:
		delete(g.missing, serial) // late, not lost
	}
}

// expire counts as lost the serials missing for at least after.
func (g *serialTracker) expire(now time.Time, after time.Duration) {
	for s, t := range g.missing {
		if now.Sub(t) >= after {
			delete(g.missing, s)
			g.lost++
		}
	}
}
