package shortid_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// testKey returns a fixed 32-byte secret for tests, different per label.
func testKey(version uint32, since uint64, label string) shortid.Key {
	secret := []byte(fmt.Sprintf("%-32s", "test secret "+label))
	return shortid.Key{Version: version, Since: since, Secret: secret}
}

func newSequence(t testing.TB, c shortid.Counter, opts shortid.SequenceOptions) *shortid.Sequence {
	t.Helper()
	s, err := shortid.NewSequence(c, opts)
	if err != nil {
		t.Fatalf("NewSequence(%+v) = %v", opts, err)
	}
	return s
}

// TestSequenceBijection enumerates whole small code spaces: every counter
// value gets a distinct code of the right length in the alphabet, Reverse
// maps it back, and the value past the end is refused.
func TestSequenceBijection(t *testing.T) {
	cases := []struct {
		alphabet string
		length   int
	}{
		{"01", 2},
		{"0123", 3},
		{"ab", 9},
		{"0123456789", 5},
		{shortid.Base62Alphabet, 2},
	}
	if !testing.Short() {
		cases = append(cases, struct {
			alphabet string
			length   int
		}{shortid.Base62Alphabet, 3})
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d^%d", len(tc.alphabet), tc.length), func(t *testing.T) {
			s := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{
				Length: tc.length, Alphabet: tc.alphabet, Keys: []shortid.Key{testKey(7, 0, tc.alphabet)},
			})
			size := s.Size()
			if want := uint64(math.Pow(float64(len(tc.alphabet)), float64(tc.length))); size != want {
				t.Fatalf("Size() = %d, want %d", size, want)
			}
			seen := make(map[string]uint64, size)
			fixedPoints := 0
			var buf []byte
			for c := range size {
				var err error
				buf, err = s.AppendCode(buf[:0], c)
				if err != nil {
					t.Fatalf("AppendCode(%d) = %v", c, err)
				}
				code := string(buf)
				if len(code) != tc.length || strings.Trim(code, tc.alphabet) != "" {
					t.Fatalf("AppendCode(%d) = %q, not %d characters of %q", c, code, tc.length, tc.alphabet)
				}
				if prev, dup := seen[code]; dup {
					t.Fatalf("counter values %d and %d both give %q", prev, c, code)
				}
				seen[code] = c
				got, version, err := s.Reverse(code)
				if err != nil || got != c || version != 7 {
					t.Fatalf("Reverse(%q) = %d, %d, %v, want %d, 7", code, got, version, err, c)
				}
				if v, _ := fixedWidth(code, tc.alphabet); v == c {
					fixedPoints++
				}
			}
			// A random permutation has one fixed point on average; the
			// identity would have size of them.
			if size > 100 && fixedPoints > 10 {
				t.Errorf("%d of %d codes equal their counter value written plainly", fixedPoints, size)
			}
			if _, err := s.AppendCode(nil, size); !errors.Is(err, shortid.ErrExhausted) {
				t.Errorf("AppendCode(Size()) = %v, want ErrExhausted", err)
			}
		})
	}
}

// fixedWidth reads code as a plain number in alphabet.
func fixedWidth(code, alphabet string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(code); i++ {
		d := strings.IndexByte(alphabet, code[i])
		if d < 0 {
			return 0, false
		}
		v = v*uint64(len(alphabet)) + uint64(d)
	}
	return v, true
}

