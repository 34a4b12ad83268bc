package checkpoint

import "github.com/vivit-go/vivit/model"

// inplaceOnly builds an activation whose only field is PyTorch's inplace
// flag, which changes nothing here.
func inplaceOnly(f func([]int) *model.Elementwise) func(LayerSpec, []int) (LayerPlan, error) {
	return func(s LayerSpec, in []int) (LayerPlan, error) {
		if err := ignoreInplace(s); err != nil {
			return LayerPlan{}, err
		}
		return same(in, func() model.Layer { return f(in) }), nil
	}
}

// buildHardtanh reads nn.Hardtanh(min_val, max_val) (bounds read only when
// fields is set; nn.ReLU6 is Hardtanh(0, 6)).
func buildHardtanh(lo, hi float64, fields bool) func(LayerSpec, []int) (LayerPlan, error) {
	return func(s LayerSpec, in []int) (LayerPlan, error) {
		lo, hi := lo, hi
		if fields {
			var err error
			if lo, err = s.Float("min_val", lo); err != nil {
				return LayerPlan{}, err
			}
			if hi, err = s.Float("max_val", hi); err != nil {
				return LayerPlan{}, err
			}
			if !(lo < hi) {
				return LayerPlan{}, s.errorf("min_val must be below max_val, got %v and %v", lo, hi)
			}
		}
		if err := ignoreInplace(s); err != nil {
			return LayerPlan{}, err
		}
		return same(in, func() model.Layer { return model.NewHardtanh(in, lo, hi) }), nil
	}
}

func buildGELU(s LayerSpec, in []int) (LayerPlan, error) {
	a, err := s.str("approximate", "none")
	if err != nil {
		return LayerPlan{}, err
	}
	switch a {
	case "none":
		return same(in, func() model.Layer { return model.NewGELU(in) }), nil
	case "tanh":
		return same(in, func() model.Layer { return model.NewGELUTanh(in) }), nil
	}
	return LayerPlan{}, s.errorf("approximate must be \"none\" or \"tanh\", got %q", a)
}
