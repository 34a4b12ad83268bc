// Package quote shows names read from files in messages.
//
// A name taken from a model or checkpoint file may hold any bytes. Error
// messages in this module are one line each and must not let a file hide
// bytes in them, so names of unknown content go through Name.
package quote

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name returns s unchanged when it is valid UTF-8 made only of graphic
// characters (letters, marks, numbers, punctuation, symbols and spaces),
// else s Go-quoted, with its control characters and invalid bytes escaped.
func Name(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, notGraphic) < 0 {
		return s
	}
	return strconv.Quote(s)
}

func notGraphic(r rune) bool { return !unicode.IsGraphic(r) }