// TestSequenceAvalanche checks that consecutive counter values give codes
// that differ in nearly every position. For independent uniform codes the
// number of differing positions of 7 characters has mean 7·61/62 ≈ 6.887
// and standard deviation 0.33, so the mean of 20000 pairs lies within
// ±0.0024 of it; the bounds are ±0.03.
func TestSequenceAvalanche(t *testing.T) {
	seed := shortid.KeysSeed(t)
	rng := rand.New(rand.NewPCG(seed, 5))
	s := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, fmt.Sprint(seed))}})
	const pairs = 20000
	start := rng.Uint64N(s.Size() - pairs - 1)
	prev, err := s.AppendCode(nil, start)
	if err != nil {
		t.Fatal(err)
	}
	var total, worst = 0, 7
	cur := make([]byte, 0, 7)
	for c := start + 1; c <= start+pairs; c++ {
		cur, err = s.AppendCode(cur[:0], c)
		if err != nil {
			t.Fatal(err)
		}
		d := 0
		for i := range cur {
			if cur[i] != prev[i] {
				d++
			}
		}
		total += d
		worst = min(worst, d)
		prev, cur = cur, prev
	}
	mean := float64(total) / pairs
	t.Logf("mean Hamming distance of consecutive codes: %.4f (expected 6.887), minimum %d", mean, worst)
	if mean < 6.857 || mean > 6.917 {
		t.Errorf("mean Hamming distance %.4f, want 6.887 ± 0.03", mean)
	}
}

// chiSquareBounds are the 10^-6 lower and upper quantiles of the chi-square
// distribution with 61 degrees of freedom (Wilson-Hilferty): a position
// whose characters are too even (a counter digit cycling through the
// alphabet) fails as surely as a biased one.
const chiSquareLow, chiSquareHigh = 21.8, 128.8

// checkUniform counts the characters of each position of codes and checks
// the chi-square statistic of each against the uniform distribution.
func checkUniform(t *testing.T, codes [][]byte, alphabet string) {
	t.Helper()
	length := len(codes[0])
	for pos := range length {
		var counts [256]int
		for _, c := range codes {
			counts[c[pos]]++
		}
		expected := float64(len(codes)) / float64(len(alphabet))
		chi := 0.0
		for i := 0; i < len(alphabet); i++ {
			d := float64(counts[alphabet[i]]) - expected
			chi += d * d / expected
			counts[alphabet[i]] = 0
		}
		for b, n := range counts {
			if n != 0 {
				t.Fatalf("position %d holds %d bytes %q outside the alphabet", pos, n, byte(b))
			}
		}
		if chi < chiSquareLow || chi > chiSquareHigh {
			t.Errorf("position %d: chi-square %.1f over %d codes, want within [%v, %v]", pos, chi, len(codes), chiSquareLow, chiSquareHigh)
		}
	}
}

