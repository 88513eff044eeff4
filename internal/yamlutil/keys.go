package yamlutil

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Wording chooses how CheckKeys words an unknown key. Every wording starts
// with `line N:`; the caller's FormatError or file prefix does the rest.
type Wording int

const (
	// UnknownNounKey: `line 3: unknown scrape config key "tls_config.ca"`.
	UnknownNounKey Wording = iota
	// NounUnknownKey: `line 3: pagerduty config: unknown key "tls_config.ca"`.
	NounUnknownKey
	// UnknownField: `line 3: tls_config.ca: unknown field`, the words
	// FormatError gives yaml.v3's own KnownFields errors.
	UnknownField
)

// DefaultSecretRule completes "secrets …" in the message for an inline
// secret when KeyOptions.SecretRule is empty.
const DefaultSecretRule = "are not written in the config"

// KeyOptions say how CheckKeys names what it refuses.
type KeyOptions struct {
	// Noun names the block in messages: "scrape config", "snmp auth".
	// UnknownField messages do without it.
	Noun string
	// Wording chooses the words of an unknown-key message. A refused
	// secret reads `line N: path: secrets <SecretRule>, use <Use>`, with
	// `Noun: ` before the path under NounUnknownKey.
	Wording Wording
	// Prefix is the path of the checked node inside a larger document
	// ("receivers[2]"); it starts every key path in messages. A trailing
	// dot is allowed.
	Prefix string
	// Secrets maps the path of a key that would hold a secret written
	// inline ("basic_auth.password", relative to the checked node, without
	// Prefix) to the key or keys to use instead ("basic_auth.password_file").
	// Such a key is refused with a pointer to them rather than as unknown.
	// Only keys that are not fields are looked up.
	Secrets map[string]string
	// SecretRule completes "secrets …" in the message for an inline
	// secret: "are only read from files". Default DefaultSecretRule.
	SecretRule string
}

// KeyError is a key CheckKeys refuses. Use errors.As to reach it.
type KeyError struct {
	// Line is the key's line, 1-based.
	Line int
	// Key is the key's path: Prefix, struct fields joined by dots, list
	// items as [i], map entries by their key ("tls_config.ca",
	// "targets[2].labels").
	Key string
	// Use is, for an inline secret, the key or keys to use instead; empty
	// for an unknown key.
	Use string

	msg string
}

func (e *KeyError) Error() string { return e.msg }

// CheckKeys reports the first key below node, in document order, that
// decoding node into a value of type t would not use: yaml.v3's
// KnownFields(true) for types whose UnmarshalYAML decodes a plain copy of
// themselves, which the decoder option does not reach.
//
// Keys follow yaml.v3's rules: the yaml tag's name, else the lower-cased
// field name; unexported fields and `yaml:"-"` are not keys; `,inline`
// structs (or pointers to them) add their keys, an `,inline` map accepts
// any key. CheckKeys descends through pointers, structs, slices, arrays,
// map values, aliases and `<<` merge keys. It does not descend into a type
// that has its own UnmarshalYAML (other than t itself): that type checks
// its own keys when it is decoded. A node of the wrong kind for its type
// (a list where a struct belongs) is left to the decoder to report, and so
// are duplicate keys. A null key (`~:` or an empty key), which the decoder
// drops without a word, and a list or mapping used as a key of a struct or
// of a map with string keys, are refused like an unknown key.
//
// The error is a *KeyError; its message starts with `line N:`.
func CheckKeys(node *yaml.Node, t reflect.Type, o KeyOptions) error {
	if node == nil || t == nil {
		return nil
	}
	w := &keyWalker{o: o, structs: map[reflect.Type]*structKeys{}, seen: map[seenKey]bool{}}
	return w.walk(node, t, strings.TrimSuffix(o.Prefix, "."), "")
}

