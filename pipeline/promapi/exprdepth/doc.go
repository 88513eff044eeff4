// Package exprdepth bounds how deeply a PromQL expression nests before it
// reaches Prometheus' parser. The parser (promql/parser, v0.316.0) has no
// depth option, and its type checks walk the tree below every node, so a
// request of 100,000 nested parentheses or chained operators costs minutes
// of CPU before any query timeout applies. Check scans the expression with
// Prometheus' own lexer (linear time, string literals and comments handled
// as the parser handles them) and refuses it when the estimated depth of
// its syntax tree passes a limit.
//
// What it must not do: parse or evaluate the expression, judge its syntax
// (a malformed expression within the limit is left to the parser, which
// reports the real error), or keep any state.
package exprdepth
