package monitor

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"
)

// The monitor runs in three stages, so that a slow disk never stalls
// reading the kernel's records: the reader hands records to the processor
// through a large queue (and counts what it must drop when that is full),
// the processor attributes them and queues lines, the writer writes them.

// run monitors until ctx is done or the source ends.
func (m *monitor) run(ctx context.Context, src source, out io.Writer) error {
	m.reportGaps = src.Kind() == "audit"
	recs := make(chan record, 1<<16)
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readErr = m.read(src, recs)
	}()
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		m.writeLines(out)
	}()

	m.startAuditLost()
	st := Start{Type: "start", Time: now(), Source: src.Kind(), Roots: m.o.Roots, Pid: os.Getpid()}
	if src.Kind() == "kmsg" {
		st.Kmsg = m.o.Kmsg
	}
	m.emit(st)

	stopped := m.process(ctx, src, recs)

	m.serials.expire(time.Now(), 0)
	m.flushLosses()
	m.pollAuditLost()
	m.emitStats(true)
	close(m.lines)
	<-writeDone
	if stopped {
		return nil
	}
	<-readDone
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return readErr
	}
	return nil
}

// process handles records and timers until the source ends, or until ctx
// is done and the records already queued are handled (or 2 s have passed).
// stopped reports the latter.
func (m *monitor) process(ctx context.Context, src source, recs <-chan record) (stopped bool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stats <-chan time.Time
	if m.o.StatsInterval > 0 {
		t := time.NewTicker(m.o.StatsInterval)
		defer t.Stop()
		stats = t.C
	}
	refresh := time.NewTicker(5 * time.Second)
	defer refresh.Stop()

	stopping := ctx.Done()
	var giveUp <-chan time.Time
	for {
		select {
		case r, ok := <-recs:
			if !ok {
				return stopping == nil || ctx.Err() != nil
			}
			m.handle(r)
		case <-tick.C:
			m.flushLosses()
			m.pollAuditLost()
		case <-refresh.C:
			m.reg.Refresh()
		case <-stats:
			m.emitStats(false)
		case <-stopping:
			// Stop reading; the records already queued are still handled.
			src.Close()
			stopping = nil
			giveUp = time.After(2 * time.Second)
		case <-giveUp:
			return true
		}
	}
}

// sequenced is a source whose records carry the kernel log's sequence
// numbers.
type sequenced interface{ countsSequence() bool }

// read reads records until the source fails or is closed, and counts the
// records it could not read (sequence gaps, overwrites) or keep.
func (m *monitor) read(src source, recs chan<- record) error {
	defer close(recs)
	sq, ok := src.(sequenced)
	countSeq := ok && sq.countsSequence()
	var last uint64
	have := false
	for {
		r, err := src.Next()
		var perr *parseError
		switch {
		case errors.Is(err, errOverwritten):
			continue // the gap shows in the next record's sequence number
		case errors.As(err, &perr):
			m.readParseErrors.Add(1)
			m.warn(err)
			continue
		case errors.Is(err, os.ErrClosed):
			return nil
		case err != nil:
			return err
		}
		if countSeq {
			if have && r.kmsg.Seq > last+1 {
				m.kmsgLost.Add(r.kmsg.Seq - last - 1)
			}
			if !have || r.kmsg.Seq > last {
				last, have = r.kmsg.Seq, true
			}
		}
		if r.auditType == 0 && !relevant(r.kmsg.Message) {
			continue
		}
		select {
		case recs <- r:
		default:
			m.queueDropped.Add(1)
		}
	}
}

// relevant keeps the kernel log records the processor cares about: audit
// records and the kernel's notes about dropping them.
func relevant(msg string) bool {
	return strings.Contains(msg, "audit") || strings.Contains(msg, "callbacks suppressed")
}