type keyWalker struct {
	o       KeyOptions
	structs map[reflect.Type]*structKeys
	// seen holds the anchored nodes already checked against a type, so
	// that a document which reuses an anchor many times (or a merge that
	// refers back to its own mapping) is walked once per type.
	seen map[seenKey]bool
}

type seenKey struct {
	n *yaml.Node
	t reflect.Type
}

// walk checks n against t. path is the key path for messages (with
// Prefix), rel the one Secrets are looked up with (without).
func (w *keyWalker) walk(n *yaml.Node, t reflect.Type, path, rel string) error {
	n = w.resolve(n, t)
	if n == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == reflect.TypeFor[yaml.Node]() {
			return nil
		}
		return w.mapping(n, t, path, rel, w.structKeys(t))
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		return w.mapping(n, t, path, rel, nil)
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, c := range n.Content {
			idx := "[" + strconv.Itoa(i) + "]"
			if err := w.value(c, t.Elem(), path+idx, rel+idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve follows documents and aliases. It returns nil for a node already
// checked against t through another alias.
func (w *keyWalker) resolve(n *yaml.Node, t reflect.Type) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode:
			n = n.Alias
			if n == nil {
				return nil
			}
			k := seenKey{n, t}
			if w.seen[k] {
				return nil
			}
			w.seen[k] = true
		default:
			return n
		}
	}
	return nil
}

// mapping checks the entries of mapping n: against the fields in sk for a
// struct, against t's element type for a map (sk nil).
func (w *keyWalker) mapping(n *yaml.Node, t reflect.Type, path, rel string, sk *structKeys) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			if err := w.merge(v, t, path, rel); err != nil {
				return err
			}
			continue
		}
		name, ok := keyName(k)
		if !ok && sk == nil && t.Key().Kind() != reflect.String {
			continue // a list or mapping may be a key of a map[any]….
		}
		kp, kr := join(path, name), join(rel, name)
		if !ok {
			// yaml.v3 cannot use it and may even panic on it in a merge.
			return w.refuse(k, kp, kr)
		}
		var vt reflect.Type
		switch {
		case sk == nil:
			vt = t.Elem()
		case sk.keys[name] != nil:
			vt = sk.keys[name]
		case sk.inlineMap != nil:
			vt = sk.inlineMap.Elem()
		default:
			return w.refuse(k, kp, kr)
		}
		if err := w.value(v, vt, kp, kr); err != nil {
			return err
		}
	}
	return nil
}

// merge checks the value of a `<<` key: a mapping, or a list of mappings,
// merged into a value of type t.
func (w *keyWalker) merge(v *yaml.Node, t reflect.Type, path, rel string) error {
	if v.Kind == yaml.SequenceNode {
		for _, c := range v.Content {
			if err := w.walk(c, t, path, rel); err != nil {
				return err
			}
		}
		return nil
	}
	return w.walk(v, t, path, rel)
}

// value checks the value of a key or item, unless its type decodes itself.
func (w *keyWalker) value(n *yaml.Node, t reflect.Type, path, rel string) error {
	if decodesItself(t) {
		return nil
	}
	return w.walk(n, t, path, rel)
}

