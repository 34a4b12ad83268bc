package model

import "fmt"

// window holds the kernel_size, stride, padding and dilation of a pooling
// layer, each [height, width].
type window struct {
	k, s, p, d [2]int
}

// fitErr reports an error unless the dilated window fits into the padded
// input of shape in ([C, H, W]).
func (w window) fitErr(in []int) error {
	eh, ew := w.d[0]*(w.k[0]-1)+1, w.d[1]*(w.k[1]-1)+1
	ph, pw := in[1]+2*w.p[0], in[2]+2*w.p[1]
	if eh > ph || ew > pw {
		return fmt.Errorf("kernel_size %v with dilation %v spans %d×%d, more than the padded input %d×%d (input shape %v, padding %v)",
			w.k, w.d, eh, ew, ph, pw, in, w.p)
	}
	return nil
}

// maxFeatures bounds every per-sample tensor a constructor accepts (2²⁸
// values), so that shapes read from a user's file cannot ask for unbounded
// memory.
const maxFeatures = 1 << 28