// TestSequenceUniform checks the character frequencies of every position
// over 100000 codes of consecutive counter values.
func TestSequenceUniform(t *testing.T) {
	seed := shortid.KeysSeed(t)
	s := newSequence(t, shortid.NewMemCounter(seed%1e12), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, fmt.Sprint(seed))}})
	codes := make([][]byte, 100000)
	for i := range codes {
		var err error
		codes[i], err = s.AppendKey(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	checkUniform(t, codes, shortid.Base62Alphabet)
}

// TestRandomUniform does the same for Random on a seeded ChaCha8 stream.
func TestRandomUniform(t *testing.T) {
	seed := shortid.KeysSeed(t)
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	r, err := shortid.NewRandom(shortid.RandomOptions{Rand: rand.NewChaCha8(key)})
	if err != nil {
		t.Fatal(err)
	}
	codes := make([][]byte, 100000)
	for i := range codes {
		codes[i], err = r.AppendKey(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	checkUniform(t, codes, shortid.Base62Alphabet)
}

// countingReader yields the bytes 0, 1, ..., 255, 0, 1, ... .
type countingReader struct{ next byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// TestRandomRejectionSampling feeds every byte value once and checks that
// exactly the bytes below 248 = 4·62 become characters, each character
// exactly four times: no modulo bias.
func TestRandomRejectionSampling(t *testing.T) {
	r, err := shortid.NewRandom(shortid.RandomOptions{Length: 62, Rand: new(countingReader)})
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for range 4 {
		all, err = r.AppendKey(context.Background(), all)
		if err != nil {
			t.Fatal(err)
		}
	}
	want := strings.Repeat(shortid.Base62Alphabet, 4)
	if string(all) != want {
		t.Fatalf("codes from bytes 0..247 = %q, want %q", all, want)
	}
	// Bytes 248..255 are skipped: the next code starts again at byte 0.
	next, err := r.AppendKey(context.Background(), nil)
	if err != nil || string(next) != shortid.Base62Alphabet {
		t.Fatalf("code after byte 247 = %q, %v, want %q", next, err, shortid.Base62Alphabet)
	}
}

// flakyReader fails while fail is set.
type flakyReader struct {
	fail bool
	r    countingReader
}

var errFlaky = errors.New("flaky source")

func (f *flakyReader) Read(p []byte) (int, error) {
	if f.fail {
		return 0, errFlaky
	}
	return f.r.Read(p)
}

func TestRandomReadError(t *testing.T) {
	src := &flakyReader{fail: true}
	r, err := shortid.NewRandom(shortid.RandomOptions{Length: 5, Alphabet: "0123456789", Rand: src})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := r.AppendKey(context.Background(), []byte("pre"))
	if !errors.Is(err, errFlaky) || string(dst) != "pre" {
		t.Fatalf("AppendKey with a failing source = %q, %v, want \"pre\", errFlaky", dst, err)
	}
	src.fail = false
	dst, err = r.AppendKey(context.Background(), []byte("pre"))
	if err != nil || string(dst) != "pre01234" {
		t.Fatalf("AppendKey after recovery = %q, %v, want \"pre01234\"", dst, err)
	}
}

func TestNewRandomRejects(t *testing.T) {
	for _, tc := range []struct {
		opts shortid.RandomOptions
		want error
	}{
		{shortid.RandomOptions{Length: 1}, shortid.ErrInvalidLength},
		{shortid.RandomOptions{Length: -3}, shortid.ErrInvalidLength},
		{shortid.RandomOptions{Length: 65}, shortid.ErrInvalidLength},
		{shortid.RandomOptions{Alphabet: "aa"}, shortid.ErrInvalidAlphabet},
	} {
		if r, err := shortid.NewRandom(tc.opts); !errors.Is(err, tc.want) || r != nil {
			t.Errorf("NewRandom(%+v) = %v, %v, want %v", tc.opts, r, err, tc.want)
		}
	}
	r, err := shortid.NewRandom(shortid.RandomOptions{})
	if err != nil || r.Length() != shortid.DefaultLength {
		t.Fatalf("NewRandom(zero options) = %v, %v", r, err)
	}
	code, err := r.AppendKey(context.Background(), nil)
	if err != nil || len(code) != shortid.DefaultLength || strings.Trim(string(code), shortid.Base62Alphabet) != "" {
		t.Errorf("AppendKey = %q, %v, want 7 base-62 characters", code, err)
	}
}

func TestNewSequenceRejects(t *testing.T) {
	short := shortid.Key{Version: 1, Secret: make([]byte, shortid.MinSecretLen-1)}
	for _, tc := range []struct {
		name string
		opts shortid.SequenceOptions
		want error
	}{
		{"length 1", shortid.SequenceOptions{Length: 1}, shortid.ErrInvalidLength},
		{"negative length", shortid.SequenceOptions{Length: -7}, shortid.ErrInvalidLength},
		{"62^11 overflows", shortid.SequenceOptions{Length: 11}, shortid.ErrInvalidLength},
		{"2^64 overflows", shortid.SequenceOptions{Length: 64, Alphabet: "01"}, shortid.ErrInvalidLength},
		{"bad alphabet", shortid.SequenceOptions{Alphabet: "abcb"}, shortid.ErrInvalidAlphabet},
		{"short secret", shortid.SequenceOptions{Keys: []shortid.Key{short}}, shortid.ErrInvalidKey},
		{"nil secret", shortid.SequenceOptions{Keys: []shortid.Key{{Version: 1}}}, shortid.ErrInvalidKey},
		{"same version", shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "a"), testKey(1, 100, "b")}}, shortid.ErrInvalidKey},
		{"same since", shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 5, "a"), testKey(2, 5, "b")}}, shortid.ErrInvalidKey},
		{"failing key source", shortid.SequenceOptions{Rand: &flakyReader{fail: true}}, errFlaky},
	} {
		if s, err := shortid.NewSequence(new(shortid.MemCounter), tc.opts); !errors.Is(err, tc.want) || s != nil {
			t.Errorf("%s: NewSequence = %v, %v, want %v", tc.name, s, err, tc.want)
		}
	}
	// The largest lengths that fit work.
	for _, tc := range []struct {
		alphabet string
		length   int
	}{{shortid.Base62Alphabet, 10}, {"01", 63}, {"0123456789", 19}} {
		s := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Alphabet: tc.alphabet, Length: tc.length})
		for _, c := range []uint64{0, 1, s.Size() / 3, s.Size() - 1} {
			code, err := s.AppendCode(nil, c)
			if err != nil || len(code) != tc.length {
				t.Fatalf("%d^%d: AppendCode(%d) = %q, %v", len(tc.alphabet), tc.length, c, code, err)
			}
			if got, _, err := s.Reverse(string(code)); err != nil || got != c {
				t.Fatalf("%d^%d: Reverse(%q) = %d, %v, want %d", len(tc.alphabet), tc.length, code, got, err, c)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewSequence(nil, ...) did not panic")
		}
	}()
	_, _ = shortid.NewSequence(nil, shortid.SequenceOptions{})
}

