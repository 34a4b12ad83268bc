package torchpt

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Argument kinds of pickle opcodes.
const (
	argNone  = iota
	argFixed // n bytes
	argLen   // an n-byte little-endian length, then that many bytes
	argLine  // n newline-terminated lines
)

type opArg struct{ kind, n int }

// opArgs describes the argument of every pickle opcode (protocols 0–5),
// as pickletools does.
var opArgs = func() map[byte]opArg {
	m := map[byte]opArg{}
	for _, op := range []byte("(.0123NQRabd}elo]st)u\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98") {
		m[op] = opArg{argNone, 0}
	}
	for op, n := range map[byte]int{'J': 4, 'K': 1, 'M': 2, 'h': 1, 'j': 4, 'q': 1, 'r': 4, 'G': 8,
		0x80: 1, 0x82: 1, 0x83: 2, 0x84: 4, 0x95: 8} {
		m[op] = opArg{argFixed, n}
	}
	for op, n := range map[byte]int{'T': 4, 'U': 1, 'X': 4, 0x8a: 1, 0x8b: 4, 'B': 4, 'C': 1,
		0x8c: 1, 0x8d: 8, 0x8e: 8, 0x96: 8} {
		m[op] = opArg{argLen, n}
	}
	for op, n := range map[byte]int{'F': 1, 'I': 1, 'L': 1, 'P': 1, 'S': 1, 'V': 1, 'g': 1, 'p': 1, 'c': 2, 'i': 2} {
		m[op] = opArg{argLine, n}
	}
	return m
}()

// scan checks that p is a sequence of known pickle opcodes ending with
// STOP whose arguments fit in p, so that the pickle machine never
// allocates more than the input's size for a length it reads.
func scan(p []byte) error {
	i := 0
	for i < len(p) {
		op := p[i]
		a, ok := opArgs[op]
		if !ok {
			return fmt.Errorf("unknown opcode 0x%02x at byte %d", op, i)
		}
		i++
		switch a.kind {
		case argFixed:
			if op == 0x95 && i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:]) > uint64(len(p)-i-8) {
				return fmt.Errorf("frame at byte %d is longer than the pickle", i-1)
			}
			i += a.n
		case argLen:
			if i+a.n > len(p) {
				return fmt.Errorf("truncated at byte %d", i)
			}
			var n uint64
			switch a.n {
			case 1:
				n = uint64(p[i])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(p[i:]))
			case 8:
				n = binary.LittleEndian.Uint64(p[i:])
			}
			i += a.n
			if n > uint64(len(p)-i) {
				return fmt.Errorf("opcode 0x%02x at byte %d claims %d bytes, beyond the end", op, i-a.n-1, n)
			}
			i += int(n)
		case argLine:
			for range a.n {
				j := bytes.IndexByte(p[min(i, len(p)):], '\n')
				if j < 0 {
					return fmt.Errorf("truncated at byte %d", i)
				}
				i += j + 1
			}
		}
		if op == '.' {
			if i != len(p) {
				return fmt.Errorf("%d bytes after STOP", len(p)-i)
			}
			return nil
		}
	}
	return fmt.Errorf("no STOP")
}
