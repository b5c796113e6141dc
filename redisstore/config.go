package redisstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessionkit/sessionkit/internal/redact"
)

// Config configures a Store. Its zero value connects to a standalone Redis
// on 127.0.0.1:6379 with the defaults below.
type Config struct {
	// URL names the Redis deployment, parsed by rueidis.ParseURL:
	//
	//	redis://[user:password@]host:port[/db]       standalone
	//	redis://host:port?master_set=NAME&addr=h2:p2  Sentinel: the sentinels' addresses and the master set
	//	redis://host:port?addr=h2:p2&addr=h3:p3       Redis Cluster: several nodes (one is enough to discover the rest)
	//	rediss://...                                  the same over TLS
	//
	// Query parameters dial_timeout and write_timeout override
	// DialTimeout and WriteTimeout. Default "redis://127.0.0.1:6379".
	URL string

	// Options, when not nil, are used instead of URL, for settings a URL
	// cannot express. The timeouts below still apply where Options leaves
	// them zero, and the store always sets the client-side caching fields
	// itself.
	Options *rueidis.ClientOption

	// Prefix starts the name of every key the store writes, so that
	// several applications can share one Redis. A prefix holding a hash
	// tag ("{app}:") would put every key in one Cluster slot: don't.
	// Default "sessionkit:".
	Prefix string

	// DialTimeout bounds a connection attempt. Default 2 s.
	DialTimeout time.Duration

	// WriteTimeout bounds how long a connection may wait for Redis to
	// read a request or answer it before the connection is closed and its
	// calls fail (rueidis ConnWriteTimeout; it also paces the keep-alive
	// PINGs). Default 2 s.
	WriteTimeout time.Duration

	// OpTimeout bounds each store call when the caller's context has no
	// earlier deadline. Default 2 s.
	OpTimeout time.Duration

	// UpdateAttempts is how many compare-and-set attempts Update makes
	// before it gives up with sessionkit.ErrConflict. Attempts after the
	// first wait a jittered, growing delay (up to 20 ms). Default 100,
	// enough for 50 concurrent updates of one key to all land.
	UpdateAttempts int

	// WaitReplicas, when positive, makes every write wait until that many
	// replicas have acknowledged it (Redis WAIT) before it returns;
	// a write they don't acknowledge within WaitTimeout fails with
	// ErrNotReplicated (the primary may still hold it). Replication is
	// asynchronous otherwise, so a failover can lose writes the store
	// already acknowledged. Default 0: don't wait.
	WaitReplicas int

	// WaitTimeout bounds the wait for WaitReplicas. Default 1 s.
	WaitTimeout time.Duration

	// NearCache, when not nil, serves loads from a cache in this process
	// kept correct by Redis server-assisted client-side caching. Default
	// nil: every load is a round trip.
	NearCache *NearCache

	// Logger receives the warnings of the expiry subscriptions (see
	// Store.NotifyExpired). Default slog.Default().
	Logger *slog.Logger
}

// NearCache configures the near cache: an in-process copy of recent
// sessions, which Redis invalidates (RESP3 client tracking) whenever any
// other client changes them. A hit costs no round trip.
//
// On a standalone server or a Sentinel group the store keeps the cache
// itself: each entry carries the session's version, loads fill it, and so
// do the replies of the store's own writes, so a request whose session is
// cached loads it for free and commits in one round trip. On Redis
// Cluster loads go through rueidis's client-side cache instead, which only
// loads fill, and the store's own writes bypass it for WriteBypass.
//
// Invalidations travel asynchronously: after a write through another node,
// this node may serve the previous version for a short window (see the
// package documentation). Writes through this store are always seen by
// its own next load.
//
// A record Store.Load returns from the cache shares its Values with the
// cache: it must not be modified (the sessionkit.Manager never does).
// The cache's tracking connection and its invalidation connection are
// taken from the client's pool of dedicated connections (rueidis
// ClientOption.BlockingPoolSize); a request that must open them while
// that pool is exhausted waits no longer than its context allows
// (OpTimeout), and fails.
type NearCache struct {
	// TTL bounds how long a loaded session is served from the cache
	// without asking Redis, even if no invalidation arrives (a lost
	// connection flushes the cache in any case). Default 1 minute.
	TTL time.Duration

	// SizeBytes bounds the cache's size: its keys and values, plus a
	// fixed overhead per entry; the least recently used entries go
	// first. On Redis Cluster it bounds the cache of each connection
	// (rueidis CacheSizeEachConn). Default 64 MiB.
	SizeBytes int

	// WriteBypass, on Redis Cluster only, is how long after this store
	// writes a session its loads of that session bypass the cache, so
	// that a load right after a write never races the write's own
	// invalidation. Default 1 s.
	WriteBypass time.Duration
}