func (w *keyWalker) refuse(k *yaml.Node, path, rel string) error {
	o := w.o
	if use, ok := o.Secrets[rel]; ok {
		rule := o.SecretRule
		if rule == "" {
			rule = DefaultSecretRule
		}
		head := path
		if o.Wording == NounUnknownKey && o.Noun != "" {
			head = o.Noun + ": " + path
		}
		return &KeyError{Line: k.Line, Key: path, Use: use,
			msg: fmt.Sprintf("line %d: %s: secrets %s, use %s", k.Line, head, rule, use)}
	}
	var msg string
	switch o.Wording {
	case NounUnknownKey:
		if o.Noun == "" {
			msg = fmt.Sprintf("unknown key %q", path)
		} else {
			msg = fmt.Sprintf("%s: unknown key %q", o.Noun, path)
		}
	case UnknownField:
		msg = path + ": unknown field"
	default:
		if o.Noun == "" {
			msg = fmt.Sprintf("unknown key %q", path)
		} else {
			msg = fmt.Sprintf("unknown %s key %q", o.Noun, path)
		}
	}
	return &KeyError{Line: k.Line, Key: path, msg: fmt.Sprintf("line %d: %s", k.Line, msg)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyName is the string a scalar key decodes to (through an alias), as
// yaml.v3 decodes it to look the field up: the text, except for tags such
// as !!binary. A key that decodes to "" (null) is named by its text. ok is
// false for a list or mapping used as a key, named "[…]" or "{…}".
func keyName(k *yaml.Node) (name string, ok bool) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	switch k.Kind {
	case yaml.ScalarNode:
	case yaml.SequenceNode:
		return "[…]", false
	default:
		return "{…}", false
	}
	if k.ShortTag() == "!!str" {
		return k.Value, true
	}
	var s string
	if err := k.Decode(&s); err != nil || s == "" {
		return k.Value, true
	}
	return s, true
}

// isMerge is yaml.v3's test for a `<<` merge key.
func isMerge(k *yaml.Node) bool {
	if k.Kind != yaml.ScalarNode || k.Value != "<<" {
		return false
	}
	switch k.Tag {
	case "", "!", "!!merge", "tag:yaml.org,2002:merge":
		return true
	}
	return false
}

// obsoleteUnmarshaler is yaml.v2's Unmarshaler, which yaml.v3 still calls.
type obsoleteUnmarshaler interface {
	UnmarshalYAML(unmarshal func(any) error) error
}

// decodesItself reports whether yaml.v3 hands a value of type t (after
// pointers) to its own UnmarshalYAML, or keeps it as a yaml.Node.
func decodesItself(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[yaml.Node]() {
		return true
	}
	pt := reflect.PointerTo(t)
	return pt.Implements(reflect.TypeFor[yaml.Unmarshaler]()) || pt.Implements(reflect.TypeFor[obsoleteUnmarshaler]())
}

// structKeys are the keys a struct type accepts, by yaml.v3's rules.
type structKeys struct {
	keys      map[string]reflect.Type
	inlineMap reflect.Type // the type of an `,inline` map field, or nil
}

func (w *keyWalker) structKeys(t reflect.Type) *structKeys {
	if sk, ok := w.structs[t]; ok {
		return sk
	}
	sk := &structKeys{keys: map[string]reflect.Type{}}
	w.structs[t] = sk
	addStructKeys(sk, t, map[reflect.Type]bool{})
	return sk
}

func addStructKeys(sk *structKeys, t reflect.Type, inlined map[reflect.Type]bool) {
	if inlined[t] {
		return
	}
	inlined[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok, inline := yamlKey(f)
		if !ok {
			continue
		}
		if !inline {
			sk.keys[name] = f.Type
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Map:
			sk.inlineMap = ft
		case ft.Kind() == reflect.Struct && decodesItself(ft):
			// yaml.v3 hands the whole mapping to an inline unmarshaler
			// as well; it checks what it reads, so any key may be its.
			sk.inlineMap = reflect.TypeFor[map[string]any]()
		case ft.Kind() == reflect.Struct:
			addStructKeys(sk, ft, inlined)
		}
	}
}

// yamlKey is the key of field f under yaml.v3's rules; ok is false for a
// field that is no key (unexported, or tagged "-").
func yamlKey(f reflect.StructField) (name string, ok, inline bool) {
	if !f.IsExported() && !f.Anonymous {
		return "", false, false
	}
	tag := f.Tag.Get("yaml")
	if tag == "" && !strings.Contains(string(f.Tag), ":") {
		tag = string(f.Tag)
	}
	if tag == "-" {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	for opt := range strings.SplitSeq(opts, ",") {
		inline = inline || opt == "inline"
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, true, inline
}