// TestSequenceZeroOptions uses the defaults: 7 base-62 characters and an
// ephemeral key. Two sequences get different keys, so different codes.
func TestSequenceZeroOptions(t *testing.T) {
	a := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{})
	b := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{})
	if a.Length() != 7 || a.Size() != 3521614606208 {
		t.Fatalf("Length, Size = %d, %d, want 7, 62^7", a.Length(), a.Size())
	}
	ca, err := a.AppendKey(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.AppendKey(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ca, cb) {
		t.Errorf("two sequences with fresh keys both start with %q", ca)
	}
	if c, v, err := a.Reverse(string(ca)); c != 0 || v != 0 || err != nil {
		t.Errorf("Reverse(%q) = %d, %d, %v, want 0, 0", ca, c, v, err)
	}
}

// TestSequenceSameKeySameCodes: the permutation depends only on the key,
// the alphabet and the length, so two servers with the same ring agree.
func TestSequenceSameKeySameCodes(t *testing.T) {
	opts := shortid.SequenceOptions{Keys: []shortid.Key{testKey(3, 0, "shared")}}
	a := newSequence(t, new(shortid.MemCounter), opts)
	b := newSequence(t, new(shortid.MemCounter), opts)
	other := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Length: 8, Keys: opts.Keys})
	for c := uint64(0); c < 1000; c++ {
		x, _ := a.AppendCode(nil, c)
		y, _ := b.AppendCode(nil, c)
		if !bytes.Equal(x, y) {
			t.Fatalf("AppendCode(%d): %q and %q with the same key", c, x, y)
		}
		z, _ := other.AppendCode(nil, c)
		if bytes.HasPrefix(z, x) {
			t.Fatalf("AppendCode(%d): length 8 code %q extends length 7 code %q", c, z, x)
		}
	}
}

// TestSequenceKeyRotation: each key encodes the counter values it owns,
// exactly as a ring holding only that key would, and Reverse names the
// owner.
func TestSequenceKeyRotation(t *testing.T) {
	k1, k2, k3 := testKey(1, 0, "one"), testKey(2, 1_000_000, "two"), testKey(3, 5_000_000, "three")
	ring := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{k3, k1, k2}}) // any order
	only := map[uint32]*shortid.Sequence{}
	for _, k := range []shortid.Key{k1, k2, k3} {
		only[k.Version] = newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{k}})
	}
	for _, tc := range []struct {
		counter uint64
		version uint32
	}{{0, 1}, {999_999, 1}, {1_000_000, 2}, {4_999_999, 2}, {5_000_000, 3}, {ring.Size() - 1, 3}} {
		code, err := ring.AppendCode(nil, tc.counter)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := only[tc.version].AppendCode(nil, tc.counter)
		if !bytes.Equal(code, want) {
			t.Errorf("AppendCode(%d) = %q, want %q from key %d", tc.counter, code, want, tc.version)
		}
		c, v, err := ring.Reverse(string(code))
		if err != nil || c != tc.counter || v != tc.version {
			t.Errorf("Reverse(%q) = %d, %d, %v, want %d, %d", code, c, v, err, tc.counter, tc.version)
		}
	}
}

