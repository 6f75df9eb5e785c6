package monitor

import (
	"fmt"
	"io"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// source is where records come from: the audit netlink multicast group
// (auditsource.go) or the kernel log (kmsg.go).
type source interface {
	// Next returns the next record. errOverwritten and *parseError are
	// reported and reading goes on; any other error ends it.
	Next() (record, error)
	Close() error
	// Kind is "kmsg" or "audit".
	Kind() string
}

// record is what a source read: a kernel log record, or an audit record
// from the netlink socket (auditType set, its text in auditBody, which
// starts with the "audit(SEC.MSEC:SERIAL):" header).
type record struct {
	kmsg      KmsgRecord
	auditType auparse.AuditMessageType
	auditBody string
}

// parseError is a record a source could not read; reading goes on.
type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }

// openSource picks the source Options.Source names. "auto" prefers the
// audit multicast group, which gets every record whether or not auditd
// runs, and falls back to the kernel log, which printk rate-limits and
// which gets nothing while auditd runs.
//
// The monitor never registers as the audit daemon (the unicast socket, as
// auditbeat does when no auditd runs): the kernel would then stop logging
// audit records anywhere else, and when the monitor fell behind, every
// process writing an audit record would wait for it (audit_backlog_wait_time).
// The multicast group drops what the monitor cannot take, and the serial
// gaps count it.
func openSource(o Options, stderr io.Writer) (source, error) {
	if o.Source == "audit" || o.Source == "auto" || o.Source == "" {
		a, err := openAudit()
		switch {
		case err == nil:
			return a, nil
		case o.Source == "audit":
			return nil, err
		default:
			fmt.Fprintf(stderr, "secrun monitor: %v; reading %s instead, where printk's rate limit drops records\n", err, o.Kmsg)
		}
	}
	return openKmsg(o.Kmsg)
}
