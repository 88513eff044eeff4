package exprdepth

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

func nested(open, close, inner string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func TestDepth(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       int
	}{
		{"empty", "", 1},
		{"selector", "up", 1},
		{"matchers do not nest", `up{job="node",mode!="idle",a=~"b|c"}`, 2},
		{"parentheses", "((up))", 3},
		{"range", "up[5m]", 3},
		{"call with a range", "rate(up[5m])", 4},
		{"subquery", "(up)[5m:1m]", 3},
		{"binary", "up + 1", 2},
		{"chain of operators", "1 + 2 * 3 ^ 4 or up", 5},
		{"unary minus", "- - up", 3},
		{"arguments count separately", "clamp(a + b, c + d, e + f)", 3},
		{"aggregation", `sum by (job) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))`, 5},
		{"nested operand in a chain", "abs(-x) ^ 2 ^ 3", 5},
		{"arguments nest side by side", "clamp(" + nested("(", ")", "1", 600) + ", " + nested("(", ")", "1", 500) + ", 1)", 602},
		{"chained subqueries", "x[5m:1m][1h:5m][1d:1h]", 5},
		{"brackets in strings", `up{a="((((", b='[[[[', c=` + "`{{{{`" + `}`, 2},
		{"escaped quote in a string", `up{a="\"(((("}`, 2},
		{"brackets in a comment", "# ((((((\"\nup", 1},
		{"20,000 parentheses", nested("(", ")", "1", 20000), 20001},
		{"20,000 calls", nested("abs(", ")", "up", 20000), 20001},
		{"20,000 powers", strings.Repeat("1^", 20000) + "1", 20001},
		{"20,000 additions", strings.Repeat("up + ", 20000) + "up", 20001},
		{"lexing error ends the scan", "((((up" + ` @ "` + nested("(", ")", "", 5000), 6},
		{"unbalanced ends the scan", "up)" + nested("(", ")", "", 5000), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan(tc.expr, math.MaxInt, math.MaxInt).depth; got != tc.want {
				t.Errorf("depth of %.80q = %d, want %d", tc.expr, got, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	deep := nested("(", ")", `"x"`, 990)
	for _, tc := range []struct {
		name, expr string
		limits     Limits
		// want is the error wrapped, at is the line:column the error
		// names and limit the number it names; want nil: no error.
		want      error
		at, limit string
	}{
		{name: "ordinary query", expr: `sum by (job) (rate(up[5m])) / on(job) group_left count(up)`},
		{name: "exactly at the limit", expr: nested("(", ")", "1", 999)},
		{name: "one level over", expr: nested("(", ")", "1", 1000), want: ErrTooDeep, at: "1:1000", limit: "1000"},
		{name: "hostile nesting", expr: nested("(", ")", "1", 100000), want: ErrTooDeep, at: "1:1000", limit: "1000"},
		{name: "hostile operator chain", expr: strings.Repeat("1^", 100000) + "1", want: ErrTooDeep, at: "1:2000", limit: "1000"},
		{name: "second line", expr: "up\n+ " + nested("(", ")", "1", 10), limits: Limits{MaxDepth: 5}, want: ErrTooDeep, at: "2:6", limit: "5"},
		{name: "many tokens", expr: "clamp(" + strings.Repeat("1,", 100) + "1)", limits: Limits{MaxCost: 100}, want: ErrTooComplex, at: "1:55", limit: "100"},
		{name: "hostile: wide and deep", expr: `label_join(up, "a", "b", ` + strings.Repeat(deep+", ", 500) + `"x")`, want: ErrTooComplex, at: "1:10113", limit: "10000000"},
		{name: "a long flat list is not complex", expr: `label_join(up, "a", "b"` + strings.Repeat(`, "x"`, 100000) + ")"},
		{name: "a 4 MiB string is one token", expr: `up{a="` + strings.Repeat("x", 4<<20) + `"}`},
		{name: "malformed within the limits is the parser's", expr: "rate(up[5m]"},
		{name: "deep inside a string is fine", expr: `up{a="` + strings.Repeat("(", 5000) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.limits.Check(tc.expr)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Check: %v, want no error", err)
			case tc.want == nil:
				return
			case !errors.Is(err, tc.want):
				t.Fatalf("Check: %v, want %v", err, tc.want)
			case !strings.HasPrefix(err.Error(), tc.at+": "):
				t.Errorf("error %q, want it to start with the position %s", err, tc.at)
			case !strings.Contains(err.Error(), " "+tc.limit+" "):
				t.Errorf("error %q does not name the limit %s", err, tc.limit)
			}
		})
	}
}

// astDepth is the depth of the tree Prometheus' parser builds for expr.
func astDepth(e parser.Expr) int {
	deepest := 0
	parser.Inspect(e, func(_ parser.Node, path []parser.Node) error {
		deepest = max(deepest, len(path)+1)
		return nil
	})
	return deepest
}

// FuzzCheck holds the count to what it promises: an upper bound of the
// depth of the parsed tree, so an expression Check lets through is never
// deeper than the limit.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"up", `sum by (job) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))`,
		"(up)[5m:1m]", "rate(up[5m])[10m:1m] offset 5m", "- - up", "1 + 2 * 3 ^ 4 or up",
		"clamp(a + b, c, d)", `label_replace(up, "a", "$1", "b", "(.*)")`, "up @ start()",
		"histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))", "((((1))))", "-(-(1))",
		"# comment\nup", "{__name__=~\"a.+\"} unless on(x) b", "topk(3, up) and bottomk(1, up)",
		"x[5m:1m][1h:5m]", "abs(-x)^2^3",
	} {
		f.Add(s)
	}
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, s string) {
		d := scan(s, math.MaxInt, math.MaxInt).depth
		if err := (Limits{MaxDepth: d}).Check(s); err != nil {
			t.Fatalf("Check(%q) with its own depth %d as the limit: %v", s, d, err)
		}
		if d > 1 {
			if err := (Limits{MaxDepth: d - 1}).Check(s); !errors.Is(err, ErrTooDeep) {
				t.Fatalf("Check(%q) with the limit %d: %v, want ErrTooDeep", s, d-1, err)
			}
		}
		if len(s) > 4096 {
			return // keep the parser's quadratic cost out of the fuzzer
		}
		e, err := p.ParseExpr(s)
		if err != nil {
			return
		}
		if a := astDepth(e); a > d {
			t.Errorf("%q parses to a tree %d deep; Check counted only %d", s, a, d)
		}
	})
}