// TestSequenceForeignCode finds, in a small space, codes that no key of a
// two-key ring maps into its own range, and checks by brute force that
// neither key issues them.
func TestSequenceForeignCode(t *testing.T) {
	opts := shortid.SequenceOptions{Alphabet: "0123456789", Length: 3, Keys: []shortid.Key{testKey(1, 0, "a"), testKey(2, 500, "b")}}
	s := newSequence(t, new(shortid.MemCounter), opts)
	issued := map[string]bool{}
	for c := range s.Size() {
		code, _ := s.AppendCode(nil, c)
		issued[string(code)] = true
	}
	foreign := 0
	for n := range 1000 {
		code := fmt.Sprintf("%03d", n)
		_, _, err := s.Reverse(code)
		if errors.Is(err, shortid.ErrForeignCode) {
			foreign++
			if issued[code] {
				t.Errorf("Reverse(%q) = ErrForeignCode, but the ring issues it", code)
			}
		} else if err != nil {
			t.Errorf("Reverse(%q) = %v", code, err)
		}
	}
	if foreign == 0 || foreign != 1000-len(issued) {
		t.Errorf("%d foreign codes, want the %d codes the ring never issues", foreign, 1000-len(issued))
	}
}

func TestSequenceReverseRejects(t *testing.T) {
	s := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "r")}})
	for _, tc := range []struct {
		code string
		want error
	}{
		{"", shortid.ErrCodeLength},
		{"abcdef", shortid.ErrCodeLength},
		{"abcdefgh", shortid.ErrCodeLength},
		{"abc-efg", shortid.ErrInvalidChar},
		{"abcdef\x00", shortid.ErrInvalidChar},
		{"é12345", shortid.ErrInvalidChar},
	} {
		if c, v, err := s.Reverse(tc.code); !errors.Is(err, tc.want) || !errors.Is(err, shortid.ErrInvalidCode) {
			t.Errorf("Reverse(%q) = %d, %d, %v, want %v", tc.code, c, v, err, tc.want)
		}
	}
}

// TestSequenceConcurrent runs 8 goroutines on one Sequence and 8 more on
// four Sequences sharing one counter, with a tiny block so that leases race;
// no code repeats and every code reverses to a distinct counter value.
func TestSequenceConcurrent(t *testing.T) {
	perG := 4000
	if testing.Short() {
		perG = 1000
	}
	key := []shortid.Key{testKey(1, 0, "concurrent")}
	shared := new(shortid.MemCounter)
	one := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Keys: key, Block: 7})
	var fleet [4]*shortid.Sequence
	for i := range fleet {
		fleet[i] = newSequence(t, shared, shortid.SequenceOptions{Keys: key, Block: uint64(3 + i*5)})
	}
	for _, group := range []struct {
		name string
		seq  func(g int) *shortid.Sequence
	}{
		{"one sequence", func(int) *shortid.Sequence { return one }},
		{"shared counter", func(g int) *shortid.Sequence { return fleet[g%len(fleet)] }},
	} {
		t.Run(group.name, func(t *testing.T) {
			codes := make([][]string, 8)
			var wg sync.WaitGroup
			for g := range codes {
				wg.Go(func() {
					s := group.seq(g)
					buf := make([]byte, 0, 7)
					for range perG {
						var err error
						buf, err = s.AppendKey(context.Background(), buf[:0])
						if err != nil {
							t.Error(err)
							return
						}
						codes[g] = append(codes[g], string(buf))
					}
				})
			}
			wg.Wait()
			seen := map[string]bool{}
			counters := map[uint64]bool{}
			for _, cs := range codes {
				for _, code := range cs {
					if seen[code] {
						t.Fatalf("code %q handed out twice", code)
					}
					seen[code] = true
					c, _, err := one.Reverse(code)
					if err != nil || counters[c] {
						t.Fatalf("Reverse(%q) = %d, %v: repeated or failed", code, c, err)
					}
					counters[c] = true
				}
			}
			if len(seen) != 8*perG {
				t.Fatalf("%d codes, want %d", len(seen), 8*perG)
			}
		})
	}
}

