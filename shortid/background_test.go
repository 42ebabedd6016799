package shortid_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// wallClock reads time.Now, which inside a synctest bubble is the bubble's
// fake time: the background loops and the expiry checks then run on the
// same clock, and the test advances it without waiting.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func TestBackgroundFlushAndSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := shortid.NewMemStore()
		s, err := shortid.New(store, shortid.Options{
			Clock:         wallClock{},
			FlushInterval: time.Second,
			SweepInterval: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := s.Shorten(context.Background(), shortid.ShortenRequest{URL: "https://example.com/", TTL: 30 * time.Second})
		for range 5 {
			if _, err := s.Resolve(context.Background(), l.Key); err != nil {
				t.Fatal(err)
			}
		}
		if r, _ := store.Get(context.Background(), l.Key); r.Clicks != 0 {
			t.Fatalf("clicks reached the store before the first flush: %d", r.Clicks)
		}
		time.Sleep(time.Second + time.Millisecond) // fake time: returns at once
		synctest.Wait()
		if r, _ := store.Get(context.Background(), l.Key); r.Clicks != 5 {
			t.Fatalf("stored clicks after one flush interval = %d, want 5", r.Clicks)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, err := store.Get(context.Background(), l.Key); !errors.Is(err, shortid.ErrNotFound) {
			t.Fatalf("expired link still stored after a sweep interval: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// synctest.Test fails if Close left a goroutine running.
	})
}

func TestBackgroundErrorsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyStore{Store: shortid.NewMemStore()}
		var reported atomic.Int32
		s, err := shortid.New(store, shortid.Options{
			FlushInterval: time.Second,
			SweepInterval: -1,
			OnError:       func(error) { reported.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := s.Shorten(context.Background(), shortid.ShortenRequest{URL: "https://example.com/"})
		s.Resolve(context.Background(), l.Key)
		store.fail.Store(true)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if reported.Load() != 1 {
			t.Fatalf("OnError called %d times, want 1", reported.Load())
		}
		store.fail.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if r, _ := store.Get(context.Background(), l.Key); r.Clicks != 1 {
			t.Fatalf("clicks after the retry = %d, want 1", r.Clicks)
		}
		s.Close()
	})
}
