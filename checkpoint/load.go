package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vivit-go/vivit/internal/quote"
	"github.com/vivit-go/vivit/internal/tensorfile"
	"github.com/vivit-go/vivit/model"
	"github.com/vivit-go/vivit/safetensors"
)

// ArchitectureKey is the safetensors metadata key that holds the
// architecture JSON.
const ArchitectureKey = "architecture"

// The formats of File.Format.
const (
	Safetensors = "safetensors" // a safetensors file
	PyTorch     = "pytorch"     // a state_dict saved by torch.save
)

// ErrNoArchitecture marks the error of a checkpoint without an
// architecture when none is given: errors.Is(err, ErrNoArchitecture).
var ErrNoArchitecture = errors.New("no architecture")

// noArchError is the message for a checkpoint without an architecture,
// matching ErrNoArchitecture.
type noArchError struct{ msg string }

func (e *noArchError) Error() string        { return e.msg }
func (e *noArchError) Is(target error) bool { return target == ErrNoArchitecture }

// budgetSlack is how many parameters beyond the values a checkpoint holds
// its architecture may allocate (8 MiB of float64).
const budgetSlack = 1 << 20

// File is a checkpoint as read, before its network is built.
type File struct {
	// Path is the file's path as given to Open, or the name given to
	// NewFile; errors start with it.
	Path string
	// Format is Safetensors or PyTorch.
	Format string
	// Tensors holds the tensors in the file's order (state_dict order for
	// PyTorch, whose state_dict is converted to safetensors in memory and
	// has no metadata).
	Tensors *safetensors.File
	// DTypes is each tensor's element type as stored: safetensors' names
	// ("F32") or PyTorch's ("float32").
	DTypes map[string]string
}

// Open reads a checkpoint: a safetensors file, or a PyTorch state_dict
// saved with torch.save(model.state_dict(), path), told apart by their
// first bytes. Any other file is an error that says what was expected.
func Open(path string) (*File, error) {
	switch k := tensorfile.Detect(path); k {
	case tensorfile.Safetensors, tensorfile.PyTorch:
	default:
		return nil, fmt.Errorf("%s: %s, not a checkpoint (expected a .safetensors file, or a .pt file holding a state_dict)", path, k.Describe())
	}
	t, err := tensorfile.Open(path)
	if err != nil {
		return nil, err
	}
	return &File{Path: path, Format: string(t.Format), Tensors: t.File, DTypes: t.DTypes}, nil
}

// NewFile wraps a safetensors checkpoint parsed in memory (such as an
// embedded one); name stands for its path in errors.
func NewFile(name string, f *safetensors.File) *File {
	t := tensorfile.FromSafetensors(f)
	return &File{Path: name, Format: Safetensors, Tensors: f, DTypes: t.DTypes}
}

