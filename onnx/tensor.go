package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/vivit-go/vivit/model"
	pb "github.com/vivit-go/vivit/onnx/internal/onnxpb"
)

// maxElements bounds every tensor the reader decodes (2³¹ values, 16 GiB
// of float64; on 32-bit platforms 2²⁸ − 1, 2 GiB, what an int counts in
// bytes): a crafted header cannot make it allocate more than the file's
// own data, and no tensor beyond this is plausible here.
const maxElements = min(1<<31, math.MaxInt/8)

// tensorData is a decoded initializer or Constant value: floats or ints.
type tensorData struct {
	shape []int
	f     []float64 // float tensors
	i     []int64   // integer and boolean tensors
	isInt bool
	dtype string
}

func (t *tensorData) numel() int { return model.Numel(t.shape) }

// decodeTensor checks and decodes t. Data stored outside the file is
// refused: a model file never makes the reader open another path.
func decodeTensor(t *pb.TensorProto) (*tensorData, error) {
	if t == nil {
		return nil, fmt.Errorf("no tensor")
	}
	if t.GetDataLocation() == pb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("its data is stored in an external file (not supported: vivit never opens paths named inside a model; export without external data)")
	}
	if t.Segment != nil {
		return nil, fmt.Errorf("it is segmented (not supported)")
	}
	shape := make([]int, len(t.GetDims()))
	n := int64(1)
	for i, d := range t.GetDims() {
		if d < 0 {
			return nil, fmt.Errorf("dimension %d is negative (%d)", i, d)
		}
		if d > maxElements || (d > 0 && n > maxElements/d) {
			return nil, fmt.Errorf("its dimensions %v are absurdly large", t.GetDims())
		}
		n *= d
		shape[i] = int(d)
	}
	numel := int(n)
	dt := pb.TensorProto_DataType(t.GetDataType())
	out := &tensorData{shape: shape, dtype: dt.String()}
	raw := t.GetRawData()
	hasRaw := t.RawData != nil
	rawLen := func(size int) error {
		if len(raw) != numel*size {
			return fmt.Errorf("its raw data holds %d bytes, its shape %v of %s needs %d", len(raw), shape, out.dtype, numel*size)
		}
		return nil
	}
	typedLen := func(got int) error {
		if got != numel {
			return fmt.Errorf("it holds %d values, its shape %v needs %d", got, shape, numel)
		}
		return nil
	}
	switch dt {
	case pb.TensorProto_FLOAT:
		if hasRaw {
			if err := rawLen(4); err != nil {
				return nil, err
			}
			out.f = make([]float64, numel)
			for i := range out.f {
				out.f[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			}
			return out, nil
		}
		if err := typedLen(len(t.GetFloatData())); err != nil {
			return nil, err
		}
		out.f = make([]float64, numel)
		for i, v := range t.GetFloatData() {
			out.f[i] = float64(v)
		}
	case pb.TensorProto_DOUBLE:
		if hasRaw {
			if err := rawLen(8); err != nil {
				return nil, err
			}
			out.f = make([]float64, numel)
			for i := range out.f {
				out.f[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			return out, nil
		}
		if err := typedLen(len(t.GetDoubleData())); err != nil {
			return nil, err
		}
		out.f = append([]float64(nil), t.GetDoubleData()...)
	case pb.TensorProto_INT64:
		out.isInt = true
		if hasRaw {
			if err := rawLen(8); err != nil {
				return nil, err
			}
			out.i = make([]int64, numel)
			for i := range out.i {
				out.i[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			return out, nil
		}
		if err := typedLen(len(t.GetInt64Data())); err != nil {
			return nil, err
		}
		out.i = append([]int64(nil), t.GetInt64Data()...)
	case pb.TensorProto_INT32, pb.TensorProto_INT8, pb.TensorProto_UINT8, pb.TensorProto_INT16, pb.TensorProto_UINT16, pb.TensorProto_BOOL:
		out.isInt = true
		size := map[pb.TensorProto_DataType]int{pb.TensorProto_INT32: 4, pb.TensorProto_INT16: 2, pb.TensorProto_UINT16: 2}[dt]
		if size == 0 {
			size = 1
		}
		if hasRaw {
			if err := rawLen(size); err != nil {
				return nil, err
			}
			out.i = make([]int64, numel)
			for i := range out.i {
				switch dt {
				case pb.TensorProto_INT32:
					out.i[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
				case pb.TensorProto_INT16:
					out.i[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
				case pb.TensorProto_UINT16:
					out.i[i] = int64(binary.LittleEndian.Uint16(raw[2*i:]))
				case pb.TensorProto_INT8:
					out.i[i] = int64(int8(raw[i]))
				default:
					out.i[i] = int64(raw[i])
				}
			}
			return out, nil
		}
		// These types are stored in int32_data.
		if err := typedLen(len(t.GetInt32Data())); err != nil {
			return nil, err
		}
		out.i = make([]int64, numel)
		for i, v := range t.GetInt32Data() {
			out.i[i] = int64(v)
		}
	default:
		return nil, fmt.Errorf("its type %s is not supported (float, double or integers)", out.dtype)
	}
	return out, nil
}

// snap32 returns the float64 value that a float32 constant of the graph
// most likely stood for before the exporter rounded it: √n or 1/√n for an
// integer n up to 2¹⁶ (GELU's √2, attention's √d), √(2/π) (GELU's tanh
// form), 1/n (Hardsigmoid's 1/6), else the shortest decimal that rounds to the same float32 (1e-5
// for an epsilon stored as 9.99999974738e-06, 0.044715). PyTorch computes
// with the unrounded values, and the engine reproduces it in float64: the
// rounding alone would leave relative errors of up to 6e-8 where the
// references agree to 1e-12. The result always rounds to the same float32,
// so no value changes by more than the file's own precision.
func snap32(v float64) float64 {
	f := float32(v)
	if float64(f) != v || v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	a := math.Abs(v)
	sign := math.Copysign(1, v)
	for _, c := range []float64{math.Sqrt(2 / math.Pi)} {
		if float32(c) == float32(a) {
			return sign * c
		}
	}
	if a > 1 && a*a <= 1<<16+1 {
		n := math.Round(a * a)
		if r := math.Sqrt(n); float32(r) == float32(a) && n != r*r {
			return sign * r
		}
	}
	if a < 1 && 1/(a*a) <= 1<<16+1 {
		n := math.Round(1 / (a * a))
		if r := 1 / math.Sqrt(n); float32(r) == float32(a) && math.Sqrt(n) != math.Round(math.Sqrt(n)) {
			return sign * r
		}
	}
	if a < 1 {
		if k := math.Round(1 / a); k <= 1<<16 && float32(1/k) == float32(a) {
			return sign / k
		}
	}
	s := strconv.FormatFloat(v, 'g', -1, 32)
	d, err := strconv.ParseFloat(s, 64)
	if err != nil || float32(d) != f {
		return v
	}
	return d
}
