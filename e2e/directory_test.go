package e2e_test

import (
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
	"github.com/blueprint-go/blueprint/e2e/prekeytest"
)

func TestMemDirectoryConformance(t *testing.T) {
	prekeytest.Run(t, func() e2e.Directory { return e2e.NewMemDirectory() })
}
