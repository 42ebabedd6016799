package e2e

import (
	"context"
	"errors"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// ErrDuplicatePrekey reports a one-time prekey id that the directory already
// holds for that user.
var ErrDuplicatePrekey = errors.New("e2e: duplicate one-time prekey id")

// Directory is the server-side store of users' public prekeys, from which
// initiators fetch bundles. Implementations must be safe for concurrent use
// and must hand out each one-time prekey at most once, even to concurrent
// fetches. [MemDirectory] is the in-memory reference implementation;
// package prekeytest checks any implementation.
type Directory interface {
	// Publish registers or re-registers user with an identity and a signed
	// prekey, after verifying its signature (ErrInvalidSignature,
	// ErrLowOrderKey). Re-registering under another identity drops the
	// user's one-time prekeys, which belonged to the old one.
	Publish(ctx context.Context, user string, identity PublicIdentity, spk SignedPrekey) error
	// AddOneTimePrekeys appends one-time prekeys to the user's supply
	// (ErrNotFound; ErrDuplicatePrekey for an id repeated in keys or still
	// held; on error nothing is added).
	AddOneTimePrekeys(ctx context.Context, user string, keys []OneTimePrekey) error
	// Fetch returns the user's bundle, atomically removing one one-time
	// prekey (the oldest) from the supply; the bundle's OneTimePrekey is
	// nil once the supply is empty (ErrNotFound).
	Fetch(ctx context.Context, user string) (Bundle, error)
	// Remaining returns the number of one-time prekeys left, so the owner
	// knows when to upload more (ErrNotFound).
	Remaining(ctx context.Context, user string) (int, error)
	// RotateSignedPrekey replaces the published signed prekey after
	// verifying it against the registered identity (ErrNotFound,
	// ErrInvalidSignature). The owner's Keyring keeps answering the old one
	// for its grace period, then deletes it.
	RotateSignedPrekey(ctx context.Context, user string, spk SignedPrekey) error
}

// MemDirectory is the in-memory [Directory]: users are spread over 32
// mutex-striped maps by the xxhash of their name, so fetches for different
// users rarely contend; each user's one-time prekeys are a FIFO queue.
// Every operation is O(1) except AddOneTimePrekeys, O(len(keys)). The zero
// value is not ready: use NewMemDirectory. Safe for concurrent use.
type MemDirectory struct {
	stripes [dirStripes]dirStripe
}

const dirStripes = 32

type dirStripe struct {
	mu    sync.Mutex
	users map[string]*dirUser
}

type dirUser struct {
	identity PublicIdentity
	spk      SignedPrekey
	oneTime  []OneTimePrekey // FIFO: oneTime[0] is handed out next
	ids      map[uint32]struct{}
}

var _ Directory = (*MemDirectory)(nil)

// NewMemDirectory returns an empty directory.
func NewMemDirectory() *MemDirectory {
	d := &MemDirectory{}
	for i := range d.stripes {
		d.stripes[i].users = make(map[string]*dirUser)
	}
	return d
}

func (d *MemDirectory) stripe(user string) *dirStripe {
	return &d.stripes[xxhash.Sum64String(user)%dirStripes]
}

// Publish implements [Directory].
func (d *MemDirectory) Publish(ctx context.Context, user string, identity PublicIdentity, spk SignedPrekey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := spk.Verify(identity); err != nil {
		return err
	}
	s := d.stripe(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u == nil || u.identity != identity {
		u = &dirUser{identity: identity, ids: make(map[uint32]struct{})}
		s.users[user] = u
	}
	u.spk = spk
	return nil
}

// AddOneTimePrekeys implements [Directory].
func (d *MemDirectory) AddOneTimePrekeys(ctx context.Context, user string, keys []OneTimePrekey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := d.stripe(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u == nil {
		return ErrNotFound
	}
	batch := make(map[uint32]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := u.ids[k.ID]; dup {
			return ErrDuplicatePrekey
		}
		if _, dup := batch[k.ID]; dup {
			return ErrDuplicatePrekey
		}
		batch[k.ID] = struct{}{}
	}
	for _, k := range keys {
		u.ids[k.ID] = struct{}{}
	}
	u.oneTime = append(u.oneTime, keys...)
	return nil
}

// Fetch implements [Directory].
func (d *MemDirectory) Fetch(ctx context.Context, user string) (Bundle, error) {
	if err := ctx.Err(); err != nil {
		return Bundle{}, err
	}
	s := d.stripe(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u == nil {
		return Bundle{}, ErrNotFound
	}
	b := Bundle{Identity: u.identity, SignedPrekey: u.spk}
	if len(u.oneTime) > 0 {
		otp := u.oneTime[0]
		delete(u.ids, otp.ID)
		u.oneTime[0] = OneTimePrekey{}
		u.oneTime = u.oneTime[1:]
		if len(u.oneTime) == 0 {
			u.oneTime = nil // let the drained backing array go
		}
		b.OneTimePrekey = &otp
	}
	return b, nil
}

// Remaining implements [Directory].
func (d *MemDirectory) Remaining(ctx context.Context, user string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s := d.stripe(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u == nil {
		return 0, ErrNotFound
	}
	return len(u.oneTime), nil
}

// RotateSignedPrekey implements [Directory].
func (d *MemDirectory) RotateSignedPrekey(ctx context.Context, user string, spk SignedPrekey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := d.stripe(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u == nil {
		return ErrNotFound
	}
	if err := spk.Verify(u.identity); err != nil {
		return err
	}
	u.spk = spk
	return nil
}
