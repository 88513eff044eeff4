package yamlutil

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The types below have no UnmarshalYAML of their own (except selfDecoding
// and oldDecoding), so yaml.v3's KnownFields(true) is an oracle for them.

type tlsT struct {
	CAFile  string `yaml:"ca_file"`
	KeyFile string `yaml:"key_file,omitempty"`
}

type authT struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

type targetT struct {
	Address string            `yaml:"address"`
	Labels  map[string]string `yaml:"labels"`
	TLS     *tlsT             `yaml:"tls_config"`
}

type BaseT struct {
	Region string `yaml:"region"`
	Rack   string `yaml:"rack"`
}

type cfgT struct {
	Name      string           `yaml:"name,omitempty"`
	Timeout   time.Duration    `yaml:"timeout"`
	TLS       tlsT             `yaml:"tls_config"`
	BasicAuth *authT           `yaml:"basic_auth"`
	Targets   []targetT        `yaml:"targets"`
	Pointers  []*tlsT          `yaml:"pointers"`
	Groups    map[string]tlsT  `yaml:"groups"`
	Nested    [][]authT        `yaml:"nested"`
	Since     time.Time        `yaml:"since"`
	Any       any              `yaml:"any"`
	Values    map[string][]int `yaml:"values"`
	BaseT     `yaml:",inline"`
	Skipped   string `yaml:"-"`
	Untagged  int
	unexposed string //nolint:unused // not a key: unexported
}

type withSelf struct {
	Self selfDecoding   `yaml:"self"`
	Old  *oldDecoding   `yaml:"old"`
	Raw  yaml.Node      `yaml:"raw"`
	List []selfDecoding `yaml:"list"`
}

// selfDecoding accepts any mapping: CheckKeys must leave it alone.
type selfDecoding struct{ got map[string]any }

func (s *selfDecoding) UnmarshalYAML(n *yaml.Node) error { return n.Decode(&s.got) }

// oldDecoding has yaml.v2's UnmarshalYAML, which yaml.v3 still calls.
type oldDecoding struct{ got map[string]any }

func (o *oldDecoding) UnmarshalYAML(unmarshal func(any) error) error { return unmarshal(&o.got) }

type withInlineMap struct {
	Name  string         `yaml:"name"`
	Extra map[string]int `yaml:",inline"`
}

type withInlinePointer struct {
	*BaseT `yaml:",inline"`
	Name   string `yaml:"name"`
}

type withInlineSelf struct {
	Name         string `yaml:"name"`
	selfDecoding `yaml:",inline"`
}

func parse(t testing.TB, in string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(in), &n); err != nil {
		t.Fatalf("parse %q: %v", in, err)
	}
	return &n
}

