package npy

import (
	"errors"
	"math"
	"strconv"
)

// header is the parsed header dict.
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// parseHeader parses a header dict literal such as
//
//	{'descr': '<f8', 'fortran_order': False, 'shape': (10, 2410), }
//
// followed by optional whitespace.
func parseHeader(s string) (header, error) {
	var h header
	l := &lexer{s: s}
	l.skip()
	if err := l.expect('{'); err != nil {
		return h, err
	}
	seen := make(map[string]bool, 3)
	for {
		l.skip()
		if l.peek() == '}' {
			l.i++
			break
		}
		key, err := l.str("key")
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, errorf(ErrHeader, "duplicate key %q", key)
		}
		seen[key] = true
		l.skip()
		if err := l.expect(':'); err != nil {
			return h, err
		}
		l.skip()
		switch key {
		case "descr":
			if c := l.peek(); c != '\'' && c != '"' {
				return h, errorf(ErrDescr, "descr is not a string at offset %d; structured dtypes are not supported", l.i)
			}
			if h.descr, err = l.str("descr"); err != nil {
				return h, err
			}
		case "fortran_order":
			switch id := l.ident(); id {
			case "True":
				h.fortran = true
			case "False":
				h.fortran = false
			default:
				return h, errorf(ErrHeader, "fortran_order is %s at offset %d, want True or False", l.describe(id), l.i-len(id))
			}
		case "shape":
			if h.shape, err = l.tuple(); err != nil {
				return h, err
			}
		default:
			return h, errorf(ErrHeader, "unknown key %q", key)
		}
		l.skip()
		switch l.peek() {
		case ',':
			l.i++
			continue
		case '}':
			l.i++
		default:
			return h, l.unexpected("',' or '}'")
		}
		break
	}
	l.skip()
	if l.i != len(s) {
		return h, errorf(ErrHeader, "trailing characters %q after the dict", clip(s[l.i:]))
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, errorf(ErrHeader, "missing key %q", k)
		}
	}
	return h, nil
}

// lexer scans a Python literal.
type lexer struct {
	s string
	i int
}

func (l *lexer) peek() byte {
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

func (l *lexer) skip() {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

func (l *lexer) unexpected(want string) error {
	if l.i >= len(l.s) {
		return errorf(ErrHeader, "header ends where %s is expected", want)
	}
	return errorf(ErrHeader, "unexpected %q at offset %d, want %s", clip(l.s[l.i:]), l.i, want)
}

func (l *lexer) expect(c byte) error {
	if l.peek() != c || l.i >= len(l.s) {
		return l.unexpected(strconv.QuoteRune(rune(c)))
	}
	l.i++
	return nil
}

// str scans a quoted string without escape sequences.
func (l *lexer) str(what string) (string, error) {
	q := l.peek()
	if q != '\'' && q != '"' {
		return "", l.unexpected("a quoted " + what)
	}
	start := l.i
	for j := l.i + 1; j < len(l.s); j++ {
		switch l.s[j] {
		case q:
			l.i = j + 1
			return l.s[start+1 : j], nil
		case '\\':
			return "", errorf(ErrHeader, "escape sequence in %s at offset %d", what, j)
		case '\n', '\r':
			return "", errorf(ErrHeader, "unterminated %s at offset %d", what, start)
		}
	}
	return "", errorf(ErrHeader, "unterminated %s at offset %d", what, start)
}

// ident scans a run of ASCII letters.
func (l *lexer) ident() string {
	start := l.i
	for l.i < len(l.s) && ('a' <= l.s[l.i] && l.s[l.i] <= 'z' || 'A' <= l.s[l.i] && l.s[l.i] <= 'Z') {
		l.i++
	}
	return l.s[start:l.i]
}

func (l *lexer) describe(id string) string {
	if id != "" {
		return strconv.Quote(id)
	}
	if l.i >= len(l.s) {
		return "missing"
	}
	return strconv.Quote(clip(l.s[l.i:]))
}

// tuple scans a tuple of non-negative integers: (), (n,), (n, m), (n, m,).
func (l *lexer) tuple() ([]int, error) {
	if l.peek() != '(' {
		return nil, errorf(ErrShape, "shape is %s at offset %d, want a tuple", l.describe(""), l.i)
	}
	l.i++
	shape := []int{}
	comma := false
	for {
		l.skip()
		if l.peek() == ')' {
			l.i++
			break
		}
		d, err := l.dim(len(shape))
		if err != nil {
			return nil, err
		}
		shape = append(shape, d)
		l.skip()
		switch l.peek() {
		case ',':
			l.i++
			comma = true
			continue
		case ')':
			l.i++
		default:
			return nil, l.unexpected("',' or ')' in shape")
		}
		break
	}
	if len(shape) == 1 && !comma {
		return nil, errorf(ErrShape, "shape (%d) is not a tuple; a 1-tuple needs a trailing comma", shape[0])
	}
	return shape, nil
}

// dim scans dimension k of a shape: a decimal integer with an optional
// Python 2 long suffix L.
func (l *lexer) dim(k int) (int, error) {
	start := l.i
	if l.peek() == '-' {
		l.i++
	}
	for l.i < len(l.s) && '0' <= l.s[l.i] && l.s[l.i] <= '9' {
		l.i++
	}
	lit := l.s[start:l.i]
	if lit == "" || lit == "-" {
		return 0, errorf(ErrShape, "dimension %d is %s at offset %d, want an integer", k, l.describe(""), start)
	}
	if c := l.peek(); c == 'L' || c == 'l' {
		l.i++
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || v > math.MaxInt:
		return 0, errorf(ErrShape, "dimension %d = %s is out of range", k, clip(lit))
	case err != nil:
		return 0, errorf(ErrShape, "dimension %d = %q is not an integer", k, clip(lit))
	case v < 0:
		return 0, errorf(ErrShape, "dimension %d = %d is negative", k, v)
	}
	return int(v), nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}
