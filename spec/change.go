package spec

import "fmt"

// Kind says what a Change is.
type Kind int

const (
	Changed Kind = iota // the modifier changed the spec
	Note                // information: what was left alone, and why
	Warning             // allowed, but the runtime log says so (pod security in warn mode)
)

// Change is what one modifier did, or has to say.
type Change struct {
	Step string // the modifier: annotations, capabilities, seccomp...
	Kind Kind
	Msg  string
}

func (c Change) String() string { return c.Step + ": " + c.Msg }

func changed(step, format string, a ...any) Change {
	return Change{Step: step, Kind: Changed, Msg: fmt.Sprintf(format, a...)}
}

func note(step, format string, a ...any) Change {
	return Change{Step: step, Kind: Note, Msg: fmt.Sprintf(format, a...)}
}

// Error is a policy refusal: the container must not start.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func refuse(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }
