package intern

import (
	"fmt"
	"testing"
	"unsafe"
)

func TestTable(t *testing.T) {
	tb := New(4)
	a := tb.Bytes([]byte("severity"))
	b := tb.Bytes([]byte("severity"))
	if a != "severity" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("%q and %q are not one string", a, b)
	}
	for i := range 10 {
		if s := tb.Bytes(fmt.Appendf(nil, "v%d", i)); s != fmt.Sprintf("v%d", i) {
			t.Fatalf("got %q", s)
		}
		if len(tb.m) > 4 {
			t.Fatalf("table holds %d strings, more than its 4", len(tb.m))
		}
	}
	if n := testing.AllocsPerRun(100, func() { tb.Bytes([]byte("v9")) }); n != 0 {
		t.Errorf("a known string costs %v allocations", n)
	}
}
