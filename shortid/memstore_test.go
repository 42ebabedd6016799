package shortid_test

import (
	"fmt"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
	"github.com/blueprint-go/blueprint/shortid/storetest"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) shortid.Store { return shortid.NewMemStore() })
}

func TestCachedStore(t *testing.T) {
	for _, size := range []int{1, 3, 1000} {
		t.Run(fmt.Sprint("size", size), func(t *testing.T) {
			storetest.Run(t, func(*testing.T) shortid.Store { return shortid.NewCachedStore(shortid.NewMemStore(), size) })
		})
	}
}

func TestShardedStore(t *testing.T) {
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprint("shards", n), func(t *testing.T) {
			storetest.Run(t, func(*testing.T) shortid.Store {
				shards := make([]shortid.Store, n)
				for i := range shards {
					shards[i] = shortid.NewMemStore()
				}
				return shortid.NewShardedStore(shards)
			})
		})
	}
}

func TestShardedCachedStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) shortid.Store {
		shards := make([]shortid.Store, 3)
		for i := range shards {
			shards[i] = shortid.NewCachedStore(shortid.NewMemStore(), 8)
		}
		return shortid.NewShardedStore(shards)
	})
}

func TestCounters(t *testing.T) {
	t.Run("MemCounter", func(t *testing.T) {
		storetest.RunCounter(t, func(*testing.T) shortid.Counter { return shortid.NewMemCounter(0) })
	})
	t.Run("MemCounterFrom", func(t *testing.T) {
		storetest.RunCounter(t, func(*testing.T) shortid.Counter { return shortid.NewMemCounter(1 << 40) })
	})
	t.Run("MemStore", func(t *testing.T) {
		storetest.RunCounter(t, func(*testing.T) shortid.Counter { return shortid.NewMemStore() })
	})
}