func TestCheckKeys(t *testing.T) {
	cfg := reflect.TypeFor[cfgT]()
	scrapeLike := KeyOptions{
		Noun:       "scrape config",
		Secrets:    map[string]string{"basic_auth.password": "basic_auth.password_file", "bearer_token": "bearer_token_file"},
		SecretRule: "are only read from files",
	}
	pagerdutyLike := KeyOptions{
		Noun:    "pagerduty config",
		Wording: NounUnknownKey,
		Secrets: map[string]string{"routing_key": "routing_key_file or routing_key_env"},
	}
	for _, tc := range []struct {
		name string
		in   string
		t    reflect.Type
		o    KeyOptions
		// want is the whole message; "" means no error.
		want     string
		wantKey  string
		wantLine int
		wantUse  string
	}{
		{name: "known keys", in: "name: a\ntimeout: 5s\ntls_config: {ca_file: x, key_file: y}\nbasic_auth: {username: u}\n", t: cfg, o: scrapeLike},
		{name: "empty document", in: "", t: cfg, o: scrapeLike},
		{name: "null document", in: "~\n", t: cfg, o: scrapeLike},
		{name: "unknown top-level key", in: "name: a\nscrape_intervall: 10s\n", t: cfg, o: scrapeLike,
			want: `line 2: unknown scrape config key "scrape_intervall"`, wantKey: "scrape_intervall", wantLine: 2},
		{name: "unknown nested key", in: "tls_config:\n  ca: x\n", t: cfg, o: scrapeLike,
			want: `line 2: unknown scrape config key "tls_config.ca"`, wantKey: "tls_config.ca", wantLine: 2},
		{name: "unknown key under a pointer", in: "basic_auth:\n  username: u\n  pasword_file: p\n", t: cfg, o: scrapeLike,
			want: `line 3: unknown scrape config key "basic_auth.pasword_file"`, wantKey: "basic_auth.pasword_file", wantLine: 3},
		{name: "first unknown key in document order", in: "a: 1\nb: 2\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "a"`, wantKey: "a", wantLine: 1},
		{name: "nested inline secret", in: "basic_auth:\n  username: u\n  password: hunter2\n", t: cfg, o: scrapeLike,
			want: "line 3: basic_auth.password: secrets are only read from files, use basic_auth.password_file", wantKey: "basic_auth.password", wantLine: 3, wantUse: "basic_auth.password_file"},
		{name: "secret path is exact", in: "password: hunter2\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "password"`, wantKey: "password", wantLine: 1},
		{name: "secret with the noun first and the default rule", in: "routing_key: abc\n", t: cfg, o: pagerdutyLike,
			want: "line 1: pagerduty config: routing_key: secrets are not written in the config, use routing_key_file or routing_key_env", wantKey: "routing_key", wantLine: 1, wantUse: "routing_key_file or routing_key_env"},
		{name: "noun first", in: "name: a\nsevertiy: critical\n", t: cfg, o: pagerdutyLike,
			want: `line 2: pagerduty config: unknown key "severtiy"`, wantKey: "severtiy", wantLine: 2},
		{name: "unknown field wording", in: "targets:\n- address: a\n  tls_config:\n    ca: x\n", t: cfg, o: KeyOptions{Wording: UnknownField},
			want: "line 4: targets[0].tls_config.ca: unknown field", wantKey: "targets[0].tls_config.ca", wantLine: 4},
		{name: "no noun", in: "x: 1\n", t: cfg, o: KeyOptions{},
			want: `line 1: unknown key "x"`, wantKey: "x", wantLine: 1},
		{name: "no noun, noun first", in: "x: 1\n", t: cfg, o: KeyOptions{Wording: NounUnknownKey},
			want: `line 1: unknown key "x"`, wantKey: "x", wantLine: 1},
		{name: "prefix", in: "tls_config: {cert: x}\n", t: cfg, o: KeyOptions{Noun: "job", Prefix: "jobs[2]"},
			want: `line 1: unknown job key "jobs[2].tls_config.cert"`, wantKey: "jobs[2].tls_config.cert", wantLine: 1},
		{name: "prefix with a trailing dot", in: "x: 1\n", t: cfg, o: KeyOptions{Wording: UnknownField, Prefix: "jobs[2]."},
			want: "line 1: jobs[2].x: unknown field", wantKey: "jobs[2].x", wantLine: 1},
		{name: "secrets are looked up without the prefix", in: "basic_auth: {password: x}\n", t: cfg,
			o:    KeyOptions{Noun: "scrape config", Prefix: "scrape", Secrets: scrapeLike.Secrets, SecretRule: "are only read from files"},
			want: "line 1: scrape.basic_auth.password: secrets are only read from files, use basic_auth.password_file", wantKey: "scrape.basic_auth.password", wantLine: 1, wantUse: "basic_auth.password_file"},
		{name: "a secret key that is a field is a field", in: "username: u\n", t: reflect.TypeFor[authT](), o: KeyOptions{Secrets: map[string]string{"username": "x"}}},
		{name: "list of structs", in: "targets:\n- address: a\n- adress: b\n", t: cfg, o: scrapeLike,
			want: `line 3: unknown scrape config key "targets[1].adress"`, wantKey: "targets[1].adress", wantLine: 3},
		{name: "list of pointers", in: "pointers:\n- ca_file: a\n- null\n- {kye_file: b}\n", t: cfg, o: scrapeLike,
			want: `line 4: unknown scrape config key "pointers[2].kye_file"`, wantKey: "pointers[2].kye_file", wantLine: 4},
		{name: "list of lists", in: "nested:\n- - username: a\n  - usr: b\n", t: cfg, o: scrapeLike,
			want: `line 3: unknown scrape config key "nested[0][1].usr"`, wantKey: "nested[0][1].usr", wantLine: 3},
		{name: "map of structs", in: "groups:\n  east: {ca_file: a}\n  west:\n    ca: b\n", t: cfg, o: scrapeLike,
			want: `line 4: unknown scrape config key "groups.west.ca"`, wantKey: "groups.west.ca", wantLine: 4},
		{name: "map keys are free", in: "groups: {any name: {}}\nvalues: {x: [1, 2]}\ntargets: [{labels: {whatever: x}}]\n", t: cfg, o: scrapeLike},
		{name: "root map type", in: "core:\n  username: u\n  pasword: x\n", t: reflect.TypeFor[map[string]authT](), o: KeyOptions{Noun: "snmp auth"},
			want: `line 3: unknown snmp auth key "core.pasword"`, wantKey: "core.pasword", wantLine: 3},
		{name: "root pointer type", in: "username: u\nx: 1\n", t: reflect.TypeFor[*authT](), o: KeyOptions{},
			want: `line 2: unknown key "x"`, wantKey: "x", wantLine: 2},
		{name: "inline struct keys", in: "name: a\nregion: eu\nrack: r1\n", t: cfg, o: scrapeLike},
		{name: "inline struct's name is no key", in: "baset: {region: eu}\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "baset"`, wantKey: "baset", wantLine: 1},
		{name: "inline pointer keys", in: "name: a\nregion: eu\nzone: z\n", t: reflect.TypeFor[withInlinePointer](), o: KeyOptions{},
			want: `line 3: unknown key "zone"`, wantKey: "zone", wantLine: 3},
		{name: "inline map takes any key", in: "name: a\nextra: 1\nmore: 2\n", t: reflect.TypeFor[withInlineMap](), o: KeyOptions{}},
		{name: "inline unmarshaler takes any key", in: "name: a\nextra: 1\n", t: reflect.TypeFor[withInlineSelf](), o: KeyOptions{}},
		{name: "dash field is no key", in: "skipped: x\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "skipped"`, wantKey: "skipped", wantLine: 1},
		{name: "unexported field is no key", in: "unexposed: x\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "unexposed"`, wantKey: "unexposed", wantLine: 1},
		{name: "untagged field is its lower-case name", in: "untagged: 1\n", t: cfg, o: scrapeLike},
		{name: "untagged field's Go name is no key", in: "Untagged: 1\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "Untagged"`, wantKey: "Untagged", wantLine: 1},
		{name: "types with their own UnmarshalYAML are left alone", in: "self: {anything: 1}\nold: {anything: 2}\nraw: {anything: 3}\nlist: [{anything: 4}]\n", t: reflect.TypeFor[withSelf](), o: KeyOptions{}},
		{name: "the root is checked even when it has UnmarshalYAML", in: "anything: 1\n", t: reflect.TypeFor[selfDecoding](), o: KeyOptions{},
			want: `line 1: unknown key "anything"`, wantKey: "anything", wantLine: 1},
		{name: "interface field takes anything", in: "any: {a: {b: 1}}\n", t: cfg, o: scrapeLike},
		{name: "a time is no mapping", in: "since: {year: 2024}\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "since.year"`, wantKey: "since.year", wantLine: 1},
		{name: "wrong node kind is left to the decoder", in: "tls_config: [a, b]\ntargets: {a: 1}\ngroups: [x]\n", t: cfg, o: scrapeLike},
		{name: "scalar root is left to the decoder", in: "just text\n", t: cfg, o: scrapeLike},
		{name: "alias to a mapping with an unknown key", in: "groups:\n  east: &t {ca_file: a}\n  west: &u {ca: b}\ntls_config: *u\n", t: cfg, o: scrapeLike,
			want: `line 3: unknown scrape config key "groups.west.ca"`, wantKey: "groups.west.ca", wantLine: 3},
		{name: "alias checked against another type", in: "groups:\n  east: &t {ca_file: a}\nbasic_auth: *t\n", t: cfg, o: scrapeLike,
			want: `line 2: unknown scrape config key "basic_auth.ca_file"`, wantKey: "basic_auth.ca_file", wantLine: 2},
		{name: "alias key", in: "groups:\n  &k ca_file : {ca_file: a}\ntls_config: {*k : b}\n", t: cfg, o: scrapeLike},
		{name: "merge key", in: "groups:\n  east: &t {ca_file: a}\ntls_config:\n  <<: *t\n  key_file: b\n", t: cfg, o: scrapeLike},
		{name: "merge of a list", in: "groups:\n  east: &t {ca_file: a}\n  west: &u {key_file: b}\ntls_config: {<<: [*t, *u]}\n", t: cfg, o: scrapeLike},
		{name: "map of maps of structs", in: "groups:\n  east: &t {ca: a}\n", t: reflect.TypeFor[map[string]map[string]tlsT](), o: KeyOptions{Noun: "tls"},
			want: `line 2: unknown tls key "groups.east.ca"`, wantKey: "groups.east.ca", wantLine: 2},
		{name: "merge from elsewhere brings its unknown keys", in: "any: &t {address: a, port: 1}\ntargets:\n- <<: *t\n", t: cfg, o: KeyOptions{Wording: UnknownField},
			want: "line 1: targets[0].port: unknown field", wantKey: "targets[0].port", wantLine: 1},
		{name: "quoted << is a plain key", in: "\"<<\": {ca_file: a}\n", t: reflect.TypeFor[tlsT](), o: KeyOptions{},
			want: `line 1: unknown key "<<"`, wantKey: "<<", wantLine: 1},
		{name: "binary key decodes to its text", in: "!!binary Y2FfZmlsZQ==: a\n", t: reflect.TypeFor[tlsT](), o: KeyOptions{}},
		{name: "mapping as a key", in: "tls_config: {{a: 1}: x}\n", t: cfg, o: scrapeLike,
			want: `line 1: unknown scrape config key "tls_config.{…}"`, wantKey: "tls_config.{…}", wantLine: 1},
		{name: "alias to a list as a key", in: "any: &l [a]\ngroups: {*l : {}}\n", t: cfg, o: scrapeLike,
			want: `line 2: unknown scrape config key "groups.[…]"`, wantKey: "groups.[…]", wantLine: 2},
		{name: "mapping as a key of a map[any]", in: "{a: 1}: x\n", t: reflect.TypeFor[map[any]string](), o: KeyOptions{}},
		{name: "null key, which the decoder drops", in: "~: a\n", t: reflect.TypeFor[tlsT](), o: KeyOptions{},
			want: `line 1: unknown key "~"`, wantKey: "~", wantLine: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeys(parse(t, tc.in), tc.t, tc.o)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckKeys = %v, want no error", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("CheckKeys = %v, want %q", err, tc.want)
			}
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error %T is not a *KeyError", err)
			}
			if ke.Key != tc.wantKey || ke.Line != tc.wantLine || ke.Use != tc.wantUse {
				t.Errorf("KeyError{Key: %q, Line: %d, Use: %q}, want {%q, %d, %q}", ke.Key, ke.Line, ke.Use, tc.wantKey, tc.wantLine, tc.wantUse)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the message shows the secret: %v", err)
			}
		})
	}
}

func TestCheckKeysNilArguments(t *testing.T) {
	if err := CheckKeys(nil, reflect.TypeFor[cfgT](), KeyOptions{}); err != nil {
		t.Errorf("nil node: %v", err)
	}
	if err := CheckKeys(parse(t, "a: 1"), nil, KeyOptions{}); err != nil {
		t.Errorf("nil type: %v", err)
	}
}

// TestCheckKeysInsideUnmarshalYAML is the use CheckKeys is for: a type
// whose UnmarshalYAML fills defaults and decodes a plain copy of itself,
// nested in a document decoded without KnownFields.
func TestCheckKeysInsideUnmarshalYAML(t *testing.T) {
	var doc struct {
		Jobs []defaulted `yaml:"jobs"`
	}
	err := yaml.Unmarshal([]byte("jobs:\n- name: a\n- name: b\n  tls_config: {ca_fle: x}\n"), &doc)
	if err == nil || err.Error() != `line 4: unknown job key "tls_config.ca_fle"` {
		t.Fatalf("Unmarshal = %v", err)
	}
	if err := yaml.Unmarshal([]byte("jobs:\n- name: a\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Jobs) != 1 || doc.Jobs[0].Name != "a" || doc.Jobs[0].Timeout != time.Second {
		t.Errorf("jobs = %+v, want one named a with the default timeout", doc.Jobs)
	}
}

type defaulted struct {
	Name    string        `yaml:"name"`
	Timeout time.Duration `yaml:"timeout"`
	TLS     tlsT          `yaml:"tls_config"`
}

func (d *defaulted) UnmarshalYAML(n *yaml.Node) error {
	*d = defaulted{Timeout: time.Second}
	if err := CheckKeys(n, reflect.TypeFor[defaulted](), KeyOptions{Noun: "job"}); err != nil {
		return err
	}
	type plain defaulted
	return n.Decode((*plain)(d))
}

// TestCheckKeysManyAliases: a document that reuses anchors exponentially
// (2^40 paths to the first mapping) is walked once per anchor, so this
// returns at all.
func TestCheckKeysManyAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("l0: &a0 {address: x, tls_config: {ca_file: y}}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "l%d: &a%d {list: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("top: {list: [*a40, {address: z, bad: 1}]}\n")
	err := CheckKeys(parse(t, b.String()), reflect.TypeFor[map[string]nestedItem](), KeyOptions{})
	if err == nil || err.Error() != `line 42: unknown key "top.list[1].bad"` {
		t.Fatalf("CheckKeys = %v", err)
	}
}

// nestedItem is a target that may hold more of them.
type nestedItem struct {
	targetT `yaml:",inline"`
	List    []nestedItem
}

// TestCheckKeysAgreesWithKnownFields compares CheckKeys with yaml.v3's
// decoder option on types without their own UnmarshalYAML: a key is
// refused by one exactly when it is refused by the other.
func TestCheckKeysAgreesWithKnownFields(t *testing.T) {
	for _, in := range agreementInputs() {
		t.Run(in, func(t *testing.T) { agrees(t, in) })
	}
}

func agreementInputs() []string {
	return []string{
		"name: a\n",
		"name: a\nbogus: 1\n",
		"tls_config: {ca_file: a, ca: b}\n",
		"targets: [{address: a, tls_config: {key_file: k}}, {adress: b}]\n",
		"groups: {a: {ca_file: x}, b: {cafile: y}}\n",
		"nested: [[{username: a}], [{user: b}]]\n",
		"region: eu\nrack: r\n",
		"Untagged: 1\n",
		"skipped: 1\n",
		"since: {year: 1}\n",
		"base: &b {ca_file: a}\ntls_config: {<<: *b, key_file: k}\n",
		"base: &b {ca_file: a, x: 1}\ntls_config: {<<: *b}\n",
		"tls_config: &t {ca_file: a}\npointers: [*t, *t, {<<: *t}]\n",
		"any: {whatever: 1}\nvalues: {a: [1]}\n",
		"basic_auth: null\ntargets: ~\n",
		"tls_config: [1]\n",
	}
}

type agreeT struct {
	cfgT `yaml:",inline"`
	Base any `yaml:"base"`
}

func agrees(t *testing.T, in string) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(in), &n); err != nil {
		return
	}
	got := CheckKeys(&n, reflect.TypeFor[agreeT](), KeyOptions{})

	derr, panicked := decodeKnownFields(in)
	if panicked {
		// yaml.v3 v3.0.1 panics on some merges (a mapping used as a key
		// next to `<<`); CheckKeys must have refused such a document.
		if got == nil {
			t.Fatalf("the decoder panics on this document and CheckKeys lets it through:\n%s", in)
		}
		return
	}
	var te *yaml.TypeError
	if derr != nil && !errors.As(derr, &te) {
		return // a failure of another kind (merge of a scalar, …): no verdict on keys
	}
	refused := false
	if te != nil {
		for _, e := range te.Errors {
			if strings.Contains(e, " already defined at line ") {
				return // a duplicate key: the decoder stops before looking at fields
			}
			refused = refused || strings.Contains(e, " not found in type ")
		}
	}
	if got != nil && !refused && (hasNullKey(&n) || hasNonScalarKey(&n)) {
		// CheckKeys refuses the null keys the decoder drops silently, and
		// lists or mappings as keys, which the decoder reports otherwise.
		refused = true
	}
	if refused != (got != nil) {
		t.Fatalf("CheckKeys = %v, but the decoder with KnownFields says %v for:\n%s", got, derr, in)
	}
	if got == nil {
		return
	}
	var ke *KeyError
	if !errors.As(got, &ke) || ke.Line < 1 || got.Error() != fmt.Sprintf("line %d: unknown key %q", ke.Line, ke.Key) {
		t.Fatalf("CheckKeys = %#v: want a *KeyError naming its line and key", got)
	}
}

func decodeKnownFields(in string) (err error, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(in)))
	dec.KnownFields(true)
	var v agreeT
	return dec.Decode(&v), false
}

// hasNullKey reports whether a mapping below n has a null key.
func hasNullKey(n *yaml.Node) bool {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].ShortTag() == "!!null" {
				return true
			}
		}
	}
	for _, c := range n.Content {
		if hasNullKey(c) {
			return true
		}
	}
	return false
}

