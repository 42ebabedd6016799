package shortid_test

import (
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
	"github.com/blueprint-go/blueprint/shortid/storetest"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) shortid.Store { return shortid.NewMemStore() })
}
