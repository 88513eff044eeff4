//go:build !unix

package remediate

import (
	"context"
	"errors"
)

// runExec is not available where process groups are not.
func runExec(ctx context.Context, c *ExecAction, doc Document) (string, error) {
	return "", errors.New("exec actions need a unix system")
}
