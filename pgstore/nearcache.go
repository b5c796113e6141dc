package pgstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit/internal/retry"
	"github.com/sessionkit/sessionkit/internal/sqlcore"
)

// NearCache configures the near cache (Config.NearCache): sessions kept in
// the process and invalidated by PostgreSQL's LISTEN/NOTIFY. The zero value
// is the default; each field's comment states its default.
type NearCache struct {
	// MaxBytes bounds the size of the cached sessions (keys, values and
	// about 100 bytes per session); the oldest are evicted first.
	// Default 64 MiB.
	MaxBytes int64

	// TTL is how long a session is served from the cache before it is
	// read from the database again. Default 1 minute.
	TTL time.Duration

	// Heartbeat is how often the listener sends itself a notification
	// through the server, to learn that it still hears every commit.
	// Default 100 ms, or MaxLag/3 when that is shorter. It must be
	// shorter than MaxLag.
	Heartbeat time.Duration

	// MaxLag bounds the staleness of what the cache serves: it serves a
	// session only while the newest heartbeat that came back was sent
	// less than MaxLag ago, and is emptied when it is older or the
	// listener's connection fails. A read then reflects every commit
	// acknowledged more than MaxLag before it. Default 3 x Heartbeat.
	MaxLag time.Duration
}

// channel is the channel of the invalidations. A database's channels are
// shared by its schemas: a listener hears the sessions of every schema,
// and drops what it does not hold.
const channel = "sessionkit_sessions"

// heartbeatChannel is the channel of the heartbeats of the listener whose
// connection has the nonce: each listener LISTENs on its own, so that no
// listener receives the others' heartbeats. The server delivers the
// notifications of every channel in the order of the commits, so a
// heartbeat still comes back after every invalidation committed before it.
func heartbeatChannel(nonce uint64) string {
	return fmt.Sprintf("sessionkit_heartbeat_%016x", nonce)
}

// notifyFunction is the trigger function that notifies each write of a
// session's data or metadata, in the writing transaction: the hex of the
// row's id, a space and its new version; the id alone for a row deleted or
// moved to another id. A touch (only idle_deadline_ms changes) notifies
// nothing.
const notifyFunction = `CREATE OR REPLACE FUNCTION sessionkit_notify_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('` + channel + `', encode(OLD.id, 'hex'));
		RETURN NULL;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF OLD.id <> NEW.id THEN
			PERFORM pg_notify('` + channel + `', encode(OLD.id, 'hex'));
		END IF;
	END IF;
	PERFORM pg_notify('` + channel + `', encode(NEW.id, 'hex') || ' ' || NEW.version);
	RETURN NULL;
END $$`

// flushFunction is the trigger function that notifies a TRUNCATE: every
// near cache is emptied.
const flushFunction = `CREATE OR REPLACE FUNCTION sessionkit_notify_flush_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + channel + `', 'flush');
	RETURN NULL;
