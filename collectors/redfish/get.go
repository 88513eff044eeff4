package redfish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
)

// Get fetches path from the BMC at bmc (host, host:port or URL) with cfg's
// credentials and TLS settings and writes the JSON, indented, to w. It is
// `fleetwatch redfish get BMC PATH`. A session it opens is closed before
// it returns.
func Get(ctx context.Context, cfg Config, bmc, path string, w io.Writer) error {
	c, err := New(cfg, nil, nil, nil)
	if err != nil {
		return err
	}
	cl, err := c.NewClient(bmc)
	if err != nil {
		return err
	}
	defer func() { _ = cl.Logout(context.WithoutCancel(ctx)) }()
	body, err := cl.Get(ctx, path)
	if err != nil {
		return fmt.Errorf("BMC %q: %w", bmc, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("BMC %q: %s: %w: %v", bmc, path, client.ErrNotJSON, err)
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(w)
	return err
}

// NewClient returns a Redfish client for one BMC with the collector's
// settings (credentials, TLS, limits), for the action package. The caller
// logs it out when done.
func (c *Collector) NewClient(bmc string) (*client.Client, error) {
	return c.newClient(bmc, nil)
}