// BenchmarkCheck measures the scan on an ordinary query and on hostile
// ones; BenchmarkParseNested shows what the parser costs at those depths,
// the reason for the limit.
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct{ name, expr string }{
		{"grafana query", `sum by (instance) (rate(node_cpu_seconds_total{job="node",mode!="idle"}[5m])) / on(instance) group_left count by (instance) (node_cpu_seconds_total{mode="idle"})`},
		{"parentheses 100000", nested("(", ")", "1", 100000)},
		{"4 MiB string", `up{a="` + strings.Repeat("x", 4<<20) + `"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.expr)))
			for b.Loop() {
				_ = Check(bc.expr)
			}
		})
	}
}

func BenchmarkParseNested(b *testing.B) {
	p := parser.NewParser(parser.Options{})
	// The costliest expression of its kind Check lets through: as many
	// arguments, each a chain of 990 operators in parentheses, as the cost
	// limit allows.
	b.Run("worst accepted", func(b *testing.B) {
		arg := "(" + strings.Repeat("1 + ", 990) + "1)"
		expr := ""
		for k := 1; ; k++ {
			next := `label_join(up, "a", "b"` + strings.Repeat(", "+arg, k) + ")"
			if Check(next) != nil {
				break
			}
			expr = next
		}
		b.ReportMetric(float64(scan(expr, math.MaxInt, math.MaxInt).cost()), "cost")
		for b.Loop() {
			_, _ = p.ParseExpr(expr) // a type error, after the full parse
		}
	})
	for _, n := range []int{100, DefaultMaxDepth, 5000, 20000} {
		for _, bc := range []struct{ name, expr string }{
			{"parentheses", nested("(", ")", "1", n)},
			{"additions", strings.Repeat("up + ", n) + "up"},
		} {
			b.Run(fmt.Sprintf("%s %d", bc.name, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := p.ParseExpr(bc.expr); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
