package cli

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sessionkit/sessionkit"
)

// parseCreateLimit reads -create-limit, "RATE[,BURST]": sessions a second
// one client may create, and how many at once (the Manager's default when
// not given). "" is no limit.
func parseCreateLimit(s string) (*sessionkit.CreateLimit, error) {
	if s == "" {
		return nil, nil
	}
	rs, bs, hasBurst := strings.Cut(s, ",")
	r, err := strconv.ParseFloat(strings.TrimSpace(rs), 64)
	if err != nil || math.IsNaN(r) || r <= 0 || r > 1e6 {
		return nil, fmt.Errorf("-create-limit %q: the rate must be a number of sessions a second above 0, at most 1e6 (e.g. 0.5,10)", s)
	}
	l := &sessionkit.CreateLimit{Rate: r}
	if hasBurst {
		b, err := strconv.Atoi(strings.TrimSpace(bs))
		if err != nil || b < 1 || b > 1e6 {
			return nil, fmt.Errorf("-create-limit %q: the burst must be a whole number from 1 to 1e6", s)
		}
		l.Burst = b
	}
	return l, nil
}

// parsePrefixes reads a comma-separated list of CIDRs ("" is none).
func parsePrefixes(flagName, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for c := range strings.SplitSeq(s, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("bad -%s: %w", flagName, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
