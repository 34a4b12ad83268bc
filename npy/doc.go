// Package npy reads and writes NumPy .npy files holding one numeric array.
//
// # Format
//
// A file is the magic string "\x93NUMPY", a major and minor version byte
// (1.0, 2.0 or 3.0 are accepted), a little-endian header length (uint16 for
// version 1, uint32 otherwise), a header that is a Python dict literal such
// as {'descr': '<f8', 'fortran_order': False, 'shape': (10, 2410), }, and
// the raw array data.
//
// # Reading
//
// Read and ReadFile accept the dtypes f8, f4 (little or big endian), i8,
// i4, i2, i1, u8, u4, u2, u1 and b1, and convert every element to float64
// (a u8 or i8 beyond 2⁵³ is rounded). Arrays stored in Fortran order are
// transposed, so Array.Data is always in C (row-major) order. ReadInt64
// returns integer arrays exactly, and float arrays only if every element
// is an integer in the int64 range.
//
// The header parser accepts exactly what NumPy writes and the variations a
// Python literal allows: keys in any order, single or double quotes,
// arbitrary whitespace and trailing commas. It requires exactly the keys
// descr, fortran_order and shape, once each, and shape must be a tuple of
// non-negative integers whose product, times the item size, fits in an
// int; () is a scalar with one element.
//
// The input must hold exactly one array: data shorter than the shape needs
// is an error, and so are bytes after it. Malformed input never causes a
// panic, and memory use is bounded by the size of the input (at most the
// bytes read, times 8 for one-byte dtypes), never by sizes a header claims.
// Every format error is an *Error whose Kind is one of the Err* sentinels,
// so callers can test it with errors.Is.
//
// # Writing
//
// Write produces what numpy.save produces for a C-contiguous float64 array:
// descr '<f8', fortran_order False, a version 1.0 header (2.0 if the header
// does not fit in 65535 bytes) padded with spaces and ended by a newline so
// that the data starts at a multiple of 64 bytes, the same spare space
// numpy.save reserves for growing the first axis, and little-endian data.
package npy
