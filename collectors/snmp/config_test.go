package snmp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("secret123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, wantErr string
		check             func(t *testing.T, c Config)
	}{
		{"defaults", "{}", "", func(t *testing.T, c Config) {
			if c.Auth != "public_v2" || c.MaxRepetitions != 25 || c.Retries != 1 || !c.WrapLargeCounters || c.Modules[0] != "if_mib" {
				t.Errorf("defaults %+v", c)
			}
		}},
		{"values", "modules: [if_mib, lldp]\nauth: core\ntimeout: 500ms\nretries: 0\nmax_repetitions: 10\ndeadline: 20s\n", "", func(t *testing.T, c Config) {
			if len(c.Modules) != 2 || c.Auth != "core" || c.Timeout.String() != "500ms" || c.Retries != 0 || c.MaxRepetitions != 10 || c.Deadline.String() != "20s" {
				t.Errorf("got %+v", c)
			}
		}},
		{"unknown key", "modules: [if_mib]\nmax_repetition: 10\n", "line 2: unknown snmp config key \"max_repetition\"", nil},
		{"bad repetitions", "max_repetitions: 0\n", "snmp config: max_repetitions: 0 must be between 1 and 1000", nil},
		{"bad retries", "retries: -1\n", "snmp config: retries: -1 must be between 0 and 10", nil},
		{"no modules", "modules: []\n", "snmp config: modules: at least one module is needed", nil},
		{"missing file", "module_files: [/nonexistent/snmp.yml]\n", "snmp config: module_files[0]:", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := yaml.Unmarshal([]byte(tc.in), &c)
			if err == nil {
				err = c.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}

	for _, tc := range []struct{ name, in, wantErr string }{
		{"v2c", "core:\n  community: s3cret\n", ""},
		{"v3 authPriv", "core:\n  version: 3\n  username: u\n  security_level: authPriv\n  auth_protocol: SHA256\n  password_file: " + pass + "\n  priv_protocol: AES256\n  priv_password_file: " + pass + "\n", ""},
		{"inline password", "core:\n  version: 3\n  password: x\n", "line 3: password: secrets are read from files or the environment, use password_file or password_env"},
		{"unknown key", "core:\n  comunity: x\n", "line 2: unknown snmp auth key \"comunity\""},
		{"bad version", "core:\n  version: 4\n", "version: 4 must be 1, 2 or 3"},
		{"bad auth protocol", "core:\n  version: 3\n  username: u\n  security_level: authNoPriv\n  auth_protocol: SHA1024\n  password_file: " + pass + "\n", `auth_protocol: "SHA1024" is not one of MD5, SHA, SHA224, SHA256, SHA384, SHA512`},
		{"no password", "core:\n  version: 3\n  username: u\n  security_level: authNoPriv\n", "password_file: required for authNoPriv"},
		{"missing env", "core:\n  community_env: FLEETWATCH_TEST_UNSET_VAR\n", "community: environment variable FLEETWATCH_TEST_UNSET_VAR is not set"},
		{"missing file", "core:\n  community_file: /nonexistent\n", "community: secret file: open /nonexistent"},
	} {
		t.Run("auth/"+tc.name, func(t *testing.T) {
			var a Auths
			err := yaml.Unmarshal([]byte(tc.in), &a)
			if err == nil {
				c := DefaultConfig()
				c.Auths = a
				err = c.Validate()
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"unknown module", func(c *Config) { c.Modules = []string{"if_mibb"} }, `snmp config: modules[0]: unknown module "if_mibb" (built-in: entity_sensor, host_resources, if_mib, lldp, ucd)`},
		{"unknown auth", func(c *Config) { c.Auth = "core" }, `snmp config: auth: "core" is not defined (known: public_v2)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			_, err := New(c, nil, nil)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseExporterConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, wantErr string }{
		{"unknown metric type", "m:\n  walk: [1.3.6.1.2.1.2]\n  metrics:\n  - name: x\n    oid: 1.3.6.1.2.1.2.1\n    type: Gauge64\n", `snmp.yml:1: module "m": metric "x": type "Gauge64" is not a type snmp_exporter knows`},
		{"bad oid", "m:\n  walk: [1.3.x]\n", `snmp.yml:1: module "m": walk[0]: OID "1.3.x": "x" is not a number`},
		{"unknown key", "m:\n  walks: [1.3.6]\n", "snmp.yml:2: walks: unknown field"},
		{"bad index type", "m:\n  metrics:\n  - name: x\n    oid: 1.3.6.1\n    type: gauge\n    indexes:\n    - labelname: i\n      type: Float\n", `index "i": type "Float" is not an index type`},
		{"filters", "modules:\n  m:\n    filters:\n      dynamic: []\n", "filters: dynamic and static filters are not supported"},
		{"new layout", "auths:\n  a:\n    community: c\n    version: 1\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseExporterConfig("snmp.yml", []byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Auths["a"] == nil || cfg.Auths["a"].Version != 1 || cfg.Modules["m"] == nil {
					t.Errorf("parsed %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseExporterConfig(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "recordings", "snmp_exporter_if_mib.yml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw[:2000]))
	f.Add("auths:\n  a:\n    community: c\nmodules:\n  m:\n    walk: [1.3.6.1.2.1.2]\n")
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := ParseExporterConfig("f.yml", []byte(in))
		if err != nil {
			return
		}
		for n, m := range cfg.Modules {
			compileModule(n, m)
		}
	})
}

// FuzzConvert feeds arbitrary varbinds (OID suffix, type, value) under the
// columns of every built-in module to the converter: it must not panic, and
// every sample must have valid UTF-8 labels.
func FuzzConvert(f *testing.F) {
	f.Add("2.2.1.2.1", byte(gosnmp.OctetString), []byte("eth0"), int64(1))
	f.Add("31.1.1.1.6.4294967295", byte(gosnmp.Counter64), []byte{}, int64(-1))
	f.Add("2.2.1.6.1.2.3", byte(gosnmp.OctetString), []byte{0xff, 0xfe}, int64(0))
	mods, err := builtinModules()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, suffix string, typ byte, val []byte, n int64) {
		var pdus []gosnmp.SnmpPDU
		for _, prefix := range []string{".1.3.6.1.2.1.", ".1.0.8802.1.1.2.1.4.1.1.", ".1.3.6.1.2.1.99.1.1.1.", ".1.3.6.1.4.1.2021."} {
			p := gosnmp.SnmpPDU{Name: prefix + suffix, Type: gosnmp.Asn1BER(typ)}
			switch gosnmp.Asn1BER(typ) {
			case gosnmp.OctetString:
				p.Value = val
			case gosnmp.Counter64:
				p.Value = uint64(n)
			case gosnmp.ObjectIdentifier, gosnmp.IPAddress:
				p.Value = string(val)
			case gosnmp.OpaqueFloat:
				p.Value = float32(n)
			default:
				p.Value = int(n)
			}
			pdus = append(pdus, p)
			pdus = append(pdus, gosnmp.SnmpPDU{Name: prefix + "2.2.1.2." + suffix, Type: gosnmp.OctetString, Value: val})
		}
		app := newMemAppender()
		conv := newConverter(app, newPDUSet(pdus), true)
		var extra customResult
		for _, m := range mods {
			if m.tree != nil {
				conv.module(m.tree)
			}
			if m.custom != nil {
				m.custom(conv, &extra)
			}
		}
		for k := range app.samples {
			if !utf8.ValidString(k) {
				t.Fatalf("invalid UTF-8 in %q", k)
			}
		}
	})
}
