package host

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseMeminfo(f *testing.F) {
	for _, s := range []string{
		"MemTotal:       24684092 kB\nActive(anon):     733104 kB\nHugePages_Total:       0\n",
		"\n\nX: 1\n", "Bad line", "K: v kB", "K:", ": 1 kB", "A(b)c(d): 5 kB",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		err := parseMeminfo(data, func(key []byte, unit bool, v float64) {
			n++
			if len(key) == 0 {
				t.Fatalf("empty key from %q", data)
			}
			name := meminfoKey(string(key), unit)
			if unit != strings.HasSuffix(name, "_bytes") {
				t.Fatalf("key %q unit %v gave %q", key, unit, name)
			}
		})
		if err != nil && !strings.HasPrefix(err.Error(), "line ") {
			t.Fatalf("error does not name the line: %v", err)
		}
	})
}

// FuzzMeminfoKey checks the hand-written key rewrite against node_exporter's
// regexp \((.*)\) -> _$1.
func FuzzMeminfoKey(f *testing.F) {
	for _, s := range []string{"Active(anon)", "A(b)c(d)", "x)(y", "(", "()", "MemTotal"} {
		f.Add(s)
	}
	re := regexp.MustCompile(`\((.*)\)`)
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.ContainsAny(raw, "\n") {
			return // keys are one line
		}
		want := re.ReplaceAllString(raw, "_${1}")
		if got := meminfoKey(raw, false); got != want {
			t.Fatalf("meminfoKey(%q) = %q, regexp gives %q", raw, got, want)
		}
	})
}

func FuzzParseMounts(f *testing.F) {
	for _, s := range []string{
		"/dev/vda / ext4 rw,relatime 0 0\n", `/dev/sdb /srv/my\040data xfs ro 0 0`, "a b c\n", `x /\1 y z`, "\t\t\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseMounts(data, func(m mount) {
			if m.device == "" || m.mountPoint == "" || m.fsType == "" || m.options == "" {
				t.Fatalf("empty field in %+v from %q", m, data)
			}
		})
	})
}

// FuzzUnescapeOctal checks that escaping a string as the kernel does and
// unescaping it gives the string back.
func FuzzUnescapeOctal(f *testing.F) {
	for _, s := range []string{"/srv/my data", "a\tb\\c\nd", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case ' ', '\t', '\n', '\\':
				b.WriteString("\\" + strconv.FormatInt(int64(c)+01000, 8)[1:])
			default:
				b.WriteByte(c)
			}
		}
		if got := unescapeOctal(b.Bytes()); got != s {
			t.Fatalf("unescape(escape(%q)) = %q (escaped %q)", s, got, b.String())
		}
	})
}

func FuzzParseUdevData(f *testing.F) {
	f.Add([]byte("E:ID_PATH=pci-0000:00:05.0\nE:ID_MODEL=QEMU\nE:SCSI_IDENT_SERIAL=X1\nS:disk/by-id/x\n"))
	f.Add([]byte("E:ID_SERIAL_SHORT=abc\nE:BROKEN\nE:=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u := parseUdevData(data)
		for _, v := range []string{u.path, u.wwn, u.model, u.serial, u.revision} {
			if strings.Contains(v, "\n") {
				t.Fatalf("value with a newline %q from %q", v, data)
			}
		}
	})
}

func TestExplodeSensorFilename(t *testing.T) {
	re := regexp.MustCompile(hwmonFilenameFormat)
	for _, tc := range []struct {
		name, typ, prop string
		num             int
		ok              bool
	}{
		{"temp1_input", "temp", "input", 1, true},
		{"fan2_min", "fan", "min", 2, true},
		{"beep_enable", "beep_enable", "", 0, true},
		{"in0", "in", "", 0, true},
		{"pwm1_auto_point1_temp", "pwm", "auto_point1_temp", 1, true},
		{"A_0A", "A", "0A", 0, true},
		{"temp1x", "", "", 0, false},
		{"1abc", "", "", 0, false},
		{"in99999999999999999999_input", "", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, typ, num, prop := explodeSensorFilename(re, tc.name)
			if ok != tc.ok || (ok && (typ != tc.typ || num != tc.num || prop != tc.prop)) {
				t.Errorf("got %v %q %d %q, want %v %q %d %q", ok, typ, num, prop, tc.ok, tc.typ, tc.num, tc.prop)
			}
		})
	}
}

// FuzzCleanMetricName checks the hand-written cleaner against
// node_exporter's regexp.
func FuzzCleanMetricName(f *testing.F) {
	for _, s := range []string{"Package id 0", "coretemp\n", "__x__", "ÄÖ-ü", "nvme:0"} {
		f.Add(s)
	}
	re := regexp.MustCompile("[^a-z0-9:_]")
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.Trim(re.ReplaceAllLiteralString(strings.ToLower(s), "_"), "_")
		if got := cleanMetricName(s); got != want {
			t.Fatalf("cleanMetricName(%q) = %q, regexp gives %q", s, got, want)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("procfs: /host/proc\nfilesystem:\n  mount_timeout: 2s\n"))
	f.Add([]byte("collectors: [cpu, cpu]\n"))
	f.Add([]byte("netdev: {device_exclude: '('}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
	})
}