// scriptedCounter fails with err until err is nil, then leases from its
// MemCounter; if gate is set, Lease first waits for it to close.
// entered, if set, receives a value when a Lease starts waiting.
type scriptedCounter struct {
	mu      sync.Mutex
	err     error
	gate    chan struct{}
	entered chan struct{}
	mem     shortid.MemCounter
}

func (c *scriptedCounter) Lease(ctx context.Context, n uint64) (uint64, error) {
	c.mu.Lock()
	err, gate := c.err, c.gate
	c.mu.Unlock()
	if gate != nil {
		if c.entered != nil {
			c.entered <- struct{}{}
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if err != nil {
		return 0, err
	}
	return c.mem.Lease(ctx, n)
}

func TestSequenceLeaseError(t *testing.T) {
	errDown := errors.New("counter store down")
	counter := &scriptedCounter{err: errDown}
	s := newSequence(t, counter, shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "e")}, Block: 2})
	dst, err := s.AppendKey(context.Background(), []byte("pre"))
	if !errors.Is(err, errDown) || string(dst) != "pre" {
		t.Fatalf("AppendKey with a failing counter = %q, %v, want \"pre\", %v", dst, err, errDown)
	}
	counter.mu.Lock()
	counter.err = nil
	counter.mu.Unlock()
	for want := range uint64(5) {
		code, err := s.AppendKey(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c, _, _ := s.Reverse(string(code)); c != want {
			t.Fatalf("code %d after recovery reverses to %d", want, c)
		}
	}
}

// TestSequenceContextWhileLeasing: while one caller waits on a slow lease,
// another whose context ends returns ctx.Err() instead of waiting.
func TestSequenceContextWhileLeasing(t *testing.T) {
	gate := make(chan struct{})
	counter := &scriptedCounter{gate: gate, entered: make(chan struct{}, 1)}
	s := newSequence(t, counter, shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "ctx")}})
	first := make(chan error, 1)
	go func() {
		_, err := s.AppendKey(context.Background(), nil)
		first <- err
	}()
	<-counter.entered // the first caller now holds the lease slot
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AppendKey(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("AppendKey with a cancelled context = %v, want context.Canceled", err)
	}
	close(gate)
	if err := <-first; err != nil {
		t.Errorf("the waiting AppendKey = %v", err)
	}
}

