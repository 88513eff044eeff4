package yamlutil

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// FormatError rewrites err from decoding file. Errors that carry no line
// are prefixed with the file name only; see DecodeError for those.
func FormatError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			lines = append(lines, formatLine(file, e))
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	return errors.New(formatLine(file, strings.TrimPrefix(err.Error(), "yaml: ")))
}

func formatLine(file, msg string) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Sprintf("%s: %s", file, msg)
	}
	if u := unknownRE.FindStringSubmatch(m[2]); u != nil {
		return fmt.Sprintf("%s:%s: %s: unknown field", file, m[1], u[1])
	}
	return fmt.Sprintf("%s:%s: %s", file, m[1], m[2])
}

// KeyLine returns the line of key in mapping node n, or n's own line when
// the key is absent.
func KeyLine(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// HasKey reports whether mapping node n (or the document it holds) has key.
func HasKey(n *yaml.Node, key string) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// Locate finds the line of the node that fails to decode into a value of
// type t. yaml.v3 gives no line for errors returned by custom unmarshalers
// (durations, byte sizes, regexps, …), so this decodes the document again
// piece by piece and returns the line of the deepest piece that fails, or 0.
func Locate(n *yaml.Node, t reflect.Type) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return 0
		}
		n = n.Content[0]
	}
	if decodes(n, t) {
		return 0
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fieldType(t, n.Content[i].Value); ok {
				if line := Locate(n.Content[i+1], ft); line > 0 {
					return line
				}
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if line := Locate(n.Content[i+1], t.Elem()); line > 0 {
				return line
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, c := range n.Content {
			if line := Locate(c, t.Elem()); line > 0 {
				return line
			}
		}
	}
	return n.Line
}

func decodes(n *yaml.Node, t reflect.Type) bool {
	v := reflect.New(t)
	return n.Decode(v.Interface()) == nil
}

// fieldType returns the type of t's field whose yaml name is key, looking
// into inline fields.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	sk := &structKeys{keys: map[string]reflect.Type{}}
	addStructKeys(sk, t, map[reflect.Type]bool{})
	ft, ok := sk.keys[key]
	return ft, ok
}

// DecodeError is FormatError plus, for an error that carries no line, the
// line Locate finds for decoding root into a value of type t.
func DecodeError(file string, root *yaml.Node, t reflect.Type, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) || lineRE.MatchString(strings.TrimPrefix(err.Error(), "yaml: ")) {
		return FormatError(file, err)
	}
	if line := Locate(root, t); line > 0 {
		return fmt.Errorf("%s:%d: %s", file, line, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return FormatError(file, err)
}
