package exprdepth

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
)

// The limits fleetwatch applies to every PromQL expression a client sends.
// At these limits Prometheus' parser needs well under a second on one core;
// at 20,000 levels it needs about a second, at 100,000 minutes.
const (
	// DefaultMaxDepth bounds how deeply an expression nests (see Limits).
	DefaultMaxDepth = 1000
	// DefaultMaxCost bounds the number of tokens times the depth.
	DefaultMaxCost = 10_000_000
)

// Errors wrapped by Check.
var (
	ErrTooDeep    = errors.New("expression nested too deeply")
	ErrTooComplex = errors.New("expression too complex")
)

// Limits bound an expression before it is parsed.
//
// Depth counts levels: the expression itself, each open bracket — (, [ or
// { — and each operator (binary or unary, outside label matchers) within a
// bracket or function argument, since a chain of n operators is a tree n
// levels deep; an operand that is itself nested adds its own depth to the
// chain it stands in, and a range or subquery bracket also wraps what
// precedes it. The count is an upper bound of the depth of the tree
// Prometheus' parser builds (FuzzCheck holds it to that).
//
// Cost is the number of tokens (names, numbers, strings, operators,
// brackets, commas) times the depth: an upper bound of the work the
// parser's type checks do, which walk the tree below every node. It keeps
// a long expression from also being deep: one expression of 1,000 levels
// may have 10,000 tokens, one of 10 levels a million.
type Limits struct {
	// MaxDepth is the most levels allowed; 0 means DefaultMaxDepth.
	MaxDepth int
	// MaxCost is the most tokens × depth allowed; 0 means DefaultMaxCost.
	MaxCost int
}

// Check applies the default limits to expr.
func Check(expr string) error { return Limits{}.Check(expr) }

// Check returns an error wrapping ErrTooDeep or ErrTooComplex when expr
// passes one of l's limits. The error starts with the line:column where
// the limit was passed, as Prometheus' parse errors do, and names the
// limit. Brackets, quotes and # inside string literals and comments do not
// count: the scan uses Prometheus' own lexer.
//
// Check stops at the first token over a limit, so its cost is linear in
// the length of expr up to the offence. A lexing error or an unbalanced
// bracket ends the scan without an error: the parser reports those.
func (l Limits) Check(expr string) error {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxCost <= 0 {
		l.MaxCost = DefaultMaxCost
	}
	m := scan(expr, l.MaxDepth, l.MaxCost)
	at := func() string {
		return posrange.PositionRange{Start: posrange.Pos(m.pos)}.StartPosInput(expr, 0)
	}
	switch {
	case m.depth > l.MaxDepth:
		return fmt.Errorf("%s: %w: more than %d levels of brackets, function calls and operators (fleetwatch's limit: the PromQL parser slows down quadratically with depth)",
			at(), ErrTooDeep, l.MaxDepth)
	case m.cost() > l.MaxCost:
		return fmt.Errorf("%s: %w: %d tokens nested %d levels deep pass fleetwatch's limit of %d for tokens × depth (the PromQL parser's work grows with both): nest less or split the query",
			at(), ErrTooComplex, m.tokens, m.depth, l.MaxCost)
	}
	return nil
}

// measure is what scan found.
type measure struct {
	depth  int // the deepest the expression was seen to nest
	tokens int
	pos    int // byte offset of the token where a limit was passed
}

func (m measure) cost() int {
	if m.tokens > math.MaxInt/max(m.depth, 1) {
		return math.MaxInt
	}
	return m.tokens * m.depth
}

// frame is one open bracket (or the whole expression) as the scan sees
// it. In its current argument (since the bracket opened or its last
// comma): ops operators, and child, the height of the tallest bracket
// closed; args is the height of its tallest finished argument. prefix and
// below are fixed when the frame opens: the levels the open frames under
// it add on the way to it, Σ(1 + ops), and the tallest height bound of
// those frames' finished parts.
type frame struct {
	brace            bool // label matchers, whose = and != do not nest
	ops, child, args int
	prefix, below    int
}

// local bounds the height of the tree under the frame, leaving out an
// open bracket inside it.
func (f *frame) local() int { return 1 + max(f.args, f.ops+f.child) }

// bound bounds the height of the whole tree as far as it was read, when
// f is the innermost open frame.
func (f *frame) bound() int { return max(f.below, f.prefix+f.local()) }

// open returns the frame of a bracket opened inside f.
func (f *frame) open(brace bool) frame {
	return frame{brace: brace, prefix: f.prefix + 1 + f.ops, below: f.bound()}
}

// scan lexes expr and bounds the height of its tree: for every bracket,
// one plus its operators plus the taller of its brackets — the height of
// a tree with every operator on the path to the deepest bracket, which
// no tree of those tokens passes. It stops at the first token that takes
// the depth over maxDepth or the cost over maxCost.
func scan(expr string, maxDepth, maxCost int) measure {
	lex := parser.Lex(expr)
	stack := []frame{{}}
	m := measure{depth: 1}
	var it parser.Item
	for {
		lex.NextItem(&it)
		if it.Typ == parser.EOF || it.Typ == parser.ERROR {
			return m
		}
		top := &stack[len(stack)-1]
		switch typ := it.Typ; {
		case typ == parser.LEFT_BRACKET && !top.brace:
			// A range or subquery wraps what precedes it, as an
			// operator does, and opens a level of its own.
			top.ops++
			stack = append(stack, top.open(false))
		case typ == parser.LEFT_PAREN || typ == parser.LEFT_BRACKET || typ == parser.LEFT_BRACE:
			stack = append(stack, top.open(typ == parser.LEFT_BRACE))
		case typ == parser.RIGHT_PAREN || typ == parser.RIGHT_BRACKET || typ == parser.RIGHT_BRACE:
			if len(stack) == 1 {
				return m // unbalanced: the parser says so
			}
			h := top.local()
			stack = stack[:len(stack)-1]
			parent := &stack[len(stack)-1]
			parent.child = max(parent.child, h)
		case typ == parser.COMMA:
			top.args = max(top.args, top.ops+top.child)
			top.ops, top.child = 0, 0
		case typ.IsOperator() && !top.brace:
			top.ops++
		}
		m.tokens++
		m.depth = max(m.depth, stack[len(stack)-1].bound())
		if m.depth > maxDepth || m.cost() > maxCost {
			m.pos = int(it.Pos)
			return m
		}
	}
}
