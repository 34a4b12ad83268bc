package bench

import "testing"

func TestMLPParams(t *testing.T) {
	m, b, err := MLP([]int{64, 128, 128, 128, 10}, "relu", 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.NumParams(), 64*128+128+2*(128*128+128)+128*10+10; got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
	if b.Len() != 4 {
		t.Errorf("batch of %d", b.Len())
	}
}
