package npy

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of error. Every *Error returned by this package has one of these
// as its Kind, and errors.Is(err, ErrXxx) reports it.
var (
	ErrMagic      = errors.New("not an npy file")
	ErrVersion    = errors.New("unsupported version")
	ErrHeader     = errors.New("invalid header")
	ErrDescr      = errors.New("unsupported dtype")
	ErrShape      = errors.New("invalid shape")
	ErrTruncated  = errors.New("truncated")
	ErrTrailing   = errors.New("trailing bytes")
	ErrNotInteger = errors.New("not an integer array")
	ErrData       = errors.New("invalid array")
)

// Error describes malformed input or an invalid Array.
type Error struct {
	Path   string // file path, if known
	Kind   error  // one of the Err* sentinels
	Reason string // what exactly is wrong
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("npy: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	if e.Reason != "" {
		if e.Kind != nil {
			b.WriteString(": ")
		}
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns e.Kind.
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// withPath sets the path of err if it is an *Error, or wraps it otherwise.
func withPath(err error, path string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = path
		return e
	}
	return fmt.Errorf("npy: %s: %w", path, err)
}