END $$`

// triggers are created once per schema, by the first store with a near
// cache; they stay, so that every process writing the table notifies,
// whether or not it keeps a near cache.
var triggers = []struct{ name, sql string }{
	{"sessionkit_notify_write", "CREATE TRIGGER sessionkit_notify_write AFTER INSERT OR DELETE ON " + sqlcore.Table +
		" FOR EACH ROW EXECUTE FUNCTION sessionkit_notify_v1()"},
	{"sessionkit_notify_update", "CREATE TRIGGER sessionkit_notify_update AFTER UPDATE ON " + sqlcore.Table +
		" FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version OR OLD.id IS DISTINCT FROM NEW.id)" +
		" EXECUTE FUNCTION sessionkit_notify_v1()"},
	{"sessionkit_notify_truncate", "CREATE TRIGGER sessionkit_notify_truncate AFTER TRUNCATE ON " + sqlcore.Table +
		" FOR EACH STATEMENT EXECUTE FUNCTION sessionkit_notify_flush_v1()"},
}

// triggerLockTimeout bounds the wait for the table's lock when the
// triggers are created: CREATE TRIGGER waits for the transactions writing
// the table, and every writer that comes after waits for it.
const triggerLockTimeout = "5s"

// installTriggers creates the notifying triggers that are missing, in the
// migration's transaction.
func installTriggers(ctx context.Context, tx pgx.Tx) error {
	var have int
	names := make([]string, len(triggers))
	for i, tr := range triggers {
		names[i] = tr.name
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = ANY($2)", sqlcore.Table, names).Scan(&have); err != nil {
		return err
	}
	if have == len(triggers) {
		return nil
	}
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+triggerLockTimeout+"'"); err != nil {
		return err
	}
	for _, f := range []string{notifyFunction, flushFunction} {
		if _, err := tx.Exec(ctx, f); err != nil {
			return fmt.Errorf("create the notifying functions: %w", err)
		}
	}
	for _, tr := range triggers {
		if _, err := tx.Exec(ctx, "DROP TRIGGER IF EXISTS "+tr.name+" ON "+sqlcore.Table); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, tr.sql); err != nil {
			return fmt.Errorf("create trigger %s: %w", tr.name, err)
		}
	}
	return nil
}

// A notification is one of:
//
//	<64 hex digits> <version>   a write moved the session to version
//	<64 hex digits>             the session was deleted or moved
//	flush                       the table was truncated
//	h <nonce> <seq>             heartbeat seq of the listener whose
//	                            connection drew the random nonce
type notification struct {
	heartbeat bool
	flush     bool
	id        [32]byte
	version   int64 // 0: deleted
	nonce     uint64
	seq       uint64
}

// String returns the notification's payload.
func (n notification) String() string {
	switch {
	case n.heartbeat:
		return "h " + strconv.FormatUint(n.nonce, 10) + " " + strconv.FormatUint(n.seq, 10)
	case n.flush:
		return "flush"
	case n.version == 0:
		return hex.EncodeToString(n.id[:])
	}
	return hex.EncodeToString(n.id[:]) + " " + strconv.FormatInt(n.version, 10)
}

// parseNotification parses a notification's payload; ok is false for
// anything else.
func parseNotification(p string) (n notification, ok bool) {
	if p == "flush" {
		return notification{flush: true}, true
	}
	if rest, isHB := strings.CutPrefix(p, "h "); isHB {
		nonce, seq, found := strings.Cut(rest, " ")
		if !found {
			return n, false
		}
		nv, err1 := strconv.ParseUint(nonce, 10, 64)
		sv, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 != nil || err2 != nil {
			return n, false
		}
		return notification{heartbeat: true, nonce: nv, seq: sv}, true
	}
	id, version, hasVersion := strings.Cut(p, " ")
	if len(id) != 64 {
		return n, false
	}
	if _, err := hex.Decode(n.id[:], []byte(id)); err != nil {
		return n, false
	}
	if hasVersion {
		v, err := strconv.ParseInt(version, 10, 64)
		if err != nil || v <= 0 {
			return n, false
		}
		n.version = v
	}
	return n, true
}

// listener is the one connection per store that LISTENs: it reports
// invalidations and heartbeats to the cache, and reconnects when its
// connection fails.
type listener struct {
	cfg    *pgx.ConnConfig
	cache  *sqlcore.Cache
	every  time.Duration // between heartbeats
	lag    time.Duration // MaxLag
	logf   func(msg string, args ...any)
	cancel context.CancelFunc
	done   chan struct{}
}

// reconnect spaces the listener's attempts to reconnect.
var reconnect = retry.Backoff{First: 10 * time.Millisecond, Max: time.Second}

// patience is how long the listener waits for a statement, or for one of
// its heartbeats to come back, before it gives up its connection and
// reconnects: a path that silently stopped delivering would otherwise hold
// it (and keep the cache empty) until TCP gives up, many minutes later.
func (l *listener) patience() time.Duration { return max(10*l.lag, time.Second) }

// run listens until ctx ends.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	for failures := 0; ; {
		start := time.Now()
		heard, err := l.session(ctx)
		l.cache.Down()
		if ctx.Err() != nil {
			return
		}
		// The backoff starts over only after a connection that
		// served a while: one killed at once, again and again, is
		// retried ever more slowly.
		if heard && time.Since(start) >= 5*l.every {
			failures = 0
		}
		failures++
		l.logf("pgstore: near cache listener: connection lost; cache emptied until it is back", "err", err)
		if reconnect.Wait(ctx, failures) != nil {
			return
		}
	}
}

// session runs one connection: LISTEN, then heartbeats and notifications
// until the connection fails or ctx ends. heard reports whether a
// heartbeat came back.
func (l *listener) session(ctx context.Context) (heard bool, err error) {
	patience := l.patience()
	sctx, cancel := context.WithTimeout(ctx, max(patience, 5*time.Second))
	defer cancel()
	conn, err := pgx.ConnectConfig(sctx, l.cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	nonce := rand.Uint64()
	hbChannel := heartbeatChannel(nonce)
	// The heartbeats need no durability.
	if _, err := conn.Exec(sctx, "SET synchronous_commit = off"); err != nil {
		return false, err
	}
	for _, c := range []string{channel, hbChannel} {
		if _, err := conn.Exec(sctx, "LISTEN "+c); err != nil {
			return false, err
		}
	}
	cancel()
	var sent [64]time.Time // by seq % 64
	var seq uint64
	next := time.Now()
	lastHeard := next // when one of ours last came back, or the start
	for {
		now := time.Now()
		if now.Sub(lastHeard) > patience {
			return heard, fmt.Errorf("no heartbeat came back for %v", now.Sub(lastHeard).Round(time.Millisecond))
		}
		if !now.Before(next) {
			seq++
			sent[seq%64] = now
			hctx, cancel := context.WithTimeout(ctx, patience)
			_, err := conn.Exec(hctx, "SELECT pg_notify($1, $2)", hbChannel, notification{heartbeat: true, nonce: nonce, seq: seq}.String())
			cancel()
			if err != nil {
				return heard, err
			}
			next = now.Add(l.every)
		}
		wctx, cancel := context.WithDeadline(ctx, next)
		msg, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed() {
				continue // time for the next heartbeat
			}
			return heard, err
		}
		n, ok := parseNotification(msg.Payload)
		switch {
		case !ok:
		case n.heartbeat:
			// A heartbeat of another connection, or one of ours too
			// old to be remembered, tells nothing.
			if msg.Channel == hbChannel && n.nonce == nonce && n.seq <= seq && seq-n.seq < uint64(len(sent)) {
				l.cache.Heard(sent[n.seq%64])
				lastHeard = time.Now()
				heard = true
			}
		case n.flush:
			l.cache.Flush()
		case n.version == 0:
			l.cache.Deleted(n.id)
		default:
			l.cache.Invalidate(n.id, n.version)
		}
	}
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}
