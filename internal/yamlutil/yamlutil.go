// Package yamlutil turns yaml.v3's decoding errors into fleetwatch's error
// format, `file:line: field: problem`, one line per problem, so every config
// and inventory error points at the line to fix.
package yamlutil

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// FormatError rewrites err from decoding file. Errors that carry no line
// are prefixed with the file name only.
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
