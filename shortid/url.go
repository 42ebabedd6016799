package shortid

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// urlPolicy is what validateURL enforces, taken from Options.
type urlPolicy struct {
	maxLen       int
	allowPrivate bool
	ownHosts     []string // normalized host names; a leading "." matches subdomains
}

// validateURL checks raw against the policy and returns its normalized form:
// lower-case scheme and host, no default port, no trailing dot on the host,
// numeric IPv4 hosts in dotted-decimal form, "/" for an empty path. The path,
// query and fragment are kept byte for byte. Every error wraps ErrInvalidURL.
func (p *urlPolicy) validateURL(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	if len(raw) > p.maxLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, p.maxLen)
	}
	if !utf8.ValidString(raw) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidURL)
	}
	for i := 0; i < len(raw); {
		// Browsers strip tabs and newlines anywhere in a URL and treat a
		// backslash as a slash, so "java\tscript:" and "http://a\@b" mean
		// something other than what a plain parser sees: refuse them all.
		c := raw[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f || c == '\\' {
				return "", fmt.Errorf("%w: control, space or backslash character %q", ErrInvalidURL, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(raw[i:])
		if err := checkRune(r); err != nil {
			return "", err
		}
		i += n
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return "", fmt.Errorf("%w: not absolute", ErrInvalidURL)
	}
	scheme = asciiLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%w: scheme %q not allowed", ErrInvalidURL, scheme)
	}
	if !strings.HasPrefix(rest, "//") {
		return "", fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	authority := rest[2:]
	tail := ""
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority, tail = authority[:i], authority[i:]
	}
	if strings.Contains(authority, "@") {
		return "", fmt.Errorf("%w: user information in the host", ErrInvalidURL)
	}
	if authority == "" {
		return "", fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if strings.Contains(authority, "%") {
		return "", fmt.Errorf("%w: percent-encoded host", ErrInvalidURL)
	}
	hostPart, port := authority, ""
	if authority[0] == '[' {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", fmt.Errorf("%w: unclosed [ in host", ErrInvalidURL)
		}
		hostPart, port = authority[1:end], authority[end+1:]
		if !strings.Contains(hostPart, ":") {
			return "", fmt.Errorf("%w: bad IPv6 host %q", ErrInvalidURL, hostPart)
		}
		if port != "" && port[0] != ':' {
			return "", fmt.Errorf("%w: junk after ]", ErrInvalidURL)
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.IndexByte(authority, ':'); i >= 0 {
		hostPart, port = authority[:i], authority[i+1:]
	}
	if strings.ContainsAny(hostPart, "[]") {
		return "", fmt.Errorf("%w: bracket in host", ErrInvalidURL)
	}
	host, err := p.normalizeHost(hostPart)
	if err != nil {
		return "", err
	}
	hadPort := port != ""
	if hadPort {
		if len(port) > 5 || !allDigits(port, 10) {
			return "", fmt.Errorf("%w: port %q", ErrInvalidURL, port)
		}
		n, _ := strconv.Atoi(port)
		if n == 0 || n > 65535 {
			return "", fmt.Errorf("%w: port %q", ErrInvalidURL, port)
		}
		port = strconv.Itoa(n) // drop leading zeros
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		}
	}
	if err := checkEscapes(tail); err != nil {
		return "", err
	}
	lowered := raw
	if raw[:len(scheme)] != scheme {
		lowered = scheme + raw[len(scheme):]
	}
	if p.isOwnHost(host) {
		return "", fmt.Errorf("%w: host %q is this shortener", ErrInvalidURL, host)
	}
	if tail == "" || tail[0] != '/' {
		tail = "/" + tail
	} else if !hadPort && len(lowered) == len(scheme)+3+len(host)+len(tail) &&
		lowered[len(scheme)+3:len(scheme)+3+len(host)] == host {
		return lowered, nil // already normal: keep the caller's string
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + 2 + 6 + len(tail))
	b.WriteString(scheme)
	b.WriteString("://")
	if strings.Contains(host, ":") {
		b.WriteByte('[')
		b.WriteString(host)
		b.WriteByte(']')
	} else {
		b.WriteString(host)
	}
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(tail)
	out := b.String()
	if len(out) > p.maxLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, p.maxLen)
	}
	return out, nil
}

// checkRune refuses the non-ASCII characters that a URL must not carry
// raw: C1 controls, Unicode spaces, and format characters (bidirectional
// overrides that make "moc.elgoog" read as "google.com", zero-width joiners).
func checkRune(r rune) error {
	if (r >= 0x80 && r <= 0x9f) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
		return fmt.Errorf("%w: control, space or format character %q", ErrInvalidURL, r)
	}
	return nil
}