// hasNonScalarKey reports whether a mapping below n has a list or
// mapping as a key.
func hasNonScalarKey(n *yaml.Node) bool {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return true
			}
		}
	}
	for _, c := range n.Content {
		if hasNonScalarKey(c) {
			return true
		}
	}
	return false
}

func FuzzCheckKeys(f *testing.F) {
	for _, in := range agreementInputs() {
		f.Add(in)
	}
	f.Add("groups:\n  east: &t {ca_file: a}\ntls_config:\n  <<: *t\n  key_file: b\n")
	f.Add("!!binary Y2FfZmlsZQ==: a\n~: b\n\"<<\": c\n")
	f.Add("targets:\n- &t {address: a, tls_config: {ca: x}}\n- <<: [*t, {labels: {a: b}}]\n")
	f.Fuzz(agrees)
}

// BenchmarkCheckKeys checks a config of the size a scrape job has, and one
// with 1,000 targets.
func BenchmarkCheckKeys(b *testing.B) {
	job := "name: a\ntimeout: 5s\ntls_config: {ca_file: x, key_file: y}\nbasic_auth: {username: u, password_file: p}\nregion: eu\nrack: r1\n"
	var many strings.Builder
	many.WriteString("targets:\n")
	for i := range 1000 {
		fmt.Fprintf(&many, "- {address: 'h%d:9100', labels: {rack: r%d}, tls_config: {ca_file: ca.pem}}\n", i, i%40)
	}
	for _, bc := range []struct{ name, in string }{{"job", job}, {"targets=1000", many.String()}} {
		n := parse(b, bc.in)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := CheckKeys(n, reflect.TypeFor[cfgT](), KeyOptions{Noun: "scrape config"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
