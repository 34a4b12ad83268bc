package bench

import (
	"testing"

	"github.com/vivit-go/vivit"
)

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

func TestResNet8(t *testing.T) {
	m, b, err := ResNet8(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.NumParams(); got != 78042 {
		t.Errorf("NumParams = %d, want 78,042", got)
	}
	if got := len(vivit.LayerGroups(m)); got != 19 {
		t.Errorf("%d modules, want 19", got)
	}
	if err := b.Check(m); err != nil {
		t.Fatal(err)
	}
}