// checkEscapes refuses a '%' not followed by two hex digits in the path or
// fragment of tail, as net/url does; the query is left as it is, since
// servers accept a stray '%' there.
func checkEscapes(tail string) error {
	path, frag, _ := strings.Cut(tail, "#")
	path, _, _ = strings.Cut(path, "?")
	for _, part := range [2]string{path, frag} {
		for i := 0; i < len(part); i++ {
			if part[i] == '%' && (i+2 >= len(part) || !isHex(part[i+1]) || !isHex(part[i+2])) {
				return fmt.Errorf("%w: bad escape in %q", ErrInvalidURL, part)
			}
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// normalizeHost lower-cases host, drops one
// trailing dot, turns every numeric IPv4 spelling browsers accept into
// dotted decimal, and refuses hosts that point back into private networks
// unless the policy allows them.
func (p *urlPolicy) normalizeHost(host string) (string, error) {
	if host == "" {
		return "", fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if strings.Contains(host, ":") { // IPv6 literal, without its brackets
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return "", fmt.Errorf("%w: bad IPv6 host %q", ErrInvalidURL, host)
		}
		if err := p.checkAddr(addr); err != nil {
			return "", err
		}
		return addr.String(), nil
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			// Browsers map Unicode host names to ASCII by IDNA (UTS #46),
			// which folds thousands of compatibility characters into
			// letters: "ˡocalhost" is localhost and "sʰo.rt" is sho.rt.
			// The standard library has no such mapping, so only the ASCII
			// form (punycode "xn--...") is accepted.
			return "", fmt.Errorf("%w: non-ASCII host %q (send internationalized names as punycode xn--)", ErrInvalidURL, host)
		}
	}
	host = asciiLower(host)
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return "", fmt.Errorf("%w: bad host length", ErrInvalidURL)
	}
	lastLabel := host[strings.LastIndexByte(host, '.')+1:]
	prev := byte('.')
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c == '.' {
			if prev == '.' {
				return "", fmt.Errorf("%w: empty label in host %q", ErrInvalidURL, host)
			}
		} else if !(c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			return "", fmt.Errorf("%w: character %q in host", ErrInvalidURL, c)
		}
		prev = c
	}
	if prev == '.' {
		return "", fmt.Errorf("%w: empty label in host %q", ErrInvalidURL, host)
	}
	// WHATWG URL: a host whose last label is a number is an IPv4 address,
	// written in any mix of decimal, 0x-hex and 0-octal parts.
	if looksNumeric(lastLabel) {
		addr, ok := parseWHATWGIPv4(strings.Split(host, "."))
		if !ok {
			return "", fmt.Errorf("%w: bad IPv4 host %q", ErrInvalidURL, host)
		}
		if err := p.checkAddr(addr); err != nil {
			return "", err
		}
		return addr.String(), nil
	}
	if !p.allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return "", fmt.Errorf("%w: host %q is loopback", ErrInvalidURL, host)
	}
	return host, nil
}

// asciiLower lower-cases the ASCII letters of s and nothing else:
// strings.ToLower would turn "İ" into "i̇" and the Kelvin sign into "k".
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// looksNumeric reports whether a host label is spelled as a number: the
// WHATWG "ends in a number" check.
func looksNumeric(label string) bool {
	if label == "" {
		return false
	}
	if allDigits(label, 10) {
		return true
	}
	return (strings.HasPrefix(label, "0x")) && allDigits(label[2:], 16)
}

func allDigits(s string, base int) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' && int(c-'0') < base:
		case base == 16 && c >= 'a' && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// parseWHATWGIPv4 parses 1-4 dot-separated numbers, each decimal, 0x-hex or
