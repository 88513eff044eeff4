package notifyutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// CheckKeys walks a YAML mapping and reports the first key that is not a
// yaml-tagged field of t, naming the key and its line, and recursing into
// nested structs. A key listed in inline (a secret written in the config
// text, such as routing_key) is refused with a pointer to the key to use
// instead. what names the config in the message ("pagerduty config").
func CheckKeys(node *yaml.Node, t reflect.Type, what string, inline map[string]string) error {
	return yamlutil.CheckKeys(node, t, yamlutil.KeyOptions{Noun: what, Wording: yamlutil.NounUnknownKey, Secrets: inline})
}

// Secret says where a secret comes from: a file (read whole, surrounding
// white space trimmed) or an environment variable.
type Secret struct {
	File string
	Env  string
}

// Check verifies that exactly one source is set and that it holds a
// value, without returning the value. fileKey and envKey name the config
// keys in messages.
func (s Secret) Check(fileKey, envKey string) error {
	_, err := s.Read(fileKey, envKey)
	return err
}

// Read returns the secret. Errors name the key and the file or variable,
// never the value.
func (s Secret) Read(fileKey, envKey string) (string, error) {
	switch {
	case s.File != "" && s.Env != "":
		return "", fmt.Errorf("%s and %s: set one, not both", fileKey, envKey)
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("%s: %w", fileKey, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s: file %q is empty", fileKey, s.File)
		}
		return v, nil
	case s.Env != "":
		v := strings.TrimSpace(os.Getenv(s.Env))
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is not set or empty", envKey, s.Env)
		}
		return v, nil
	}
	return "", fmt.Errorf("%s or %s must be set", fileKey, envKey)
}

// TLSConfig configures the TLS client of https endpoints.
type TLSConfig struct {
	// CAFile verifies the server's certificate; empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate, both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables verification of the server's certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Build returns the crypto/tls config, reading the files. prefix names the
// key in errors ("tls_config").
func (c TLSConfig) Build(prefix string) (*tls.Config, error) {
	tc := &tls.Config{
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // the user asked for it
		MinVersion:         tls.VersionTLS12,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %q holds no PEM certificate", prefix, c.CAFile)
		}
		tc.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("%s: cert_file and key_file must be set together", prefix)
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			// The error of LoadX509KeyPair never quotes key material.
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", prefix, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Join joins validation errors, prefixing each with what ("webhook config").
func Join(what string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", what, e)
	}
	return errors.Join(out...)
}
