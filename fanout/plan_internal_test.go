package fanout

import "testing"

// TestAuthorLog checks the change log behind plan validation: a plan is
// current when none of its followees changed, stale when one did or when
// the log has overwritten the changes since the plan was built.
func TestAuthorLog(t *testing.T) {
	var l authorLog
	ids := []UserID{3, 5, 9}
	if seq, ok := l.unchanged(0, ids); !ok || seq != 0 {
		t.Fatalf("empty log: unchanged = %d, %v; want 0, true", seq, ok)
	}
	l.note(4)
	l.note(10)
	if seq, ok := l.unchanged(0, ids); !ok || seq != 2 {
		t.Fatalf("changes of others: unchanged = %d, %v; want 2, true", seq, ok)
	}
	l.note(5)
	if _, ok := l.unchanged(2, ids); ok {
		t.Fatal("a followee changed, but the plan is current")
	}
	if seq, ok := l.unchanged(3, ids); !ok || seq != 3 {
		t.Fatalf("after the change: unchanged = %d, %v; want 3, true", seq, ok)
	}
	for range authorLogSize + 1 {
		l.note(1)
	}
	if _, ok := l.unchanged(3, ids); ok {
		t.Fatal("a plan older than the log is current")
	}
	if _, ok := l.unchanged(l.seq.Load()-authorLogSize, ids); !ok {
		t.Fatal("a plan as old as the log, with no followee changed, is stale")
	}
}
