package monitor

import "time"

// procKey names a process for the attribution cache: a pid with the same
// comm and exe within attrCacheTTL is the same process.
type procKey struct {
	pid       int
	comm, exe string
}

type cachedAttribution struct {
	a  Attribution
	at time.Time
}

const (
	attrCacheTTL = 2 * time.Second
	attrCacheMax = 4096
)

// attrCache remembers for a moment which container a process is in: a
// burst from one process is looked up once, and its later records are
// attributed even if the process exits before the monitor reads them.
type attrCache map[procKey]cachedAttribution

// attribute finds the container of a record's process.
func (cache attrCache) attribute(reg *Registry, ev SeccompEvent) Attribution {
	k := procKey{ev.Pid, ev.Comm, ev.Exe}
	t := time.Now()
	if c, ok := cache[k]; ok && t.Sub(c.at) < attrCacheTTL {
		return c.a
	}
	a := reg.AttributeAt(ev.Pid, ev.Time)
	if a.Why == "exited" {
		return a
	}
	if len(cache) >= attrCacheMax {
		for key, c := range cache {
			if t.Sub(c.at) >= attrCacheTTL {
				delete(cache, key)
			}
		}
		if len(cache) >= attrCacheMax {
			clear(cache)
		}
	}
	cache[k] = cachedAttribution{a, t}
	return a
}