const (
	defaultURL            = "redis://127.0.0.1:6379"
	defaultPrefix         = "sessionkit:"
	defaultTimeout        = 2 * time.Second
	defaultUpdateAttempts = 100
	defaultWaitTimeout    = time.Second
	defaultCacheTTL       = time.Minute
	defaultCacheSize      = 64 << 20
	defaultWriteBypass    = time.Second
)

func (c *Config) setDefaults() {
	if c.URL == "" {
		c.URL = defaultURL
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = defaultTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultTimeout
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = defaultTimeout
	}
	if c.UpdateAttempts <= 0 {
		c.UpdateAttempts = defaultUpdateAttempts
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = defaultWaitTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if nc := c.NearCache; nc != nil {
		n := *nc
		if n.TTL <= 0 {
			n.TTL = defaultCacheTTL
		}
		if n.SizeBytes <= 0 {
			n.SizeBytes = defaultCacheSize
		}
		if n.WriteBypass <= 0 {
			n.WriteBypass = defaultWriteBypass
		}
		c.NearCache = &n
	}
}

// clientOptions builds the rueidis options from the configuration.
func (c *Config) clientOptions() (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	if c.Options != nil {
		opt = *c.Options
	} else {
		var err error
		if opt, err = rueidis.ParseURL(c.URL); err != nil {
			// A *url.Error repeats the URL, password and all.
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				err = ue.Err
			}
			return opt, fmt.Errorf("redisstore: URL %q: %w", redact.URL(c.URL), err)
		}
	}
	if opt.Dialer.Timeout <= 0 {
		opt.Dialer.Timeout = c.DialTimeout
	}
	if opt.Sentinel.Dialer.Timeout <= 0 {
		opt.Sentinel.Dialer.Timeout = c.DialTimeout
	}
	if opt.ConnWriteTimeout <= 0 {
		opt.ConnWriteTimeout = c.WriteTimeout
	}
	if opt.Sentinel.MasterSet != "" && opt.Sentinel.TopologyRefreshInterval == 0 {
		// Without it a missed +switch-master event would keep the client
		// on a demoted primary.
		opt.Sentinel.TopologyRefreshInterval = 2 * time.Second
	}
	if opt.RetryDelay == nil {
		// rueidis retries read-only commands on network errors; keep it
		// to two quick retries, so that an outage fails fast instead of
		// holding every request until its deadline.
		opt.RetryDelay = func(attempts int, _ rueidis.Completed, _ error) time.Duration {
			if attempts >= 2 {
				return -1
			}
			return time.Duration(attempts+1) * 5 * time.Millisecond
		}
	}
	// rueidis's client-side cache serves only Redis Cluster (New turns it
	// on when the client turns out to be one): elsewhere the store keeps
	// its own near cache, and rueidis's would only cost a cache and a
	// CLIENT TRACKING on every connection.
	opt.DisableCache = true
	if c.NearCache != nil {
		opt.CacheSizeEachConn = c.NearCache.SizeBytes
	}
	return opt, nil
}
