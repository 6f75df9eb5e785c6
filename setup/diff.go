package setup

import (
	"io"

	udiff "github.com/aymanbagabas/go-udiff"
)

// lineDiff writes a unified diff (3 lines of context) between two texts.
func lineDiff(w io.Writer, oldName, newName, a, b string) {
	io.WriteString(w, udiff.Unified(oldName, newName, a, b))
}