func TestSequenceExhausted(t *testing.T) {
	s := newSequence(t, shortid.NewMemCounter(2), shortid.SequenceOptions{Alphabet: "01", Length: 2, Keys: []shortid.Key{testKey(1, 0, "x")}, Block: 10})
	got := map[string]bool{}
	for range 2 {
		code, err := s.AppendKey(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		got[string(code)] = true
	}
	if len(got) != 2 {
		t.Fatalf("codes of counter values 2 and 3: %v", got)
	}
	for range 2 {
		if code, err := s.AppendKey(context.Background(), nil); !errors.Is(err, shortid.ErrExhausted) {
			t.Fatalf("AppendKey past the code space = %q, %v, want ErrExhausted", code, err)
		}
	}
}

func TestMemCounter(t *testing.T) {
	var c shortid.MemCounter
	ctx := context.Background()
	for _, tc := range []struct{ n, first uint64 }{{1, 0}, {10, 1}, {0, 11}, {5, 11}} {
		if first, err := c.Lease(ctx, tc.n); err != nil || first != tc.first {
			t.Fatalf("Lease(%d) = %d, %v, want %d", tc.n, first, err, tc.first)
		}
	}
	if c.Next() != 16 {
		t.Fatalf("Next() = %d, want 16", c.Next())
	}
	top := shortid.NewMemCounter(math.MaxUint64 - 5)
	if _, err := top.Lease(ctx, 6); !errors.Is(err, shortid.ErrExhausted) {
		t.Fatalf("Lease past MaxUint64 = %v, want ErrExhausted", err)
	}
	if first, err := top.Lease(ctx, 5); err != nil || first != math.MaxUint64-5 || top.Next() != math.MaxUint64 {
		t.Fatalf("Lease up to MaxUint64 = %d, %v, next %d", first, err, top.Next())
	}

	// Concurrent leases of different sizes never overlap and leave no gap.
	shared := new(shortid.MemCounter)
	var mu sync.Mutex
	owner := map[uint64]int{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 500 {
				n := uint64(g + 1)
				first, err := shared.Lease(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for v := first; v < first+n; v++ {
					if prev, dup := owner[v]; dup {
						t.Errorf("value %d leased by goroutines %d and %d", v, prev, g)
					}
					owner[v] = g
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if want := uint64(500 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8)); shared.Next() != want || uint64(len(owner)) != want {
		t.Errorf("after the leases Next() = %d with %d values owned, want %d", shared.Next(), len(owner), want)
	}
}

func TestRandomConcurrent(t *testing.T) {
	r, err := shortid.NewRandom(shortid.RandomOptions{Length: 10})
	if err != nil {
		t.Fatal(err)
	}
	codes := make([][]string, 8)
	var wg sync.WaitGroup
	for g := range codes {
		wg.Go(func() {
			for range 2000 {
				code, err := r.AppendKey(context.Background(), nil)
				if err != nil {
					t.Error(err)
					return
				}
				codes[g] = append(codes[g], string(code))
			}
		})
	}
	wg.Wait()
	// 16000 codes among 62^10: a repeat has probability below 2·10^-10.
	seen := map[string]bool{}
	for _, cs := range codes {
		for _, c := range cs {
			if seen[c] {
				t.Fatalf("random code %q drawn twice", c)
			}
			seen[c] = true
		}
	}
}

func TestKeysDoNotAllocate(t *testing.T) {
	s := newSequence(t, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "alloc")}, Block: 1 << 20})
	r, err := shortid.NewRandom(shortid.RandomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	buf := make([]byte, 0, 16)
	// Warm up: the first AppendKey leases the block.
	if _, err := s.AppendKey(ctx, buf); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		buf, _ = s.AppendKey(ctx, buf[:0])
		buf, _ = r.AppendKey(ctx, buf[:0])
		if _, _, err := s.Reverse(string(buf[:7])); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendKey, Random.AppendKey and Reverse allocate %v times per run, want 0", allocs)
	}
}

// gatedReader signals entered, then blocks until gate closes.
type gatedReader struct {
	entered chan struct{}
	gate    chan struct{}
	r       countingReader
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.r.Read(p)
}

// TestRandomSlowSource: while one caller waits on a slow Rand, the Random's
// lock is free, and a caller whose context ends gives up with ctx.Err().
func TestRandomSlowSource(t *testing.T) {
	src := &gatedReader{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	r, err := shortid.NewRandom(shortid.RandomOptions{Length: 3, Alphabet: "0123456789", Rand: src})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		code, err := r.AppendKey(context.Background(), nil)
		if err != nil {
			t.Error(err)
		}
		first <- string(code)
	}()
	<-src.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code, err := r.AppendKey(ctx, nil); !errors.Is(err, context.Canceled) || len(code) != 0 {
		t.Errorf("AppendKey with a cancelled context during a slow read = %q, %v, want context.Canceled", code, err)
	}
	close(src.gate)
	if code := <-first; code != "012" {
		t.Errorf("the waiting AppendKey = %q, want \"012\"", code)
	}
	if code, err := r.AppendKey(context.Background(), nil); err != nil || string(code) != "345" {
		t.Errorf("next AppendKey = %q, %v, want \"345\"", code, err)
	}
}