// 0-octal, the last one filling the remaining bytes, as browsers do: so
// 2130706433, 0x7f.1 and 0177.0.0.1 are all 127.0.0.1.
func parseWHATWGIPv4(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(labels))
	for i, l := range labels {
		base, digits := 10, l
		switch {
		case strings.HasPrefix(l, "0x"):
			base, digits = 16, l[2:]
		case len(l) > 1 && l[0] == '0':
			base, digits = 8, l[1:]
		}
		if digits == "" {
			nums[i] = 0 // "0x" alone is zero
			continue
		}
		n, err := strconv.ParseUint(digits, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := last
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Special-purpose IPv4 ranges that a public link has no business pointing
// into (RFC 6890 and its successors), beyond what netip's predicates cover.
var blockedV4 = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network": 0.0.0.0 reaches localhost on Linux
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
}

// IPv6 ranges that carry an IPv4 address in their low 32 bits.
var embedsV4 = [...]netip.Prefix{
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
}

// discardV6 is the IPv6 discard-only prefix (RFC 6666).
var discardV6 = netip.MustParsePrefix("100::/64")

// checkAddr refuses addresses inside private, loopback, link-local and
// other special networks unless the policy allows them.
func (p *urlPolicy) checkAddr(addr netip.Addr) error {
	if p.allowPrivate {
		return nil
	}
	if addr.IsLoopback() || addr.IsUnspecified() {
		// Before unwrapping ::/96, so that [::1] is reported as itself.
		return fmt.Errorf("%w: address %s is loopback or unspecified", ErrInvalidURL, addr)
	}
	if addr.Is6() {
		if addr.Is4In6() {
			addr = addr.Unmap()
		} else {
			for _, pre := range embedsV4 {
				if pre.Contains(addr) {
					b := addr.As16()
					addr = netip.AddrFrom4([4]byte(b[12:]))
					break
				}
			}
			if addr.Is6() {
				b := addr.As16()
				if b[0] == 0x20 && b[1] == 0x02 { // 6to4: 2002:V4ADDR::/48
					if err := p.checkAddr(netip.AddrFrom4([4]byte(b[2:6]))); err != nil {
						return err
					}
				}
			}
		}
	}
	bad := addr.IsLoopback() || addr.IsPrivate() || addr.IsUnspecified() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast()
	if addr.Is4() {
		for _, pre := range blockedV4 {
			bad = bad || pre.Contains(addr)
		}
	} else if addr.Is6() {
		b := addr.As16()
		bad = bad || (b[0] == 0xfe && b[1]&0xc0 == 0xc0) || // deprecated site-local fec0::/10
			(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) || // documentation 2001:db8::/32
			(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) || // Teredo 2001::/32
			discardV6.Contains(addr) // discard-only 100::/64
	}
	if bad {
		return fmt.Errorf("%w: address %s is private, loopback, link-local or reserved", ErrInvalidURL, addr)
	}
	return nil
}

// isOwnHost reports whether host is one of the shortener's own hosts.
func (p *urlPolicy) isOwnHost(host string) bool {
	for _, h := range p.ownHosts {
		if h == host || (h[0] == '.' && (strings.HasSuffix(host, h) || host == h[1:])) {
			return true
		}
	}
	return false
}

// normalizeOwnHost turns an Options.OwnHosts entry ("Sho.rt", "sho.rt:443",
// "[::1]:8080", "*.sho.rt" or ".sho.rt") into the form isOwnHost compares
// with: a normalized host name, with a leading "." to match subdomains too.
func normalizeOwnHost(h string) (string, error) {
	sub := false
	switch {
	case strings.HasPrefix(h, "*."):
		sub, h = true, h[2:]
	case strings.HasPrefix(h, "."):
		sub, h = true, h[1:]
	}
	u, err := url.Parse("http://" + h + "/")
	if err != nil || u.User != nil || u.Path != "/" {
		return "", fmt.Errorf("%w: own host %q", ErrInvalidURL, h)
	}
	open := &urlPolicy{allowPrivate: true}
	n, err := open.normalizeHost(u.Hostname())
	if err != nil {
		return "", err
	}
	if sub {
		n = "." + n
	}
	return n, nil
}
