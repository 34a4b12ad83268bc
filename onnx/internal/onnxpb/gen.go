// Package onnxpb holds the Go types of ONNX's protobuf schema, generated
// by protoc with protoc-gen-go from onnx.proto (ONNX 1.12, Apache-2.0, as
// Debian's python3-onnx ships it at /usr/lib/python3/dist-packages/onnx).
//
// The copy beside this file declares package vivit.onnx instead of onnx:
// the wire format does not carry package names, and the distinct name and
// file path keep these types from clashing in protobuf's global registry
// with another copy of ONNX's types linked into the same program.
//
// To regenerate (needs Debian's protobuf-compiler and python3-onnx, and
// `go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12`):
//
//	go generate ./onnx/internal/onnxpb
package onnxpb

//go:generate sh -c "sed 's/^package onnx;/package vivit.onnx;/' /usr/lib/python3/dist-packages/onnx/onnx.proto > vivit_onnx.proto"
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Mvivit_onnx.proto=github.com/vivit-go/vivit/onnx/internal/onnxpb vivit_onnx.proto
