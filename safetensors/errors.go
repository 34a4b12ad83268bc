package safetensors

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of error. Every *Error returned by this package has one of these
// as its Kind, and errors.Is(err, ErrXxx) reports it.
var (
	ErrShortFile    = errors.New("file too short")
	ErrHeaderLength = errors.New("invalid header length")
	ErrHeader       = errors.New("invalid header")
	ErrMetadata     = errors.New("invalid __metadata__")
	ErrEntry        = errors.New("invalid tensor entry")
	ErrDType        = errors.New("unsupported dtype")
	ErrShape        = errors.New("invalid shape")
	ErrOffsets      = errors.New("invalid data_offsets")
	ErrSize         = errors.New("data size mismatch")
	ErrOverlap      = errors.New("overlapping tensors")
	ErrGap          = errors.New("data not contiguous")
	ErrDuplicate    = errors.New("duplicate tensor name")
	ErrEmptyName    = errors.New("empty tensor name")
	ErrNotFound     = errors.New("no such tensor")
	ErrData         = errors.New("invalid tensor data")
)

// Error describes malformed input or invalid arguments.
type Error struct {
	Path   string // file path, if known
	Name   string // tensor name, MetadataKey, or "" for the file as a whole
	Kind   error  // one of the Err* sentinels
	Reason string // what exactly is wrong
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	switch {
	case e.Name == MetadataKey && e.Kind == ErrMetadata:
		// The kind already says so.
	case e.Name == MetadataKey:
		b.WriteString(MetadataKey + ": ")
	case e.Name != "":
		fmt.Fprintf(&b, "tensor %q: ", e.Name)
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

func errorf(name string, kind error, format string, args ...any) *Error {
	return &Error{Name: name, Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// withPath sets the path of err if it is an *Error, or wraps it otherwise.
func withPath(err error, path string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = path
		return e
	}
	return fmt.Errorf("safetensors: %s: %w", path, err)
}