// Architecture returns the architecture held in the metadata, nil (and no
// error) when there is none. Errors name the file.
func (f *File) Architecture() (*Architecture, error) {
	js, ok := f.Tensors.Metadata[ArchitectureKey]
	if !ok {
		return nil, nil
	}
	a, err := ParseArchitecture([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("%s: metadata %q: %w", f.Path, ArchitectureKey, err)
	}
	return a, nil
}

// Network builds the network from the file's tensors and arch, or the
// architecture of the metadata when arch is nil. Errors name the file; a
// file without an architecture gives one that matches ErrNoArchitecture.
func (f *File) Network(arch *Architecture) (*model.Network, error) {
	if arch == nil {
		var err error
		if arch, err = f.Architecture(); err != nil {
			return nil, err
		}
		if arch == nil {
			return nil, f.noArchitecture()
		}
	}
	net, err := FromSafetensors(f.Tensors, arch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return net, nil
}

// noArchitecture says why the file holds no architecture and what to do;
// for a batch file, which holds none either, it says so instead.
func (f *File) noArchitecture() error {
	_, hasIn := f.Tensors.Info("inputs")
	_, hasT := f.Tensors.Info("targets")
	switch {
	case hasIn && hasT:
		return fmt.Errorf("%s holds tensors \"inputs\" and \"targets\": it is a batch, not a checkpoint (read it with package batch)", f.Path)
	case f.Format == PyTorch:
		return &noArchError{fmt.Sprintf("%s: a PyTorch state_dict holds no architecture; give the architecture JSON (see docs/formats.md)", f.Path)}
	}
	return &noArchError{fmt.Sprintf("%s: no %q in the safetensors metadata; give the architecture JSON (see docs/formats.md)", f.Path, ArchitectureKey)}
}

// Load reads a checkpoint and builds its network; see Open and
// File.Network.
func Load(path string, arch *Architecture) (*model.Network, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	return f.Network(arch)
}

// ReadArchitecture reads an architecture JSON file; errors name it.
func ReadArchitecture(path string) (*Architecture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a, err := ParseArchitecture(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// FromSafetensors builds a network from parsed tensors and an architecture (that of
// the metadata when arch is nil). Every parameter of the architecture must
// be in f with its exact shape, and f must hold nothing else. Errors name
// the tensor at fault, not the file.
func FromSafetensors(f *safetensors.File, arch *Architecture) (*model.Network, error) {
	if arch == nil {
		js, ok := f.Metadata[ArchitectureKey]
		if !ok {
			return nil, &noArchError{fmt.Sprintf("no %q in the safetensors metadata; give the architecture JSON (see docs/formats.md)", ArchitectureKey)}
		}
		var err error
		if arch, err = ParseArchitecture([]byte(js)); err != nil {
			return nil, err
		}
	}
	// Every parameter must be in the file: never allocate much more than it
	// holds. The slack lets a slightly short file reach the check below
	// that names the missing tensor.
	held := 0
	for _, t := range f.Tensors {
		held += t.NumElements()
	}
	net, err := arch.BuildLimited(held + budgetSlack)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%w (the checkpoint holds %d values in all)", err, held)
	}
	if err != nil {
		return nil, err
	}
	want := map[string]*model.Param{}
	for _, p := range net.Params() {
		want[p.Name] = p
	}
	for _, name := range f.Names() {
		if _, ok := want[name]; !ok {
			return nil, fmt.Errorf("tensor %q is not a parameter of the architecture (expected: %s)", name, quotedNames(paramNames(net)))
		}
	}
	for _, p := range net.Params() {
		data, shape, err := f.Float64s(p.Name)
		if err != nil {
			if _, ok := f.Info(p.Name); !ok {
				return nil, fmt.Errorf("tensor %q is missing (the architecture needs %s)", p.Name, quotedNames(paramNames(net)))
			}
			return nil, err
		}
		if !slices.Equal(shape, p.Shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, the architecture needs %v", p.Name, shape, p.Shape)
		}
		copy(p.Data, data)
	}
	if err := net.CheckFinite(); err != nil {
		return nil, err
	}
	return net, nil
}

func paramNames(net *model.Network) []string {
	var ns []string
	for _, p := range net.Params() {
		ns = append(ns, p.Name)
	}
	return ns
}

// quotedNames lists names read from a file for a message.
func quotedNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote.Name(n)
	}
	return strings.Join(q, ", ")
}

// Equal reports whether a and b describe the same network (the same JSON
// once re-encoded, so spacing and field order inside layers aside).
func (a *Architecture) Equal(b *Architecture) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Rename replaces the prefix Old of tensor names by New: the first rule
// whose Old starts a name applies ({Old: "module.", New: ""} strips the
// prefix nn.DataParallel adds).
type Rename struct{ Old, New string }

// ParseRename reads a rule written OLD=NEW (the command line's --rename).
func ParseRename(s string) (Rename, error) {
	old, repl, ok := strings.Cut(s, "=")
	if !ok || old == "" {
		return Rename{}, fmt.Errorf("rename %q: want OLD=NEW with OLD a non-empty name prefix (module.= strips module.)", s)
	}
	return Rename{Old: old, New: repl}, nil
}

// Rename renames the file's tensors by the rules, each of which must apply
// to some tensor, before they are matched with an architecture.
func (f *File) Rename(rules []Rename) error {
	if len(rules) == 0 {
		return nil
	}
	used := make([]bool, len(rules))
	g, err := f.Tensors.Renamed(func(name string) string {
		for i, r := range rules {
			if strings.HasPrefix(name, r.Old) {
				used[i] = true
				return r.New + strings.TrimPrefix(name, r.Old)
			}
		}
		return name
	})
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	for i, u := range used {
		if !u {
			return fmt.Errorf("%s: rename %s=%s: no tensor name starts with %q (the tensors: %s)", f.Path, rules[i].Old, rules[i].New, rules[i].Old, quotedNames(f.Tensors.Names()))
		}
	}
	dt := map[string]string{}
	for i, t := range f.Tensors.Tensors {
		dt[g.Tensors[i].Name] = f.DTypes[t.Name]
	}
	f.Tensors, f.DTypes = g, dt
	return nil
}
