package quote

import "testing"

func TestName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"layer1.bn1.weight", "layer1.bn1.weight"},
		{"/stem/Conv", "/stem/Conv"},
		{"a b", "a b"},
		{"Schrödinger", "Schrödinger"},
		{"Re\nlu", `"Re\nlu"`},
		{"tab\there", `"tab\there"`},
		{"bad\xbdbyte", `"bad\xbdbyte"`},
		{"zero\x00", `"zero\x00"`},
		{"del\x7f", `"del\x7f"`},
	} {
		if got := Name(tc.in); got != tc.want {
			t.Errorf("Name(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
