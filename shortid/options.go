package shortid

import (
	"io"
	"time"
)

// A Clock tells the [Shortener] the time. Expiry, exhaustion and creation
// times all come from it, so tests drive TTLs with a fake clock instead of
// sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Defaults for the zero fields of [Options].
const (
	DefaultMaxURLLength  = 2048
	DefaultFlushInterval = time.Second
	DefaultSweepInterval = time.Minute
	DefaultSweepBatch    = 1000
)

// MaxTTL is the longest TTL a request may ask for; longer ones are
// ErrInvalidRequest (a link meant to live that long should not expire).
const MaxTTL = 100 * 365 * 24 * time.Hour

// DefaultReserved returns the words that no alias may be unless
// Options.Reserved says otherwise, compared without regard to case: the
// paths an HTTP front end or its operators are likely to need. Each call
// returns a new slice, so callers may extend it:
//
//	opts.Reserved = append(shortid.DefaultReserved(), "blog")
func DefaultReserved() []string {
	return []string{
		"about", "admin", "api", "app", "assets", "auth", "debug", "docs", "favicon",
		"health", "healthz", "help", "login", "logout", "metrics", "new", "ready",
		"readyz", "robots", "shorten", "static", "stats", "status", "www",
	}
}

// Options configures a [Shortener]. The zero value means the defaults given
// for each field.
type Options struct {
	// BaseURL is prefixed to keys by [Shortener.ShortURL], for example
	// "https://sho.rt". Its host counts as one of OwnHosts. Empty means
	// ShortURL returns "/" + key.
	BaseURL string
	// OwnHosts are further host names that reach this shortener ("sho.rt",
	// "sho.rt:8443", or "*.sho.rt" for every subdomain too). Links to them
	// are refused: they would redirect in a loop.
	OwnHosts []string
	// AllowPrivate permits targets that are IP literals in private,
	// loopback, link-local or otherwise special networks, and "localhost".
	// Leave it false for a public service: such links turn the shortener
	// into a way to point users' browsers at their own routers.
	AllowPrivate bool
	// MaxURLLength bounds a target URL in bytes (default 2048, what older
	// browsers and most CDNs accept).
	MaxURLLength int
	// Reserved are the words that no alias may be, compared without regard
	// to case; a generated key equal to one is skipped too. Nil means
	// DefaultReserved(); an empty non-nil slice reserves nothing but
	// "shorten", the path of the [Handler]'s create route, which is always
	// reserved: a link under it could never be followed through the
	// Handler. A link stored under "shorten" before it was reserved is
	// left as it is.
	Reserved []string
	// Keys hands out the keys of new links. The default is a [Sequence]
	// over the Store's counter if the Store is also a [Counter], else over a
	// [MemCounter], with a secret drawn from Rand. A key holds only letters,
	// digits, '-' and '_': [New] refuses a Sequence or Random with another
	// character in its alphabet, and Shorten refuses a key from any other
	// KeySource that holds one ([ErrInvalidKeySource]).
	//
	// That default secret is new in every Shortener: several Shorteners on
	// one Store (or one across restarts) encrypt the same counter values
	// under different keys, so their codes are unique only because the
	// Store's atomic create refuses a clash and the next value is tried,
	// not by the permutation. In production pass a Sequence built with a
	// fixed secret shared by every instance (SequenceOptions.Keys); codes
	// are then unique by construction and reversible everywhere.
	Keys KeySource
	// Clock tells the time (default: the system clock).
	Clock Clock
	// Rand is the source of the default key's secret (default
	// crypto/rand.Reader).
	Rand io.Reader
	// FlushInterval is how often buffered clicks are written to the Store
	// (default 1s). Negative: only by Flush and Close.
	FlushInterval time.Duration
	// SweepInterval is how often expired and exhausted links are removed
	// (default 1m). Negative: only by Sweep.
	SweepInterval time.Duration
	// SweepBatch is the most links one Store.Sweep call removes
	// (default 1000).
	SweepBatch int
	// OnError, if set, receives the errors of background flushes and sweeps.
	// Clicks of a failed flush stay buffered and are retried. It is called
	// from the background goroutine, never with a lock held.
	OnError func(error)
}
